// The report page: GET /preflight (the doctor report this server was gated on, plus its
// "serve" section: engine, derived settings with their reasons, request defaults) laid out for
// a person. Fields this page does not know are still shown (as rows, or in the full document).
"use strict";

(() => {
  const { el, showError } = Preflight;
  const $ = (id) => document.getElementById(id);
  const content = $("content");
  const SEVERITY_ORDER = { fail: 0, warn: 1, info: 2, pass: 3 };
  const SERVE_SHOWN = new Set(["schema", "settings", "profile", "system_prompt", "warnings", "command"]);

  function text(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function bytes(value) {
    return typeof value === "number" ? (value / 2 ** 30).toFixed(2) + " GiB" : text(value);
  }

  function section(title, id) {
    const box = el("section", "card");
    box.setAttribute("aria-labelledby", id);
    const heading = el("h2", null, title);
    heading.id = id;
    box.appendChild(heading);
    content.appendChild(box);
    return box;
  }

  // rows: [label, value, why?]; the why (a derived setting's reason) goes under its value.
  function table(parent, caption, rows) {
    const grid = el("table", "kv");
    grid.appendChild(el("caption", "visually-hidden", caption));
    const body = grid.createTBody();
    for (const [label, value, why] of rows) {
      const row = body.insertRow();
      const th = el("th", null, label);
      th.scope = "row";
      row.appendChild(th);
      const cell = el("td");
      cell.appendChild(el("span", "value", text(value)));
      if (why) cell.appendChild(el("div", "why", why));
      row.appendChild(cell);
    }
    parent.appendChild(grid);
    return grid;
  }

  function list(parent, items, className) {
    const ul = el("ul", className);
    for (const item of items) ul.appendChild(el("li", null, text(item)));
    parent.appendChild(ul);
    return ul;
  }

  function summary(report, serve) {
    const box = section("Summary", "summary-title");
    const status = el("p", "verdict");
    status.appendChild(el("span", "badge " + (report.status || "unknown"), report.status || "unknown"));
    status.appendChild(
      document.createTextNode(
        serve.refused
          ? " the gate refused to serve this model here"
          : " serving " + text(serve.served_model_name || serve.model) + " with the " + text(serve.engine) + " engine"
      )
    );
    box.appendChild(status);
    const rows = [
      ["model", serve.model],
      ["served as", serve.served_model_name],
      ["engine", serve.engine],
      ["address", serve.url],
    ];
    for (const [key, value] of Object.entries(serve)) {
      if (!SERVE_SHOWN.has(key) && !["model", "served_model_name", "engine", "url"].includes(key)) {
        rows.push([key.replace(/_/g, " "), value]);
      }
    }
    table(box, "What is served", rows);
    if (serve.warnings && serve.warnings.length) list(box, serve.warnings, "warnings");
  }

  function settings(serve) {
    const s = serve.settings;
    if (!s) return;
    const box = section("Derived settings", "settings-title");
    const why = s.why || {};
    const rows = [
      ["device", s.device, why.device],
      ["dtype", s.dtype, why.dtype],
      ["max context (tokens)", s.max_context, why.max_context],
      ["memory share", s.memory_share, why.memory_share],
      ["GPU", s.gpu ? s.gpu.index + ": " + s.gpu.name + " (compute " + s.gpu.compute_capability + ")" : null, why.gpu],
      ["memory budget", bytes(s.budget_bytes), why.budget_bytes],
      ["memory planned", bytes(s.planned_bytes), why.planned_bytes],
    ];
    const known = new Set(["device", "dtype", "max_context", "memory_share", "gpu", "budget_bytes", "planned_bytes", "why"]);
    for (const [key, value] of Object.entries(s)) {
      if (!known.has(key)) rows.push([key.replace(/_/g, " "), value, why[key]]);
    }
    table(box, "Derived settings and why", rows);
  }

  function defaults(serve) {
    const profile = serve.profile || {};
    const box = section("Request defaults", "defaults-title");
    const sampling = profile.sampling || {};
    table(box, "Request defaults", [
      ["profile", profile.id],
      ["source", profile.source],
      ["temperature", sampling.temperature],
      ["top_p", sampling.top_p],
      ["top_k", sampling.top_k === 0 ? "off" : sampling.top_k],
      ["max new tokens", profile.max_new_tokens === null ? "the rest of the context" : profile.max_new_tokens],
    ]);
    box.appendChild(el("h3", null, "System prompt"));
    box.appendChild(el("pre", "prompt", serve.system_prompt || "(none)"));
    if (serve.command) {
      box.appendChild(el("h3", null, "Engine command"));
      box.appendChild(el("pre", null, Array.isArray(serve.command) ? serve.command.join(" ") : text(serve.command)));
    }
  }

  function finding(item) {
    const box = el("details", "finding " + item.severity);
    box.open = item.severity === "fail" || item.severity === "warn";
    const head = el("summary");
    head.appendChild(el("span", "badge " + item.severity, item.severity));
    head.appendChild(document.createTextNode(" " + item.title));
    box.appendChild(head);
    const facts = [["code", item.code]];
    if (item.cause) facts.push(["cause", item.cause]);
    if (item.device !== null && item.device !== undefined) facts.push(["device", item.device]);
    table(box, "Finding " + item.code, facts);
    if (item.detail) box.appendChild(el("p", null, item.detail));
    const evidence = Object.entries(item.evidence || {});
    if (evidence.length) {
      box.appendChild(el("h4", null, "Evidence"));
      table(box, "Evidence", evidence);
    }
    if (item.fix && item.fix.length) {
      box.appendChild(el("h4", null, "Fix"));
      list(box, item.fix, "fix");
    }
    return box;
  }

  function findings(report) {
    const items = (report.findings || []).slice();
    items.sort((a, b) => (SEVERITY_ORDER[a.severity] ?? 9) - (SEVERITY_ORDER[b.severity] ?? 9));
    const box = section("Checks (" + items.length + ")", "findings-title");
    if (!items.length) box.appendChild(el("p", null, "No findings."));
    for (const item of items) box.appendChild(finding(item));
  }

  function host(report) {
    const h = report.host;
    if (!h) return;
    const box = section("Host", "host-title");
    const driver = h.driver || {};
    const rows = [
      ["hostname", h.hostname],
      ["driver", driver.version ? driver.version + (driver.cuda ? " (CUDA " + driver.cuda + ")" : "") : "none found"],
    ];
    for (const gpu of h.gpus || []) {
      rows.push(["GPU " + text(gpu.index), [gpu.name, gpu.compute_capability && "compute " + gpu.compute_capability].filter(Boolean).join(", ")]);
    }
    for (const kit of h.toolkits || []) rows.push(["CUDA toolkit", kit.version + (kit.path ? " at " + kit.path : "")]);
    for (const fw of h.frameworks || []) rows.push([fw.name, fw.version + (fw.cuda ? " (CUDA " + fw.cuda + ")" : "")]);
    if (h.container && h.container.in_container) rows.push(["container", h.container.runtime || "yes"]);
    if (h.platform) rows.push(["platform", [h.platform.system, h.platform.machine, "Python " + h.platform.python].join(" ")]);
    table(box, "Host", rows);
    if (h.errors && h.errors.length) {
      box.appendChild(el("h3", null, "Probe errors"));
      list(box, h.errors.map((e) => e.probe + ": " + e.message), "warnings");
    }
  }

  function raw(report) {
    const box = el("details", "card raw");
    box.appendChild(el("summary", null, "The full document (GET /preflight)"));
    box.appendChild(el("pre", null, JSON.stringify(report, null, 2)));
    content.appendChild(box);
  }

  async function load() {
    const main = $("report");
    main.setAttribute("aria-busy", "true");
    content.replaceChildren();
    showError($("error"), "");
    let report;
    try {
      report = await Preflight.getJson("/preflight");
    } catch (failure) {
      showError($("error"), failure.message);
      $("status").textContent = "report unavailable";
      if (/\(401\)/.test(failure.message)) {
        $("keyform").hidden = false;
        $("api-key").focus();
      }
      main.setAttribute("aria-busy", "false");
      return;
    }
    $("keyform").hidden = true;
    const serve = report.serve || {};
    $("status").textContent = "doctor: " + text(report.status);
    summary(report, serve);
    settings(serve);
    defaults(serve);
    findings(report);
    host(report);
    raw(report);
    main.setAttribute("aria-busy", "false");
  }

  $("api-key").value = Preflight.apiKey();
  $("keyform").addEventListener("submit", (event) => {
    event.preventDefault();
    Preflight.setApiKey($("api-key").value.trim());
    load();
  });
  load();
})();
