"""``preflight serve``: check first, then run the model behind an OpenAI-compatible API.

Input: ``ServeOptions`` (options.py) and the ``HostSpec`` of the machine to judge, built by the
command line; ``launch.launch`` runs it all. Nothing here reads flags.

Flow, one direction: MODEL -> fit's model (config.json) -> probe this host -> the gate
(gate.py: doctor with fit's memory plan; device and engine chosen; settings derived in
settings.py from what was measured) -> vLLM's server exec'd with the derived flags (vllm.py),
or the built-in engine: engine.py (transformers) run by one generation thread fed by a bounded
queue (jobs.py), behind the FastAPI app (app.py) speaking OpenAI's format (protocol.py).
Data: profiles.toml (per-model request defaults), rules.toml (derivation constants).

Imports here stay light: torch, transformers, fastapi and uvicorn load only when serving.
"""
