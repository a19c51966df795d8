"""`preflight fit` for GGUF as users call it, in a separate process: --engine llama.cpp|ollama,
--quant, --gpu-layers, --kv-cache-type, a .gguf MODEL, and one-line errors for bad files."""

from __future__ import annotations

from gpu_preflight.cli.commands import fit as fit_command
from gpu_preflight.fit import plan_memory, resolve_model
from gpu_preflight.fit.plan import ENGINES, GGUF_ENGINES

from support.gguf_files import pack_header, write_gguf

T4 = ["--assume-gpu", "Tesla T4:16GiB"]
SMALL = ["--assume-gpu", "NVIDIA GeForce RTX 3050:4GiB"]


def _one_line_error(result):
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("preflight: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_offers_the_planner_engines():
    assert fit_command.ENGINES == ENGINES and fit_command.GGUF_ENGINES == GGUF_ENGINES


def test_vibethinker_q4_k_m_json(run_cli):
    result = run_cli(
        "fit", "VibeThinker-1.5B", "--engine", "llama.cpp", "--quant", "q4_k_m", "--context", "32768", *T4, "--json"
    )
    assert result.returncode == 0, result.stderr
    document = result.json()
    plan = plan_memory(resolve_model("VibeThinker-1.5B"), engine="llama.cpp", quant="Q4_K_M", context=32768)
    section = document["gguf"]
    assert section["mix"] == "Q4_K_M" and not section["from_file"]
    assert section["weight_bytes"] == plan.weight_bytes == document["bytes"]["weights"]
    assert section["host_bytes"] == plan.host_bytes(32768, 1)
    assert document["settings"]["kv_cache_dtype"] == "f16" and document["settings"]["gpu_layers"] is None
    assert document["status"] == "pass"


def test_partial_offload_shows_gpu_and_ram(run_cli):
    result = run_cli("fit", "VibeThinker-1.5B", "--quant", "Q8_0", "--gpu-layers", "10", "--context", "8192", *T4)
    assert result.returncode == 0, result.stderr
    assert "--gpu-layers 10: the output layer and 9 of 28 blocks on the GPU" in result.stdout
    assert "in RAM:" in result.stdout and "llama.cpp (gpu layers 10)" in result.stdout


def test_too_large_names_the_gpu_layers_that_fit(run_cli):
    result = run_cli(
        "fit",
        "VibeThinker-1.5B",
        "--engine",
        "ollama",
        "--quant",
        "Q8_0",
        "--context",
        "131072",
        "--batch",
        "2",
        *SMALL,
    )
    assert result.returncode == 1, result.stderr
    assert "fix: --gpu-layers " in result.stdout and "ollama" in result.stdout


def test_a_gguf_model_file_picks_llama_cpp(run_cli, tmp_path):
    tensors = [("token_embd.weight", (256, 16), "F16"), ("blk.0.attn_q.weight", (256, 256), "Q4_K")]
    tensors += [("output_norm.weight", (256,), "F32")]
    metadata = {"block_count": 1, "embedding_length": 256, "attention.head_count": 2, "context_length": 512}
    path = write_gguf(tmp_path / "tiny.gguf", tensors, metadata=metadata)
    result = run_cli("fit", str(path), *T4, "--json")
    assert result.returncode == 0, result.stderr
    document = result.json()
    assert document["settings"]["engine"] == "llama.cpp"
    assert document["model"]["source"] == "gguf" and document["gguf"]["from_file"]
    assert document["model"]["gguf_file"]["weight_bytes"] == 256 * 16 * 2 + 256 // 256 * 144 * 256 + 256 * 4


def test_hostile_gguf_files_are_one_line(run_cli, tmp_path):
    (tmp_path / "huge.gguf").write_bytes(pack_header(1 << 63, 0) + bytes(64))
    (tmp_path / "cut.gguf").write_bytes(b"GGUF\x03\x00")
    (tmp_path / "text.gguf").write_text("not a model\n")
    for name in ("huge.gguf", "cut.gguf", "text.gguf"):
        _one_line_error(run_cli("fit", str(tmp_path / name), *T4))


def test_gguf_flags_with_a_safetensors_engine_are_one_line(run_cli):
    _one_line_error(run_cli("fit", "VibeThinker-1.5B", "--engine", "vllm", "--quant", "Q4_K_M", *T4))
    _one_line_error(run_cli("fit", "VibeThinker-1.5B", "--engine", "llama.cpp", *T4))
