// The chat page: sends the conversation to /v1/chat/completions with stream=true and shows
// the answer as it arrives, the model's reasoning (reasoning_content) folded in a <details>
// block apart from it. The system prompt, temperature and max tokens start from the server's
// own (GET /preflight) and can be changed here.
"use strict";

(() => {
  const { el, showError, describeFailure } = Preflight;
  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"),
    error: $("error"),
    log: $("log"),
    form: $("composer"),
    prompt: $("prompt"),
    send: $("send"),
    stop: $("stop"),
    settings: $("settings-box"),
    system: $("system-prompt"),
    systemHint: $("system-hint"),
    temperature: $("temperature"),
    maxTokens: $("max-tokens"),
    maxHint: $("max-hint"),
    key: $("api-key"),
    clear: $("clear"),
  };
  const history = []; // {role, content}: what the model is sent next time (answers without reasoning)
  let running = null; // the AbortController of the answer being streamed

  // ---- the server's defaults -------------------------------------------------------------
  async function loadDefaults() {
    let report;
    try {
      report = await Preflight.getJson("/preflight");
    } catch (failure) {
      showError(ui.error, failure.message);
      ui.systemHint.textContent = "(the server's default could not be read)";
      if (/\(401\)/.test(failure.message)) {
        ui.settings.open = true;
        ui.key.focus();
      }
      return;
    }
    showError(ui.error, "");
    const serve = report.serve || {};
    const profile = serve.profile || {};
    if (!ui.system.dataset.edited) ui.system.value = serve.system_prompt || "";
    ui.systemHint.textContent = serve.system_prompt
      ? "(the server's default, from the " + (profile.id || "model's") + " profile; edit it here; left empty, the server sends its default)"
      : "(the server sets none; anything typed here is sent as the system message)";
    const sampling = profile.sampling || {};
    if (ui.temperature.value === "" && typeof sampling.temperature === "number") {
      ui.temperature.value = String(sampling.temperature);
    }
    const context = serve.settings && serve.settings.max_context;
    if (typeof context === "number") ui.maxTokens.max = String(context);
    const fallback = profile.max_new_tokens ? "up to " + profile.max_new_tokens : "the rest of the context";
    ui.maxHint.textContent =
      "empty: the server's default (" + fallback + (context ? ", context " + context + " tokens" : "") + ")";
  }

  async function pollReady() {
    try {
      const response = await fetch("/ready", { cache: "no-store" });
      const body = await response.json();
      if (response.ok) {
        ui.status.textContent = "ready: " + body.model;
        ui.status.dataset.state = "ready";
        return;
      }
      ui.status.textContent = body.status === "failed" ? "the model failed to load" : "loading the model…";
      ui.status.dataset.state = body.status;
      if (body.status === "failed") return;
    } catch (_) {
      ui.status.textContent = "server unreachable";
      ui.status.dataset.state = "down";
    }
    setTimeout(pollReady, 2000);
  }

  // ---- streaming ---------------------------------------------------------------------------
  // Server-sent events from a fetch response: each "data:" payload, as text.
  async function* events(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        if (data) yield data;
      }
    }
  }

  function request(messages) {
    const body = { messages, stream: true, stream_options: { include_usage: true } };
    const temperature = parseFloat(ui.temperature.value);
    if (Number.isFinite(temperature)) body.temperature = temperature;
    const maxTokens = parseInt(ui.maxTokens.value, 10);
    if (Number.isFinite(maxTokens) && maxTokens > 0) body.max_tokens = maxTokens;
    return body;
  }

  function addTurn(kind, text) {
    const turn = $("turn-" + kind).content.firstElementChild.cloneNode(true);
    if (text !== undefined) turn.querySelector(".text").textContent = text;
    ui.log.appendChild(turn);
    return turn;
  }

  function setRunning(controller) {
    running = controller;
    ui.send.hidden = !!controller;
    ui.stop.hidden = !controller;
    ui.log.setAttribute("aria-busy", controller ? "true" : "false");
  }

  async function send() {
    const text = ui.prompt.value.trim();
    if (!text || running) return;
    showError(ui.error, "");
    ui.prompt.value = "";
    addTurn("user", text);
    history.push({ role: "user", content: text });
    const system = ui.system.value.trim();
    const messages = (system ? [{ role: "system", content: system }] : []).concat(history);

    const turn = addTurn("assistant");
    const answer = turn.querySelector(".answer");
    const reasoningBox = turn.querySelector(".reasoning");
    const reasoning = reasoningBox.querySelector(".text");
    const meta = turn.querySelector(".meta");
    const controller = new AbortController();
    setRunning(controller);
    let content = "";
    let finish = null;
    let usage = null;
    try {
      const response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: Preflight.headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
        body: JSON.stringify(request(messages)),
        signal: controller.signal,
      });
      if (!response.ok) throw new Error(await describeFailure(response));
      for await (const data of events(response)) {
        if (data === "[DONE]") break;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error("The answer failed: " + chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices && chunk.choices[0];
        if (!choice) continue;
        const delta = choice.delta || {};
        if (delta.reasoning_content) {
          reasoningBox.hidden = false;
          reasoning.textContent += delta.reasoning_content;
        }
        if (delta.content) {
          content += delta.content;
          answer.textContent = content;
        }
        if (choice.finish_reason) finish = choice.finish_reason;
        ui.log.scrollTop = ui.log.scrollHeight;
      }
    } catch (failure) {
      if (failure.name === "AbortError") {
        finish = "stopped";
      } else {
        showError(ui.error, failure.message);
        finish = "error";
      }
    } finally {
      setRunning(null);
    }
    if (content) history.push({ role: "assistant", content });
    else if (finish === "error") history.pop(); // the question was not answered: not part of the conversation
    const parts = [];
    if (finish) parts.push(finish === "length" ? "stopped at max tokens" : finish);
    if (usage) parts.push(usage.completion_tokens + " tokens");
    meta.textContent = parts.join(" · ");
    turn.dataset.finish = finish || "";
    ui.prompt.focus();
  }

  // ---- wiring --------------------------------------------------------------------------------
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  ui.prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  ui.stop.addEventListener("click", () => running && running.abort());
  ui.system.addEventListener("input", () => {
    ui.system.dataset.edited = "1";
  });
  ui.key.value = Preflight.apiKey();
  ui.key.addEventListener("change", () => {
    Preflight.setApiKey(ui.key.value.trim());
    loadDefaults();
  });
  ui.clear.addEventListener("click", () => {
    history.length = 0;
    ui.log.replaceChildren();
    showError(ui.error, "");
    ui.prompt.focus();
  });

  pollReady();
  loadDefaults();
  ui.prompt.focus();
})();
