"""A tiny random Qwen2 chat model and tokenizer, built locally in a second (no download): a
byte-level BPE tokenizer trained on a few sentences, a Qwen-style chat template, and
``Qwen2ForCausalLM`` with random weights. Used by the serve tests and the benchmark."""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "hello world, the quick brown fox jumps over the lazy dog.",
    "You are a programming assistant. Solve the following problem step by step:",
    "def add(a, b): return a + b  # 0123456789 <think> reasoning </think> answer",
]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def build_tiny_model(
    directory: Path,
    *,
    layers: int = 2,
    hidden: int = 64,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate: int = 128,
    max_positions: int = 512,
    seed: int = 0,
    vocab: int = 400,
    model_vocab: int | None = None,
    dtype: str = "float32",
    init_device: str = "cpu",
) -> Path:
    """``model_vocab``: the embedding's size when it should exceed the tokenizer's (a real model's
    shape; ids beyond the tokenizer decode to nothing). ``dtype``: the weights as saved.
    ``init_device``: where the random weights are drawn ("cuda" is much faster for 1.5B)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(CORPUS * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.add_tokens(["<think>", "</think>"])
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)
    config = Qwen2Config(
        vocab_size=model_vocab or len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    with torch.device(init_device):
        model = Qwen2ForCausalLM(config).to(getattr(torch, dtype))
    model.save_pretrained(directory)
    return directory


VIBETHINKER_SHAPE = {  # the Qwen2 shape of VibeThinker-1.5B (fit's models.toml), random weights
    "layers": 28,
    "hidden": 1536,
    "heads": 12,
    "kv_heads": 2,
    "intermediate": 8960,
    "max_positions": 131072,
    "model_vocab": 151936,
    "dtype": "bfloat16",
}

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="build a random Qwen2 chat model and tokenizer in DIR")
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--vibethinker-shape", action="store_true", help="28 layers, hidden 1536, vocab 151936, bfloat16 (3 GB)"
    )
    parser.add_argument("--init-device", default="cpu")
    args = parser.parse_args()
    print(
        build_tiny_model(
            args.directory, **(VIBETHINKER_SHAPE if args.vibethinker_shape else {}), init_device=args.init_device
        )
    )
