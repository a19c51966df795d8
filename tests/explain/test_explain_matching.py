"""Loose matching: the same message however the log mangles it, and nothing where it is absent."""

from __future__ import annotations

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.findings import CAUSES
from gpu_preflight.explain import explain_text
from gpu_preflight.explain.logtext import LogText, Phrase, decode_log
from gpu_preflight.explain.signatures import (
    SignatureError,
    load_signatures,
    parse_signatures,
)

MESSAGE = "RuntimeError: CUDA error: no kernel image is available for execution on the device"


def top(text: str) -> str | None:
    causes = explain_text(text).causes
    return causes[0].cause if causes else None


@pytest.mark.parametrize(
    "text",
    [
        MESSAGE,
        MESSAGE.upper(),
        MESSAGE.replace(" ", "  "),
        "\x1b[31m" + MESSAGE + "\x1b[0m",
        "line one\r\n" + MESSAGE + "\r\n",
        "progress 10%\rprogress 90%\r" + MESSAGE,
        "RuntimeError: CUDA error: no kernel image is available\nfor execution on the device",  # wrapped
        "(VllmWorker rank=0 pid=63590) ERROR 06-20 12:27:37 [multiproc_executor.py:527] " + MESSAGE,
        "> " + MESSAGE,  # quoted in an issue
    ],
)
def test_wording_survives_mangling(text):
    assert top(text) == "no-kernel-image"


def test_words_match_whole():
    phrase = Phrase.compile("out of memory")
    assert LogText.from_text("ran out of memory").search(phrase)
    assert not LogText.from_text("throughout of memorylane").search(phrase)


def test_gap_is_bounded():
    phrase = Phrase.compile("loaded runtime cudnn library ... but source was compiled with")
    near = LogText.from_text("Loaded runtime CuDNN library: 8.0.5 but source was compiled with: 8.1.0")
    far = LogText.from_text("Loaded runtime CuDNN library " + "x " * 500 + "but source was compiled with")
    assert near.search(phrase) and not far.search(phrase)


def test_utf16_and_bom_logs_decode():
    text = "RuntimeError: Found no NVIDIA driver on your system.\r\n"
    assert decode_log(text.encode("utf-16")).strip() == text.strip()
    assert decode_log(text.encode("utf-16-le")).strip() == text.strip()
    assert decode_log(b"\xef\xbb\xbf" + text.encode()).strip() == text.strip()


def test_binary_is_refused():
    with pytest.raises(UsageError):
        decode_log(bytes(range(256)) * 64)


def test_long_lines_are_split_not_lost():
    log = LogText.from_text("x" * 20000 + " Torch not compiled with CUDA enabled")
    assert max(len(line) for line in log.lines) <= 4096
    assert top("x" * 20000 + " Torch not compiled with CUDA enabled") == "cpu-only-build"


def test_unrelated_logs_explain_nothing():
    assert explain_text("epoch 1 loss 0.5\nepoch 2 loss 0.4\nTraining finished.").causes == []
    assert explain_text("").causes == []


def test_signature_file_covers_every_cause():
    signatures = load_signatures()
    assert set(signatures.causes) == CAUSES
    assert {s.cause for s in signatures.signatures} == CAUSES
    for info in signatures.causes.values():
        assert info.title and info.fix


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[[signature]]\nid="x"\ncause="nope"\nweight=0.5\nmatch=["abc"]', "unknown cause"),
        ('[[signature]]\nid="x"\ncause="no-driver"\nweight=2\nmatch=["abc"]', "weight"),
        ('[[signature]]\nid="x"\ncause="no-driver"\nweight=0.5', "match"),
        ('[[signature]]\nid="x"\ncause="no-driver"\nweight=0.5\nwhen="no_such_condition"', "unknown condition"),
        ('[[signature]]\nid="x"\ncause="no-driver"\nweight=0.5\nmatch=["abc"]\nfix=["{nope}"]', "placeholder"),
        ('[[signature]]\nid="x"\ncause="no-driver"\nweight=0.5\nmatch=["abc"]\ncolour="red"', "unknown field"),
    ],
)
def test_malformed_signatures_are_refused(toml, message):
    causes = "\n".join(f'[cause.{c}]\ntitle="t"\nfix=["f"]' for c in sorted(CAUSES))
    with pytest.raises(SignatureError, match=message):
        parse_signatures(causes + "\n" + toml)


def test_specific_outranks_generic():
    # vLLM's wrapper adds nothing; the cause above it wins; an OOM symptom loses to the dtype.
    log = "\n".join(
        [
            "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. "
            "Your Tesla T4 GPU has compute capability 7.5.",
            "RuntimeError: Engine core initialization failed. See root cause above.",
        ]
    )
    assert top(log) == "unsupported-dtype"


def test_legacy_encodings_keep_their_ascii():
    text = "错误：RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    from gpu_preflight.explain import explain_bytes

    for encoding in ("gbk", "utf-8", "utf-16"):
        causes = explain_bytes(text.encode(encoding)).causes
        assert causes and causes[0].cause == "no-kernel-image", encoding


def test_an_information_line_is_no_evidence_but_the_real_failure_beside_it_is():
    probe = (
        "W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library "
        "'libnvinfer.so.7'; dlerror: libnvinfer.so.7: cannot open shared object file: No such file or directory\n"
    )
    assert explain_text(probe).causes == []
    failure = probe + (
        "W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library "
        "'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open shared object file: No such file or directory\n"
    )
    first = explain_text(failure).causes[0]
    assert first.cause == "missing-cuda-library"
    assert [m.line for m in first.matches] == [2]
