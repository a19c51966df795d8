"""`preflight serve --engine vllm|sglang|llama.cpp`: the engine's own server command, built for a
host after the gate, checked against the flags each engine documents (data/engine_flags.toml,
copied from the engines' sources with their commits), and the one-line refusals of bad input."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from gpu_preflight.core.host import Gpu
from gpu_preflight.core.readers import load_toml
from gpu_preflight.fit.sglang import mem_fraction_static
from gpu_preflight.probe.hostspec import HostSpec
from gpu_preflight.serve import launch as launch_module
from gpu_preflight.serve import llamacpp, sglang, vllm
from gpu_preflight.serve.launch import launch
from gpu_preflight.serve.options import ServeOptions
from gpu_preflight.serve.render import Plan
from gpu_preflight.serve.settings import Hardware

from support.gguf_files import pack_header, pack_kv_u32, pack_string, pack_tensor_info

FLAGS = load_toml(Path(__file__).parent / "data" / "engine_flags.toml")
OFFLINE = {"HF_HUB_OFFLINE": "1"}
DRIVER = ("--assume-driver", "570.86.15")
T4 = HostSpec(assume_gpus=("Tesla T4",), assume_driver="550.54.15")
TWO_H100 = HostSpec(assume_gpus=("NVIDIA H100 80GB HBM3",) * 2, assume_driver="570.86.15")
F16 = 1  # ggml type id (gguf.toml [ggml.type.F16])
LAYERS, HIDDEN, HEADS, KV_HEADS, VOCAB, FF, CONTEXT = 2, 64, 4, 2, 256, 128, 4096


# --- a small qwen2 GGUF, packed byte by byte as the format lays it out -------------------------


def _pack_kv_str(key: str, value: str) -> bytes:
    packed: bytes = pack_string(key) + struct.pack("<I", 8) + pack_string(value)  # 8: GGUF_TYPE_STRING
    return packed


def _tensors() -> list[tuple[str, tuple[int, ...]]]:
    names = [("token_embd.weight", (HIDDEN, VOCAB)), ("output_norm.weight", (HIDDEN,))]
    for i in range(LAYERS):
        names += [
            (f"blk.{i}.attn_norm.weight", (HIDDEN,)),
            (f"blk.{i}.attn_q.weight", (HIDDEN, HIDDEN)),
            (f"blk.{i}.attn_k.weight", (HIDDEN, KV_HEADS * HIDDEN // HEADS)),
            (f"blk.{i}.attn_v.weight", (HIDDEN, KV_HEADS * HIDDEN // HEADS)),
            (f"blk.{i}.attn_output.weight", (HIDDEN, HIDDEN)),
            (f"blk.{i}.ffn_norm.weight", (HIDDEN,)),
            (f"blk.{i}.ffn_gate.weight", (HIDDEN, FF)),
            (f"blk.{i}.ffn_up.weight", (HIDDEN, FF)),
            (f"blk.{i}.ffn_down.weight", (FF, HIDDEN)),
        ]
    return names


def write_small_gguf(path: Path) -> Path:
    kvs = [
        _pack_kv_str("general.architecture", "qwen2"),
        _pack_kv_str("general.name", "tiny-qwen2"),
        pack_kv_u32("qwen2.block_count", LAYERS),
        pack_kv_u32("qwen2.embedding_length", HIDDEN),
        pack_kv_u32("qwen2.attention.head_count", HEADS),
        pack_kv_u32("qwen2.attention.head_count_kv", KV_HEADS),
        pack_kv_u32("qwen2.context_length", CONTEXT),
        pack_kv_u32("qwen2.feed_forward_length", FF),
    ]
    infos, offset = [], 0
    for name, shape in _tensors():
        infos.append(pack_tensor_info(name, shape, F16, offset))
        size = 2
        for d in shape:
            size *= d
        offset += -(-size // 32) * 32  # each tensor's data aligned to general.alignment (32)
    head = pack_header(len(infos), len(kvs)) + b"".join(kvs) + b"".join(infos)
    head += b"\0" * (-len(head) % 32)
    path.write_bytes(head + b"\0" * offset)
    return path


@pytest.fixture
def gguf_file(tmp_path: Path) -> Path:
    return write_small_gguf(tmp_path / "tiny-qwen2-f16.gguf")


def _dry_run(capsys: pytest.CaptureFixture[str], options: ServeOptions, host: HostSpec) -> dict[str, Any]:
    assert launch(options, host) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def _flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


# --- every flag a builder can emit is one the engine documents ---------------------------------


def _documented(engine: str) -> set[str]:
    return {flag for source in FLAGS[engine]["sources"] for flag in source["flags"]}


def _emitted(argv: list[str], skip: int) -> set[str]:
    return {word for word in argv[skip:] if word.startswith("-")}


def _hardware(gpu: Gpu | None = None) -> Hardware:
    return Hardware("cuda", "bfloat16", 4096, 0.9, None, gpu)  # type: ignore[arg-type]  # the plan is not read


def test_the_documented_flags_name_their_source_and_commit() -> None:
    for engine in ("vllm", "sglang", "llama_cpp"):
        for source in FLAGS[engine]["sources"]:
            assert len(source["commit"]) == 40 and source["commit"] in source["url"] and source["path"] in source["url"]


@pytest.mark.parametrize("api_key", [None, "k"])
@pytest.mark.parametrize("trust", [False, True])
def test_vllm_emits_only_documented_flags(api_key: str | None, trust: bool) -> None:
    argv = vllm.build_command(vllm.Launch("m", "m", "0.0.0.0", 8000, api_key, trust), _hardware(), python="python")
    assert argv[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert _emitted(argv, 3) <= _documented("vllm")


@pytest.mark.parametrize("api_key", [None, "k"])
@pytest.mark.parametrize("trust", [False, True])
@pytest.mark.parametrize("tp", [1, 2])
def test_sglang_emits_only_documented_flags(api_key: str | None, trust: bool, tp: int) -> None:
    launch_ = sglang.Launch("m", "m", "127.0.0.1", 30000, api_key, trust, tp)
    argv = sglang.build_command(launch_, _hardware(), 0.85, python="python")
    assert argv[1:3] == ["-m", "sglang.launch_server"]
    assert _emitted(argv, 3) <= _documented("sglang")
    assert ("--tp-size" in argv) == (tp > 1) and ("--trust-remote-code" in argv) == trust


@pytest.mark.parametrize("api_key", [None, "k"])
@pytest.mark.parametrize("kv", [None, "f16", "q8_0", "q4_0"])
def test_llama_cpp_emits_only_documented_flags(api_key: str | None, kv: str | None) -> None:
    launch_ = llamacpp.Launch("m.gguf", "m", "127.0.0.1", 8080, 28, api_key, kv)
    argv = llamacpp.build_command(launch_, _hardware(), program="llama-server")
    assert _emitted(argv, 1) <= _documented("llama_cpp")
    quantised = kv in ("q8_0", "q4_0")
    assert ("--cache-type-k" in argv) == quantised and ("--cache-type-v" in argv) == quantised


# --- command lines built for a host ------------------------------------------------------------


def test_sglang_on_one_t4(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    document = _dry_run(capsys, ServeOptions(model="VibeThinker-1.5B", engine="sglang", dry_run=True, json=True), T4)
    command, settings = document["command"], document["settings"]
    assert document["engine"] == "sglang" and command[1:3] == ["-m", "sglang.launch_server"]
    assert _flag(command, "--model-path") == "WeiboAI/VibeThinker-1.5B"
    assert _flag(command, "--dtype") == "float16"  # compute capability 7.5: no bfloat16
    assert _flag(command, "--context-length") == str(settings["max_context"])
    # SGLang's own rule for the T4's memory (15360 MiB as assumed), below the gate's 0.9 share
    assert "15360 MiB" in settings["why"]["mem_fraction_static"]
    assert float(_flag(command, "--mem-fraction-static")) == mem_fraction_static(15360) < 0.9
    assert "--tp-size" not in command


def test_sglang_splits_over_two_gpus_and_masks_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    options = ServeOptions(model="VibeThinker-1.5B", engine="sglang", api_key="s3cret", dry_run=True, json=True)
    document = _dry_run(capsys, options, TWO_H100)
    command = document["command"]
    assert _flag(command, "--tp-size") == "2" and _flag(command, "--dtype") == "bfloat16"
    assert _flag(command, "--api-key") == "***" and "s3cret" not in json.dumps(document)
    assert document["settings"]["why"]["tensor_parallel"].startswith("2 visible NVIDIA H100")


def test_sglang_takes_memory_share_as_its_static_fraction(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    options = ServeOptions(model="VibeThinker-1.5B", engine="sglang", memory_share=0.7, dry_run=True, json=True)
    assert _flag(_dry_run(capsys, options, T4)["command"], "--mem-fraction-static") == "0.7"


def test_tensor_parallel_only_over_even_head_splits() -> None:
    h100 = Gpu(0, "NVIDIA H100 80GB HBM3", memory_total_mib=81559)
    three = [h100, Gpu(1, h100.name, memory_total_mib=81559), Gpu(2, h100.name, memory_total_mib=81559)]
    assert sglang.tensor_parallel(three, 12)[0] == 3
    assert sglang.tensor_parallel(three, 16)[0] == 2  # 16 heads do not split over 3 GPUs
    mixed = [h100, Gpu(1, "Tesla T4", memory_total_mib=15360)]
    assert sglang.tensor_parallel(mixed, 16)[0] == 1  # only GPUs like the one the gate judged


def test_llama_cpp_for_a_gguf_file(
    gguf_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ServeOptions(model=str(gguf_file), engine="llama.cpp", api_key="k", dry_run=True, json=True)
    document = _dry_run(capsys, options, T4)
    command = document["command"]
    assert document["engine"] == "llama.cpp" and Path(command[0]).name == "llama-server"
    assert _flag(command, "--model") == str(gguf_file) and _flag(command, "--alias") == "tiny-qwen2"
    assert _flag(command, "--ctx-size") == str(document["settings"]["max_context"]) == str(CONTEXT)
    assert _flag(command, "--n-gpu-layers") == str(LAYERS + 1)  # every block and the output layer
    assert _flag(command, "--parallel") == "1" and _flag(command, "--api-key") == "***"
    assert "--cache-type-k" not in command  # f16, llama.cpp's default, unless asked


def test_llama_cpp_finds_the_one_gguf_in_a_directory_and_quantises_the_kv_cache(
    gguf_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ServeOptions(
        model=str(gguf_file.parent), engine="llama.cpp", kv_cache_type="Q8_0", dry_run=True, json=True
    )
    command = _dry_run(capsys, options, T4)["command"]
    assert _flag(command, "--model") == str(gguf_file)
    assert _flag(command, "--cache-type-k") == _flag(command, "--cache-type-v") == "q8_0"


def test_dry_run_prints_the_command_through_the_cli(run_cli, gguf_file: Path) -> None:
    result = run_cli(
        "serve", str(gguf_file), "--engine", "llama.cpp", "--kv-cache-type", "q4_0", "--dry-run",
        "--assume-gpu", "Tesla T4", *DRIVER, env={"PATH": "/nonexistent"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    command = next(line for line in result.stdout.splitlines() if line.startswith("llama-server "))
    assert f"--model {gguf_file}" in command and "--n-gpu-layers 3" in command
    assert "--cache-type-k q4_0 --cache-type-v q4_0" in command
    assert "(llama-server is not on PATH: install llama.cpp" in result.stdout
    sglang_run = run_cli(
        "serve", "VibeThinker-1.5B", "--engine", "sglang", "--dry-run", "--assume-gpu", "Tesla T4", *DRIVER,
        env=OFFLINE,
    )  # fmt: skip
    assert sglang_run.returncode == 0, sglang_run.stderr
    assert any(line.split()[1:3] == ["-m", "sglang.launch_server"] for line in sglang_run.stdout.splitlines() if line)


# --- a missing engine, and bad input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("engine", "says"),
    [("llama.cpp", "llama-server is not on PATH"), ("sglang", "SGLang is not installed in this Python")],
)
def test_a_missing_engine_is_one_line_and_exit_1(
    engine: str, says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(launch_module, "installed", lambda name: False)
    monkeypatch.setattr(vllm, "become_vllm", lambda argv: pytest.fail("exec without the engine"))
    plan = Plan(None, "m", "m", "http://127.0.0.1:8000", None, None, ["x", "--port", "1"])  # type: ignore[arg-type]
    assert launch_module._run_server(plan, engine) == 1
    err = capsys.readouterr().err
    assert says in err and ("pip install sglang" in err or "github.com/ggml-org/llama.cpp" in err)


def _one_line_error(result) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("preflight: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_a_directory_without_a_gguf_is_one_line(run_cli, tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    result = run_cli("serve", str(tmp_path / "model"), "--engine", "llama.cpp", "--dry-run")
    _one_line_error(result)
    assert "no .gguf file" in result.stderr and "convert_hf_to_gguf.py" in result.stderr


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("weights.gguf", b"PK\x03\x04 a zip, not a GGUF", "not a GGUF file"),
        ("model.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ", "not a GGUF file"),
        ("empty.gguf", b"", "not a GGUF file"),
    ],
)
def test_a_file_that_is_not_gguf_is_one_line(run_cli, tmp_path: Path, name: str, content: bytes, says: str) -> None:
    (tmp_path / name).write_bytes(content)
    result = run_cli("serve", str(tmp_path / name), "--engine", "llama.cpp", "--dry-run", "--assume-gpu", "Tesla T4")
    _one_line_error(result)
    assert says in result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--engine", "llama.cpp", "--dry-run"], "not a file or directory here"),
        (["--engine", "llama.cpp", "--kv-cache-type", "q3_k", "--dry-run"], "--kv-cache-type 'q3_k'"),
        (["--engine", "sglang", "--kv-cache-type", "q8_0", "--dry-run"], "--kv-cache-type is llama.cpp's"),
        (["--engine", "llama.cpp", "--dtype", "float16", "--dry-run"], "--dtype is for safetensors"),
        (["--engine", "sglang", "--device", "cpu", "--dry-run"], "--engine sglang needs a GPU"),
    ],
)
def test_unusable_engine_requests_are_one_line(run_cli, tmp_path: Path, args: list[str], says: str) -> None:
    result = run_cli("serve", str(tmp_path / "missing.gguf"), *args, env=OFFLINE)
    _one_line_error(result)
    assert says in result.stderr


def test_two_gguf_files_ask_for_one(run_cli, tmp_path: Path) -> None:
    write_small_gguf(tmp_path / "a-Q4_K_M.gguf")
    write_small_gguf(tmp_path / "a-Q8_0.gguf")
    result = run_cli("serve", str(tmp_path), "--engine", "llama.cpp", "--dry-run")
    _one_line_error(result)
    assert "2 .gguf files here (a-Q4_K_M.gguf, a-Q8_0.gguf)" in result.stderr
