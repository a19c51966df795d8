"""``preflight serve``, start to finish: resolve the model, judge the host (the gate), derive
the settings, then become vLLM or run the built-in server until SIGTERM / Ctrl-C.

Exit codes: 0 after a clean shutdown (in-flight requests finished) or a --dry-run; 1 when the
gate refuses, an engine is not installed or the model fails to load; 2 for an unusable request
(bad flag, unknown model, weights that cannot be downloaded).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import logging
import math
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gpu_preflight.checks.context import CheckContext
from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Host
from gpu_preflight.fit import Model, resolve_model
from gpu_preflight.probe.hostspec import HostSpec, resolve_host
from gpu_preflight.serve import llamacpp, sglang, vllm
from gpu_preflight.serve.data import Profile, find_profile, model_default_profile, rules
from gpu_preflight.serve.gate import SERVER_ENGINES, Decision, Request, decide
from gpu_preflight.serve.machine import CpuFacts, installed, read_cpu
from gpu_preflight.serve.options import ServeOptions
from gpu_preflight.serve.render import Plan, dry_run_json, settings_lines
from gpu_preflight.serve.settings import Hardware, batch_size, parse_dtype, threads

if TYPE_CHECKING:
    from gpu_preflight.monitor.exporter import Exporter
    from gpu_preflight.serve.jobs import Scheduler

log = logging.getLogger("gpu_preflight.serve")
BUILT_IN_NEEDS = ("torch", "transformers", "fastapi", "uvicorn")
MAX_BODY_MIB = 1024
CONNECTION_LIMIT = 64  # open connections beyond the queue's length; more get 503 at once
KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 64 * 1024
WEIGHT_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "*.tiktoken"]


def launch(options: ServeOptions, host_spec: HostSpec, db: str | None = None) -> int:
    """Serve ``options.model`` on the machine ``host_spec`` describes (another machine only
    with ``dry_run``); ``db`` is the knowledge base to judge with (None: the packaged one)."""
    _check_flags(options, host_spec)
    if not options.dry_run:
        _check_port_free(options.host, options.port)  # before any warning: a port in use is the only news
    request = Request(
        device=options.device,
        engine=options.engine,
        dtype=parse_dtype(options.dtype),
        max_context=options.max_context,
        memory_share=options.memory_share,
        preflight=options.preflight,
    )
    model = resolve_model(
        llamacpp.model_file(options.model) if options.engine == "llama.cpp" else options.model,
        timeout=options.hub_timeout,
    )
    host = _probe(options, host_spec, db)
    cpu, vllm_installed = read_cpu(), installed("vllm")
    decision = decide(model, host, request, cpu, vllm_installed=vllm_installed, db=db)
    _derive_engine_settings(options, decision, cpu, vllm_installed)
    if not _is_loopback(options.host) and not options.api_key:
        decision.warnings.append(
            f"listening on {options.host} without --api-key: anyone who can reach this port can use the model"
        )
    plan = _plan(options, model, decision)

    for line in decision.warnings:
        _say(f"WARNING: {line}")
    if decision.refused:
        from gpu_preflight.report.terminal import render_report

        sys.stdout.write(render_report(decision.report))
        _say(f"refusing to start {model.id}: a check failed (above); fix it, or see --device and --no-preflight")
        return 1
    if options.dry_run:
        return _dry_run(options, plan)
    if decision.engine in SERVER_ENGINES:
        _say_settings(plan)
        return _run_server(plan)
    missing = [name for name in BUILT_IN_NEEDS if not installed(name)]
    if missing:
        _say(
            f"the built-in engine needs {', '.join(missing)}: install torch first (the build for your CUDA, "
            "https://pytorch.org/get-started/locally/), then: pip install 'gpu-preflight[serve]'"
        )
        return 1
    weights = _local_weights(model)  # before the summary: a download that fails is the only news
    _say_settings(plan)
    return _run_built_in(options, model, weights, plan)


def _say_settings(plan: Plan) -> None:
    for line in settings_lines(plan) + engine_lines(plan.decision):
        _say(line)


def _derive_engine_settings(options: ServeOptions, decision: Decision, cpu: CpuFacts, vllm_installed: bool) -> None:
    """The engine's reason, and the built-in engine's batch and threads, each with its reason
    (in the log, and in /preflight's settings)."""
    hardware = decision.hardware
    if hardware is None:
        return
    hardware.why["engine"] = engine_reason(options.engine, decision.engine, hardware, vllm_installed)
    if decision.engine != "transformers":
        return
    hardware.max_batch, hardware.why["max_batch"] = batch_size(hardware, options.max_batch)
    hardware.threads, hardware.why["threads"] = threads(cpu.cores, options.threads)


def engine_reason(asked: str, chosen: str, hardware: Hardware, vllm_installed: bool) -> str:
    if asked != "auto":
        return f"--engine {asked}"
    if chosen == "vllm":
        return (
            "auto: vLLM is installed and the GPU passed its checks (driver, compute capability, the builds installed)"
        )
    if not vllm_installed:
        return "auto: vLLM is not installed in this Python, so the built-in engine"
    if hardware.gpu is None:
        return "auto: vLLM needs a GPU that passes the checks and none does, so the built-in engine"
    return "auto: the GPU's checks did not all pass, which vLLM needs, so the built-in engine"


def engine_lines(decision: Decision) -> list[str]:
    """The engine's reason and the built-in engine's derived settings, as log lines."""
    hardware = decision.hardware
    if hardware is None:
        return []
    lines = [f"engine {decision.engine}: {hardware.why.get('engine', '')}"]
    if decision.engine == "transformers":
        lines.append(f"batch up to {hardware.max_batch} requests at once: {hardware.why.get('max_batch', '')}")
        shown = "torch's default" if hardware.threads is None else str(hardware.threads)
        lines.append(f"threads {shown}: {hardware.why.get('threads', '')}")
    return lines


def _check_flags(options: ServeOptions, host_spec: HostSpec) -> None:
    if options.device == "cpu" and options.engine in SERVER_ENGINES:
        raise UsageError(f"--engine {options.engine} needs a GPU: drop --device cpu, or use --engine transformers")
    if options.kv_cache_type is not None and options.engine != "llama.cpp":
        raise UsageError("--kv-cache-type is llama.cpp's: use it with --engine llama.cpp")
    llamacpp.kv_cache_type(options.kv_cache_type)
    if options.engine == "llama.cpp" and options.dtype not in (None, "auto"):
        raise UsageError("--dtype is for safetensors checkpoints: llama.cpp computes in the GGUF file's own types")
    if options.max_queue is not None and options.max_queue < 1:
        raise UsageError(f"--max-queue must be at least 1, got {options.max_queue}")
    if options.threads is not None and options.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {options.threads}")
    if options.max_batch is not None and options.max_batch < 1:
        raise UsageError(f"--max-batch must be at least 1, got {options.max_batch}")
    if options.compile and options.engine in SERVER_ENGINES:
        raise UsageError(
            f"--compile is the built-in engine's (torch.compile), not {SERVER_NAMES[options.engine]}'s: drop --compile "
            f"or --engine {options.engine}"
        )
    if not 0 <= options.port <= 65535:
        raise UsageError(f"--port must be 0-65535, got {options.port}")
    if host_spec.describes_another_host and not options.dry_run:
        raise UsageError(
            "--snapshot, --nvidia-smi-xml and --assume-* describe another machine: use them with --dry-run"
        )
    if not options.hub_timeout > 0 or options.hub_timeout == math.inf:  # NaN fails both
        raise UsageError("--hub-timeout must be a positive number of seconds")
    if options.memory_share is not None and not 0 < options.memory_share <= 1:
        raise UsageError(
            f"--memory-share must be in (0, 1], a fraction of the GPU's memory, got {options.memory_share:g}"
        )
    if options.max_context is not None and options.max_context < 1:
        raise UsageError(f"--max-context must be at least 1, got {options.max_context}")
    if not 0 < options.max_body_mib <= MAX_BODY_MIB:
        raise UsageError(f"--max-body-mib must be in (0, {MAX_BODY_MIB}], got {options.max_body_mib:g}")
    if host_spec.assume_driver is not None and not host_spec.assume_driver.strip():
        raise UsageError("--assume-driver is empty: give a driver version (examples: 550.54.15, 535)")
    for name in options.allowed_hosts:
        if not name.strip() or any(c.isspace() or c in "/@" for c in name.strip()):
            raise UsageError(f"--allowed-hosts {name!r}: give host names (or name:port), comma-separated, or '*'")
    for origin in options.cors_origins:
        if origin != "*" and not (origin.startswith(("http://", "https://")) and len(origin) > len("https://")):
            raise UsageError(f"--cors-origin {origin!r}: give an origin such as https://app.example, or '*'")


def _probe(options: ServeOptions, host_spec: HostSpec, db: str | None) -> Host:
    live = not host_spec.describes_another_host
    # On a live host the gate launches one kernel through torch (doctor --deep): "the GPU works"
    # is then measured, not inferred from versions.
    deep = host_spec.deep or (live and options.device != "cpu" and options.preflight)
    return resolve_host(dataclasses.replace(host_spec, deep=deep), db=db)


def _plan(options: ServeOptions, model: Model, decision: Decision) -> Plan:
    directory = Path(model.location) if model.source in ("directory", "hub-cache") else None
    own_name = directory.name if directory is not None and model.source == "directory" else model.id
    served = options.served_model_name or own_name
    profile = _profile(options.profile, model, directory, options.model)
    system_prompt = profile.system_prompt if options.system_prompt is None else (options.system_prompt or None)
    shown_host = f"[{options.host}]" if ":" in options.host else options.host
    command = None
    if decision.engine in SERVER_ENGINES and decision.hardware is not None:
        command = _server_command(options, model, decision, str(directory) if directory else model.id, served)
    return Plan(decision, model.id, served, f"http://{shown_host}:{options.port}", profile, system_prompt, command)


def _profile(name: str, model: Model, directory: Path | None, text: str) -> Profile:
    if name == "none":
        return model_default_profile(model.id, directory)
    if name != "auto":
        found = find_profile(name)
        if found is None:
            from gpu_preflight.serve.data import profiles

            raise UsageError(
                f"--profile {name!r}: unknown (choose auto, none, or one of {', '.join(p.id for p in profiles())})"
            )
        return found
    names = [model.id, text] + ([directory.name] if directory else [])
    return find_profile(*names) or model_default_profile(model.id, directory)


def _dry_run(options: ServeOptions, plan: Plan) -> int:
    if options.json:
        sys.stdout.write(dry_run_json(plan))
        return 0
    print("\n".join(settings_lines(plan) + engine_lines(plan.decision) + _server_lines(plan.decision)))
    if plan.command:
        print(vllm.printable(plan.command))
        missing = _server_missing(plan.decision.engine)
        if missing:
            print(f"({missing})")
    return 0


SERVER_NAMES = {"vllm": "vLLM", "sglang": "SGLang", "llama.cpp": "llama.cpp"}
SERVER_WHY = ("tensor_parallel", "mem_fraction_static", "gpu_layers", "kv_cache_type")  # engine flags' reasons


def _server_command(options: ServeOptions, model: Model, decision: Decision, weights: str, served: str) -> list[str]:
    """The engine's own server command, its engine-specific values' reasons in hardware.why."""
    hardware = _hardware_of(decision)
    engine = decision.engine
    if engine == "llama.cpp":
        kv_type = llamacpp.kv_cache_type(options.kv_cache_type)
        launch = llamacpp.Launch(
            model.location, served, options.host, options.port, model.shape.layers, options.api_key, kv_type
        )
        hardware.why["gpu_layers"] = f"all {model.shape.layers} layers and the output layer on the GPU, as planned"
        if kv_type and kv_type != llamacpp.DEFAULT_KV_TYPE:
            hardware.why["kv_cache_type"] = f"--kv-cache-type {kv_type} for both K and V; the context is sized at f16"
        return llamacpp.build_command(launch, hardware)
    if engine == "sglang":
        gpus = CheckContext(host=decision.report.host).visible_gpus
        tp, hardware.why["tensor_parallel"] = sglang.tensor_parallel(gpus, model.shape.attention_heads)
        fraction, hardware.why["mem_fraction_static"] = sglang.memory_fraction(hardware, options.memory_share, tp)
        launch_sglang = sglang.Launch(
            weights, served, options.host, options.port, options.api_key, options.trust_remote_code, tp
        )
        return sglang.build_command(launch_sglang, hardware, fraction)
    launch_vllm = vllm.Launch(weights, served, options.host, options.port, options.api_key, options.trust_remote_code)
    return vllm.build_command(launch_vllm, hardware)


def _hardware_of(decision: Decision) -> Hardware:
    if decision.hardware is None:
        raise AssertionError("an engine command without derived settings")
    return decision.hardware


def _server_lines(decision: Decision | None) -> list[str]:
    why = decision.hardware.why if decision is not None and decision.hardware is not None else {}
    return [f"{key.replace('_', ' ')}: {why[key]}" for key in SERVER_WHY if key in why]


def _server_missing(engine: str) -> str | None:
    """One line saying how to install the engine, or None when it is here."""
    if engine == "llama.cpp":
        return None if llamacpp.binary() else f"{llamacpp.BINARY} is not on PATH: {llamacpp.INSTALL_HINT}"
    package, hint = (sglang.PACKAGE, sglang.INSTALL_HINT) if engine == "sglang" else ("vllm", vllm.INSTALL_HINT)
    if installed(package):
        return None
    return f"{SERVER_NAMES[engine]} is not installed in this Python ({sys.executable}): {hint}"


def _run_vllm(plan: Plan) -> int:
    return _run_server(plan, "vllm")


def _run_server(plan: Plan, engine: str | None = None) -> int:
    command, engine = plan.command, engine or plan.decision.engine
    if command is None:  # _plan builds one whenever the gate chose an engine with its own server
        raise AssertionError(f"a {engine} plan without its command")
    for line in _server_lines(plan.decision):
        _say(line)
    _say("running: " + vllm.printable(command))
    missing = _server_missing(engine)
    if missing:
        _say(f"--engine {engine}: {missing}")
        return 1
    _say(
        f"{SERVER_NAMES[engine]} serves /v1 and /health itself; /preflight is the built-in engine's "
        "(this report: preflight doctor)"
    )
    vllm.become_vllm(command)
    return 1  # not reached: exec replaced this process


def _run_built_in(options: ServeOptions, model: Model, weights: str, plan: Plan) -> int:
    import uvicorn

    from gpu_preflight.serve.app import Service, create_app
    from gpu_preflight.serve.connection import HalfCloseProtocol
    from gpu_preflight.serve.engine import TransformersEngine
    from gpu_preflight.serve.jobs import Scheduler
    from gpu_preflight.serve.metrics import Metrics
    from gpu_preflight.serve.protocol import Defaults

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    hardware = _hardware(plan)
    engine = TransformersEngine(
        weights,
        hardware.device,
        hardware.dtype,
        hardware.memory_share,
        options.trust_remote_code,
        max_context=hardware.max_context,
        max_batch=hardware.max_batch,
        threads=hardware.threads,
        compile=options.compile,
    )
    metrics = Metrics(
        {"model": plan.served_name, "engine": "transformers", "device": hardware.device, "dtype": hardware.dtype}
    )
    state = {"exit": 0}
    server: uvicorn.Server | None = None

    def load_failed(why: str) -> None:
        log.error("the model failed to load: %s", why)
        state["exit"] = 1
        if server is not None:
            server.should_exit = True

    max_queue = options.max_queue if options.max_queue is not None else default_max_queue()
    scheduler = Scheduler(
        engine, max_queue, metrics, on_load_failure=load_failed, prefill_tokens=int(rules()["batch"]["prefill_tokens"])
    )
    metrics.gauge("requests_waiting", "Requests in the queue, not yet generating", lambda: scheduler.waiting)
    metrics.gauge("requests_running", "Requests generating now", lambda: scheduler.running)
    metrics.gauge("ready", "1 once a real forward pass succeeded", lambda: 1 if scheduler.state == "ready" else 0)
    metrics.gauge(
        "max_context_tokens",
        "Context per sequence (prompt plus output) derived for this server",
        lambda: hardware.max_context,
    )
    profile = plan.profile
    defaults = Defaults(
        model_name=plan.served_name,
        accepted_names=frozenset({plan.served_name, options.model, model.id}),
        max_context=hardware.max_context,
        sampling=profile.sampling,
        system_prompt=plan.system_prompt,
        max_new_tokens=profile.max_new_tokens,
    )
    preflight = {**plan.decision.report.to_dict(), "serve": plan.to_dict()}
    service = Service(
        engine,
        scheduler,
        defaults,
        metrics,
        preflight,
        options.api_key,
        allowed_hosts=allowed_hosts(options.host, options.allowed_hosts),
        cors_origins=options.cors_origins,
        max_body_bytes=int(options.max_body_mib * 1024 * 1024),
    )
    config = uvicorn.Config(
        create_app(service),
        host=options.host,
        port=options.port,
        log_level="info",
        access_log=False,
        lifespan="on",
        # Connections and idle time are bounded: a client that opens many, or sends its headers
        # a byte at a time, cannot hold the server (a body that stalls gets 408 from the app).
        limit_concurrency=CONNECTION_LIMIT + max_queue + hardware.max_batch,
        timeout_keep_alive=KEEP_ALIVE_S,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        http=HalfCloseProtocol,  # h11, answering a client that half-closed after its request
    )
    server = uvicorn.Server(config)
    exporter = (
        _start_monitor(options.monitor_port, options.host, scheduler) if options.monitor_port is not None else None
    )
    try:
        with _graceful_signals():
            server.run()
    finally:
        if exporter is not None:
            exporter.close()
    return state["exit"] or (0 if server.started else 1)


def _hardware(plan: Plan) -> Hardware:
    """What the gate derived; a plan that was not refused always has it."""
    hardware = plan.decision.hardware
    if hardware is None:
        raise AssertionError("a plan to serve without derived settings")
    return hardware


def _start_monitor(port: int, host: str, scheduler: Scheduler) -> Exporter:
    from gpu_preflight.monitor import NvmlSource, start_exporter

    exporter = start_exporter(port, NvmlSource(), interval=1.0, addr=host, requests_waiting=lambda: scheduler.waiting)
    log.info("GPU metrics on http://%s:%d/metrics", host, exporter.port)
    return exporter


@contextlib.contextmanager
def _graceful_signals() -> Iterator[None]:
    """uvicorn shuts down gracefully on SIGTERM/SIGINT (in-flight requests finish), then raises
    the signal again for the handler it found; a no-op one here makes that clean end exit 0."""
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_port_free(host: str, port: int) -> None:
    """Before anything is loaded: a port in use is one line now, not a traceback after the load."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no obstacle
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}): choose another --port or --host"
            ) from None


def _local_weights(model: Model) -> str:
    """A directory with the weights: MODEL's own, the Hugging Face cache, or a download."""
    if model.source in ("directory", "hub-cache"):
        return model.location
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(model.id, allow_patterns=WEIGHT_FILES, local_files_only=True)
    except Exception:  # noqa: BLE001 - not in the cache: download below
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise UsageError(
            f"{model.id}: the weights are not in the Hugging Face cache and HF_HUB_OFFLINE is set: give a local "
            "directory with the model"
        )
    _say(f"downloading {model.id} from the Hugging Face Hub")
    try:
        return snapshot_download(model.id, allow_patterns=WEIGHT_FILES)
    except Exception as exc:  # noqa: BLE001 - network, auth, missing repo: one line either way
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise UsageError(
            f"{model.id}: cannot download the weights from the Hugging Face Hub ({reason}); no network? give a local "
            "directory with the model, or set HF_ENDPOINT / HF_TOKEN"
        ) from None


def allowed_hosts(bind: str, extra: tuple[str, ...]) -> frozenset[str]:
    """The Host header names the server answers to beyond the loopback ones: --allowed-hosts,
    and the address it listens on (its host names too when that is every interface)."""
    names = {name.strip() for name in extra if name.strip()}
    address = bind.strip("[]")
    if address in ("0.0.0.0", "::", ""):
        names |= {socket.gethostname(), socket.getfqdn()}
    elif not _is_loopback(bind):
        names.add(address)
    return frozenset(name for name in names if name)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _say(line: str) -> None:
    print(f"preflight: {line}", file=sys.stderr, flush=True)


def default_max_queue() -> int:
    return int(rules()["queue"]["max_waiting"])
