// Shared by the chat and report pages: the API key (kept in this tab's sessionStorage, sent
// as "Authorization: Bearer"), calls to this server, and its errors as one readable line.
// Model and server text is only ever put on the page with textContent, never as HTML.
"use strict";

const Preflight = (() => {
  const KEY_NAME = "preflight.apiKey";

  function apiKey() {
    try {
      return sessionStorage.getItem(KEY_NAME) || "";
    } catch (_) {
      return "";
    }
  }

  function setApiKey(value) {
    try {
      if (value) sessionStorage.setItem(KEY_NAME, value);
      else sessionStorage.removeItem(KEY_NAME);
    } catch (_) {
      /* storage refused (private mode): the key lives for this page only */
    }
  }

  function headers(extra) {
    const result = Object.assign({ Accept: "application/json" }, extra || {});
    const key = apiKey();
    if (key) result.Authorization = "Bearer " + key;
    return result;
  }

  // A failed response as one sentence a person can act on.
  async function describeFailure(response) {
    let message = "";
    try {
      const body = await response.json();
      if (body && body.error && typeof body.error.message === "string") message = body.error.message;
    } catch (_) {
      /* not JSON */
    }
    if (response.status === 401) {
      return (
        "The server refused the API key (401). Enter the key this server was started with " +
        "(--api-key) in the API key field." + (message ? " Server: " + message : "")
      );
    }
    if (response.status === 503) {
      return "The server is not ready yet (503): " + (message || "try again in a moment.");
    }
    return "The server answered " + response.status + ": " + (message || response.statusText || "no details.");
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: headers(), cache: "no-store" });
    if (!response.ok) throw new Error(await describeFailure(response));
    return response.json();
  }

  function showError(element, text) {
    element.textContent = text || "";
    element.hidden = !text;
  }

  // <tag class=...>text</tag>, text set as text.
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  return { apiKey, setApiKey, headers, describeFailure, getJson, showError, el };
})();
