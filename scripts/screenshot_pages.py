"""Screenshots of the pages of `preflight serve` (the chat page at / and the report at
/report), at a desktop's and a phone's width, for the README: headless Chromium from the
distribution's packages (apt-get install chromium chromium-driver; pip install selenium).

    python scripts/screenshot_pages.py                  # the tiny random test model, built here
    python scripts/screenshot_pages.py --model DIR      # a real one (served on this machine)

Writes docs/images/{chat,report}-{desktop,phone}.png. With the tiny model the answer is random
text: the weights are random."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from browser.chromium import missing, resize_viewport, start  # noqa: E402
from support.serving import ServeProcess  # noqa: E402
from support.tiny_model import build_tiny_model  # noqa: E402

SIZES = {"desktop": (1280, 860), "phone": (390, 844)}
MESSAGE = "Write a function that adds two numbers."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model directory (default: the tiny random test model)")
    parser.add_argument("--profile", default="vibethinker", help="serve --profile (default: vibethinker)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--max-tokens", default="40")
    args = parser.parse_args()
    reason = missing()
    if reason:
        print(f"screenshot_pages: {reason}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        model = args.model or build_tiny_model(Path(scratch) / "tiny-qwen2")
        server = ServeProcess(model, "--profile", args.profile, log=Path(scratch) / "serve.log")
        try:
            server.wait_until_ready(timeout=600)
            browser = start(*SIZES["desktop"])
            try:
                for size, (width, height) in SIZES.items():
                    resize_viewport(browser, width, height)
                    chat(browser, server.url, args.max_tokens, args.out / f"chat-{size}.png")
                    report(browser, server.url, args.out / f"report-{size}.png")
            finally:
                browser.quit()
        finally:
            server.stop()
    for path in sorted(args.out.glob("*.png")):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")
    return 0


def wait(browser, condition, timeout: float = 300) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout, poll_frequency=0.1).until(lambda _: condition())


def chat(browser, url: str, max_tokens: str, path: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    browser.get(url + "/")
    wait(browser, lambda: browser.find_element("id", "system-prompt").get_property("value") != "")
    browser.find_element("css selector", "#settings-box summary").click()
    field = browser.find_element("id", "max-tokens")
    field.clear()
    field.send_keys(max_tokens)
    browser.find_element("id", "prompt").send_keys(MESSAGE, Keys.ENTER)
    wait(browser, lambda: browser.find_elements("css selector", "article.assistant[data-finish]"))
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(path))


def report(browser, url: str, path: Path) -> None:
    browser.get(url + "/report")
    wait(browser, lambda: browser.execute_script("return document.getElementById('report').ariaBusy") == "false")
    browser.save_screenshot(str(path))


if __name__ == "__main__":
    sys.exit(main())
