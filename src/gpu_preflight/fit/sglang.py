"""SGLang's static memory fraction: the share of a GPU's total memory it reserves for weights
plus its KV cache pool when ``--mem-fraction-static`` is not given (rules.toml [engine.sglang],
from ServerArgs._handle_gpu_memory_settings)."""

from __future__ import annotations

from typing import Any

from gpu_preflight.fit import data


def gpu_defaults(total_mib: int | None) -> dict[str, Any] | None:
    """The chunked_prefill_size / cuda_graph_max_bs row for a GPU of ``total_mib``."""
    if total_mib is None:
        return None
    rows: list[dict[str, Any]] = data.rules()["engine"]["sglang"]["gpu_defaults"]
    return next(row for row in rows if total_mib < row["max_memory_mib"])


def fraction_within(total_mib: int | None, share: float | None, tensor_parallel: int = 1) -> float:
    """SGLang's rule for this GPU, lowered to ``share`` (the part of it free to use) when smaller."""
    rule = mem_fraction_static(total_mib, tensor_parallel)
    return rule if share is None else min(rule, share)


def mem_fraction_static(total_mib: int | None, tensor_parallel: int = 1, pipeline_parallel: int = 1) -> float:
    """mem_fraction_static = round((gpu_mem - reserved_mem) / gpu_mem, 3), as SGLang derives it
    for a text model without DP attention, piecewise CUDA graphs or speculative decoding."""
    rule = data.rules()["engine"]["sglang"]
    row = gpu_defaults(total_mib)
    if total_mib is None or row is None or total_mib <= 0:
        return float(rule["unknown_memory_fraction"])
    graph_bs = row["cuda_graph_max_bs"] if tensor_parallel < 4 else row["cuda_graph_max_bs_tp4"]
    reserved = float(rule["reserved_base_mib"])
    reserved += max(row["chunked_prefill_size"], rule["prefill_floor_tokens"]) * rule["prefill_factor_mib"]
    reserved += graph_bs * rule["cuda_graph_factor_mib"]
    reserved += tensor_parallel * pipeline_parallel / 8 * rule["parallel_mib_per_eighth"]
    if total_mib > rule["large_gpu_min_mib"]:
        reserved = max(reserved, float(rule["large_gpu_reserved_floor_mib"]))
    return round(float(total_mib - reserved) / total_mib, 3)
