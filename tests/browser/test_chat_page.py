"""The chat and report pages in a real browser (headless Chromium): a person types a message,
presses Enter and sees the answer arrive as it is generated, the model's reasoning folded
apart, the server's system prompt, a clear message for a wrong API key, and the preflight
report; readable at a phone's width."""

from __future__ import annotations

import httpx
import pytest

from gpu_preflight.serve.data import find_profile

from browser.chromium import resize_viewport
from browser.servers import API_KEY, stub_server
from support.serving import FakeEngine

TIMEOUT = 60  # seconds for the page to show what the server sent (two shared CPU cores)


def wait(browser, condition, timeout: float = TIMEOUT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout, poll_frequency=0.05).until(lambda _: condition())


def text_of(browser, selector: str) -> str:
    return browser.execute_script(
        "const node = document.querySelector(arguments[0]); return node ? node.textContent : null;", selector
    )


def open_chat(browser, url: str, key: str | None = None) -> None:
    browser.get(url + "/")
    browser.execute_script("sessionStorage.clear()")
    browser.get(url + "/")
    if key is not None:
        enter_key(browser, key)


def enter_key(browser, key: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = browser.find_element("id", "settings-box")
    if not box.get_property("open"):
        box.find_element("tag name", "summary").click()
    field = browser.find_element("id", "api-key")
    field.clear()
    field.send_keys(key, Keys.TAB)  # the change event stores it and reloads the server's defaults


def set_field(browser, id: str, value: str) -> None:
    box = browser.find_element("id", "settings-box")
    if not box.get_property("open"):
        box.find_element("tag name", "summary").click()
    field = browser.find_element("id", id)
    field.clear()
    field.send_keys(value)


def say(browser, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    prompt = browser.find_element("id", "prompt")
    prompt.send_keys(text, Keys.ENTER)


def finished_turns(browser) -> int:
    return browser.execute_script("return document.querySelectorAll('article.assistant[data-finish]').length")


def test_the_page_shows_the_system_prompt_in_use_once_the_key_is_given(browser, served):
    open_chat(browser, served.url)
    error = wait(browser, lambda: text_of(browser, "#error") or None)
    assert "API key" in error and "401" in error  # /preflight needs the key; the page says so
    assert browser.switch_to.active_element.get_attribute("id") == "api-key"
    enter_key(browser, API_KEY)
    vibethinker = find_profile("vibethinker")
    assert vibethinker is not None and vibethinker.system_prompt
    wait(
        browser, lambda: browser.find_element("id", "system-prompt").get_property("value") == vibethinker.system_prompt
    )
    assert browser.find_element("id", "temperature").get_property("value") == "0.6"  # the profile's sampling
    assert not browser.find_element("id", "error").is_displayed()


def test_a_wrong_key_is_a_clear_message_and_nothing_is_answered(browser, served):
    open_chat(browser, served.url, key="not-the-key")
    say(browser, "hello world")
    wait(browser, lambda: finished_turns(browser) == 1)
    error = text_of(browser, "#error")
    assert "refused the API key (401)" in error and "--api-key" in error
    assert text_of(browser, "article.assistant .answer") == ""
    assert browser.find_element("id", "error").is_displayed()


def test_a_message_streams_the_models_answer(browser, served):
    open_chat(browser, served.url, key=API_KEY)
    vibethinker = find_profile("vibethinker")
    assert vibethinker is not None
    wait(browser, lambda: browser.find_element("id", "system-prompt").get_property("value") != "")
    set_field(browser, "temperature", "0")
    set_field(browser, "max-tokens", "24")
    browser.execute_script(  # count the answer's updates: streamed text arrives in many
        "window.updates = 0; new MutationObserver(() => window.updates++)"
        ".observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true});"
    )
    say(browser, "hello world")
    wait(browser, lambda: finished_turns(browser) == 1)
    assert text_of(browser, "article.user .text") == "hello world"

    # The same request through the API, greedy: the page shows exactly what the model generated.
    messages = [{"role": "system", "content": vibethinker.system_prompt}, {"role": "user", "content": "hello world"}]
    reply = httpx.post(
        f"{served.url}/v1/chat/completions",
        json={"messages": messages, "temperature": 0, "max_tokens": 24},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=TIMEOUT,
    ).json()
    message = reply["choices"][0]["message"]
    shown = text_of(browser, "article.assistant .answer")
    assert shown == (message["content"] or "")
    assert text_of(browser, "article.assistant .reasoning .text") == (message.get("reasoning_content") or "")
    assert reply["usage"]["completion_tokens"] > 1 and shown + text_of(browser, "article.assistant .reasoning .text")
    assert browser.execute_script("return window.updates") > 2
    meta = text_of(browser, "article.assistant .meta")
    assert f"{reply['usage']['completion_tokens']} tokens" in meta
    assert browser.switch_to.active_element.get_attribute("id") == "prompt"  # ready for the next message
    assert not browser.find_element("id", "error").is_displayed()


def test_the_answer_appears_as_generated_with_reasoning_folded_and_never_as_html(browser):
    from selenium.webdriver.common.keys import Keys

    thinking, answer = "<think>weigh it</think>", "Hi <b>there</b><img src=x>"
    engine = FakeEngine(thinking + answer, stepwise=True)  # one character per token, each released here
    with stub_server(engine) as url:
        open_chat(browser, url)
        prompt = browser.find_element("id", "prompt")
        prompt.send_keys("first line", Keys.SHIFT, Keys.ENTER, Keys.SHIFT, "second line")
        assert prompt.get_property("value") == "first line\nsecond line" and finished_turns(browser) == 0
        prompt.send_keys(Keys.ENTER)
        wait(browser, lambda: text_of(browser, "article.user .text") == "first line\nsecond line")

        engine.step.release(len(thinking) + 2)  # the reasoning and "Hi": the rest is held back
        wait(browser, lambda: text_of(browser, "article.assistant .answer") == "Hi")
        reasoning = browser.find_element("css selector", "article.assistant details.reasoning")
        assert reasoning.is_displayed() and not reasoning.get_property("open")  # folded, apart from the answer
        assert text_of(browser, "article.assistant .reasoning .text") == "weigh it"
        assert browser.find_element("id", "stop").is_displayed() and finished_turns(browser) == 0

        engine.step.release(len(answer))
        wait(browser, lambda: finished_turns(browser) == 1)
        assert text_of(browser, "article.assistant .answer") == answer
        assert browser.find_elements("css selector", "#log b, #log img") == []  # model text is text, not markup
        assert text_of(browser, "article.assistant .meta").startswith("stop")
        reasoning.find_element("tag name", "summary").click()
        assert reasoning.get_property("open")


def test_the_report_page_renders_the_preflight_document(browser, served):
    browser.get(served.url + "/report")
    browser.execute_script("sessionStorage.clear()")
    browser.get(served.url + "/report")
    wait(browser, lambda: browser.find_element("id", "keyform").is_displayed())
    assert "401" in text_of(browser, "#error")
    browser.find_element("id", "api-key").send_keys(API_KEY)
    browser.find_element("css selector", "#keyform button").click()
    wait(browser, lambda: browser.execute_script("return document.getElementById('report').ariaBusy") == "false")

    document = httpx.get(f"{served.url}/preflight", headers={"Authorization": f"Bearer {API_KEY}"}).json()
    page = text_of(browser, "#content")
    assert text_of(browser, ".verdict .badge") == document["status"]
    for finding in document["findings"]:
        assert finding["title"] in page
    settings = document["serve"]["settings"]
    rows = {
        row.find_element("tag name", "th").text: row.find_element("css selector", "td .value").text
        for row in browser.find_elements("css selector", "#settings-title ~ table tbody tr")
    }
    assert rows["max context (tokens)"] == str(settings["max_context"]) and rows["dtype"] == settings["dtype"]
    assert settings["why"]["max_context"] in page  # each derived setting with its reason
    assert document["serve"]["system_prompt"] in page and document["serve"]["engine"] in page
    assert not browser.find_element("id", "error").is_displayed()


def test_stop_ends_the_answer_and_the_generation(browser):
    engine = FakeEngine("a long answer " * 50, stepwise=True)
    with stub_server(engine) as url:
        open_chat(browser, url)
        say(browser, "go")
        engine.step.release(3)
        wait(browser, lambda: text_of(browser, "article.assistant .answer") == "a l")
        browser.find_element("id", "stop").click()
        wait(browser, lambda: finished_turns(browser) == 1)
        assert text_of(browser, "article.assistant .meta") == "stopped"

        def server_stopped() -> bool:  # the server sees the closed connection at its next write
            engine.step.release(1)
            return [o.finish_reason for o in engine.outcomes] == ["cancelled"]

        wait(browser, server_stopped)
        assert browser.find_element("id", "send").is_displayed()


@pytest.mark.parametrize("path", ["/", "/report"])
def test_pages_fit_a_phones_width(browser, path):
    with stub_server(FakeEngine("ok")) as url:
        resize_viewport(browser, 390, 844)
        try:
            browser.get(url + path)
            wait(browser, lambda: browser.execute_script("return document.readyState") == "complete")
            width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1] == 390, width  # no sideways scrolling
            send = browser.find_elements("id", "send")
            if send:
                assert send[0].is_displayed() and send[0].rect["x"] + send[0].rect["width"] <= 390
        finally:
            browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
