"""A model's transformer shape (layers, heads, widths, experts), read from its config.json, and
its parameter count. Not a GPU architecture: that is knowledge/model.py's ``Architecture``.

The count follows the modules transformers builds for the family (rules.toml, [family.*]):
embeddings (tied or not), attention with grouped KV heads and the family's biases, the gated
MLP or its experts, and the RMSNorm weight vectors. Tests compare it with transformers
instantiating the same config on the meta device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gpu_preflight.core.errors import UsageError
from gpu_preflight.fit import data

# Anything larger is not a real model: refuse it before multiplying (a hostile config.json).
_MAX_DIMENSION = 1 << 24
_MAX_LAYERS = 4096


@dataclass(frozen=True)
class ModelShape:
    """What config.json says the decoder is built of: enough to count parameters and size a KV cache."""

    model_type: str
    family: str  # the rules.toml family used; differs from model_type when approximated
    hidden_size: int
    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tied_embeddings: bool
    max_position_embeddings: int | None
    config_dtype: str | None  # the checkpoint's torch_dtype, canonical ("bfloat16"), if known
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    norms_per_layer: int = 2
    qk_norm: bool = False
    experts: int = 0  # routed experts per sparse layer; 0 for a dense model
    experts_per_token: int = 0
    expert_size: int = 0
    shared_expert_size: int = 0
    shared_expert_gate: bool = False
    sparse_layers: int = 0
    quantization: dict[str, Any] | None = None  # config.json's quantization_config
    notes: list[str] = field(default_factory=list)

    @property
    def approximate(self) -> bool:
        return self.family != self.model_type


@dataclass(frozen=True)
class ParameterCount:
    total: int
    embeddings: int  # token embedding
    lm_head: int  # 0 when tied to the embedding
    active: int  # per token: differs from total only for mixture-of-experts


def shape_from_config(config: Any, origin: str) -> ModelShape:
    """Validate a config.json mapping; every problem is one UsageError line naming ``origin``."""
    if not isinstance(config, dict):
        raise UsageError(f"{origin}: config.json is not a JSON object")
    notes = []
    text_config = config.get("text_config")
    if "hidden_size" not in config and isinstance(text_config, dict):
        # Multimodal checkpoints (Gemma 3, LLaVA...) nest the language model's config.
        notes.append("text_config only: a vision or audio tower is not counted without safetensors headers")
        config = {**text_config, "torch_dtype": text_config.get("torch_dtype", config.get("torch_dtype"))}
    rules = data.rules()
    if not isinstance(config.get("model_type") or "", str):
        raise UsageError(f"{origin}: config.json model_type must be text, got {str(config['model_type'])[:40]!r}")
    model_type = str(config.get("model_type") or "unknown")
    family = model_type if model_type in rules["family"] else "llama"
    if family != model_type:
        notes.append(
            f"model_type {model_type!r} is not one this tool knows: counted as a Llama-style decoder (approximate)"
        )
    traits = rules["family"][family]
    read = _Reader(config, origin)

    hidden = read.positive("hidden_size")
    heads = read.positive("num_attention_heads")
    kv_heads = read.positive("num_key_value_heads", default=heads)
    if heads % kv_heads:
        raise UsageError(
            f"{origin}: num_attention_heads ({heads}) is not a multiple of num_key_value_heads ({kv_heads})"
        )
    if config.get("head_dim") is None and not traits.get("head_dim_default") and hidden < heads:
        raise UsageError(
            f"{origin}: config.json hidden_size ({hidden}) is smaller than num_attention_heads ({heads}) "
            "and there is no head_dim: each head would be 0 wide"
        )
    head_dim = read.positive("head_dim", default=traits.get("head_dim_default") or hidden // heads)
    # An unknown family that still declares experts is counted Mixtral-style.
    expert_keys = traits.get("experts", ["num_local_experts", "num_experts"] if family != model_type else [])
    experts = next((read.positive(key, zero_ok=True) for key in expert_keys if config.get(key) is not None), 0)
    layers = read.positive("num_hidden_layers", limit=_MAX_LAYERS)
    intermediate = read.positive("intermediate_size", default=0 if experts else None, zero_ok=bool(experts))
    moe = _moe_fields(read, traits, experts, intermediate, layers) if experts else {}
    return ModelShape(
        model_type=model_type,
        family=family,
        hidden_size=hidden,
        layers=layers,
        attention_heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate_size=intermediate,
        vocab_size=read.positive("vocab_size"),
        tied_embeddings=read.flag("tie_word_embeddings", default=traits.get("tied_default", False)),
        max_position_embeddings=read.positive("max_position_embeddings", default=0, zero_ok=True) or None,
        config_dtype=_config_dtype(config),
        qkv_bias=read.trait(traits, "qkv_bias"),
        o_bias=read.trait(traits, "o_bias"),
        mlp_bias=read.trait(traits, "mlp_bias"),
        norms_per_layer=int(traits.get("norms_per_layer", 2)),
        qk_norm=bool(traits.get("qk_norm", False)),
        **moe,
        quantization=_quantization(config.get("quantization_config"), origin),
        notes=notes,
    )


def count_parameters(shape: ModelShape) -> ParameterCount:
    hidden, head_dim = shape.hidden_size, shape.head_dim
    q_width, kv_width = shape.attention_heads * head_dim, shape.kv_heads * head_dim
    attention = hidden * q_width + 2 * hidden * kv_width + q_width * hidden
    attention += (q_width + 2 * kv_width) if shape.qkv_bias else 0
    attention += hidden if shape.o_bias else 0
    attention += 2 * head_dim if shape.qk_norm else 0
    norms = shape.norms_per_layer * hidden

    def gated_mlp(width: int) -> int:  # gate, up and down projections
        return 3 * hidden * width + ((2 * width + hidden) if shape.mlp_bias else 0)

    dense_layer = attention + norms + gated_mlp(shape.intermediate_size)
    shared = (
        gated_mlp(shape.shared_expert_size) + (hidden if shape.shared_expert_gate else 0)
        if shape.shared_expert_size
        else 0
    )
    router = shape.experts * hidden

    def sparse_layer(experts: int) -> int:
        return attention + norms + router + experts * gated_mlp(shape.expert_size) + shared

    dense_layers = shape.layers - shape.sparse_layers
    embeddings = shape.vocab_size * hidden
    lm_head = 0 if shape.tied_embeddings else shape.vocab_size * hidden
    outside_layers = embeddings + lm_head + hidden  # + the final norm
    total = outside_layers + dense_layers * dense_layer + shape.sparse_layers * sparse_layer(shape.experts)
    active = outside_layers + dense_layers * dense_layer + shape.sparse_layers * sparse_layer(shape.experts_per_token)
    return ParameterCount(total=total, embeddings=embeddings, lm_head=lm_head, active=active)


def _moe_fields(read: _Reader, traits: dict[str, Any], experts: int, intermediate: int, layers: int) -> dict[str, Any]:
    step = read.positive(traits["sparse_step"], default=1) if "sparse_step" in traits else 1
    dense = read.int_list(traits["dense_layers"]) if "dense_layers" in traits else set()
    shared_key = traits.get("shared_expert_size")
    return {
        "experts": experts,
        "experts_per_token": read.positive("num_experts_per_tok", default=min(experts, 2), limit=experts),
        "expert_size": read.positive(traits.get("expert_size", "moe_intermediate_size"), default=intermediate or None),
        "shared_expert_size": read.positive(shared_key, default=0, zero_ok=True) if shared_key else 0,
        "shared_expert_gate": bool(traits.get("shared_expert_gate", False)),
        "sparse_layers": sum(1 for i in range(layers) if i not in dense and (i + 1) % step == 0),
    }


# quantization_config keys fit reads, and the JSON type each must have.
_QUANTIZATION_KEYS: dict[str, tuple[type, ...]] = {
    "quant_method": (str,),
    "bits": (int,),
    "load_in_4bit": (bool,),
    "load_in_8bit": (bool,),
}


def _quantization(value: Any, origin: str) -> dict[str, Any] | None:
    """config.json's quantization_config, with the keys fit reads type-checked (None: absent)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UsageError(f"{origin}: config.json quantization_config must be an object, got {str(value)[:40]!r}")
    for key, types in _QUANTIZATION_KEYS.items():
        item = value.get(key)
        if item is None:
            continue
        wrong_bool = isinstance(item, bool) and bool not in types
        out_of_range = key == "bits" and isinstance(item, int) and not 1 <= item <= 64
        if wrong_bool or not isinstance(item, types) or out_of_range:
            expected = {"quant_method": "text", "bits": "an integer from 1 to 64"}.get(key, "true or false")
            raise UsageError(
                f"{origin}: config.json quantization_config.{key} must be {expected}, got {str(item)[:40]!r}"
            )
    return value


def _config_dtype(config: dict[str, Any]) -> str | None:
    value = config.get("torch_dtype") or config.get("dtype")  # transformers 5 writes "dtype"
    if not isinstance(value, str):
        return None
    try:
        return data.canonical_dtype(value)
    except UsageError:
        return None


class _Reader:
    """Typed reads of config.json keys with one-line errors."""

    def __init__(self, config: dict[str, Any], origin: str) -> None:
        self.config, self.origin = config, origin

    def positive(self, key: str, default: Any = None, zero_ok: bool = False, limit: int = _MAX_DIMENSION) -> int:
        value = self.config.get(key)
        if value is None:
            if default is None:
                raise UsageError(f"{self.origin}: config.json has no {key} (is this a decoder-only language model?)")
            return int(default)
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero_ok else 1) or value > limit:
            raise UsageError(
                f"{self.origin}: config.json {key} must be an integer from {0 if zero_ok else 1} to {limit}, "
                f"got {str(value)[:40]!r}"
            )
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.config.get(key)
        if value is None:
            return bool(default)
        if not isinstance(value, bool):
            raise UsageError(f"{self.origin}: config.json {key} must be true or false, got {str(value)[:40]!r}")
        return value

    def trait(self, traits: dict[str, Any], name: str) -> bool:
        value = traits.get(name, False)
        return self.flag(value, False) if isinstance(value, str) else bool(value)

    def int_list(self, key: str) -> set[int]:
        value = self.config.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise UsageError(f"{self.origin}: config.json {key} must be a list of layer numbers")
        return set(value)
