"""Hostile Dockerfiles (issue 17): huge words, self-doubling ARGs, deep exec-form brackets, huge
version numbers. Each is read in linear time or refused with one UsageError line; speed itself
is measured by benchmarks/hostile_inputs.py, not asserted here."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_DOCKERFILE_EXPANSION_BYTES, MAX_DOCKERFILE_INHERITED, MAX_DOCKERFILE_STAGES
from gpu_preflight.images.dockerfile import _shell_split, dockerfile_facts

# Shell text rich in what quoting rules turn on.
SHELL_TEXT = st.text(alphabet=st.sampled_from(list("ab $\\'\"\t\n\r=-#")), max_size=40)


@settings(max_examples=500, deadline=None)
@given(SHELL_TEXT)
def test_shell_split_is_shlex_split(text):
    """The linear splitter reads every text as shlex.split (POSIX) does, errors included."""
    try:
        expected: list[str] | None = shlex.split(text)
    except ValueError:
        expected = None
    try:
        got: list[str] | None = _shell_split(text)
    except ValueError:
        got = None
    assert got == expected


# Dockerfile lines assembled from the pieces hostile files are made of.
LINES = st.lists(
    st.one_of(
        st.sampled_from(
            ["FROM ubuntu", "FROM ${B}", "FROM ${B:-x} AS b", "FROM b", "ARG B=${B}${B}", "ENV E=${E}${E}"]
        ),
        st.builds(lambda n: "RUN " + "[" * n + "]" * n, st.integers(min_value=0, max_value=3000)),
        st.builds(lambda n: f"RUN pip install torch=={'9' * n}", st.integers(min_value=1, max_value=5000)),
        st.builds(lambda s: f"RUN pip install {s}", SHELL_TEXT),
        st.builds(lambda s: f"ARG {s}", SHELL_TEXT),
        st.builds(lambda s: f"ENV {s}", SHELL_TEXT),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(LINES)
def test_any_dockerfile_is_read_or_one_usage_error(lines):
    try:
        dockerfile_facts("\n".join(lines) + "\n")
    except UsageError as exc:
        assert "\n" not in str(exc)


def test_a_self_doubling_arg_is_refused_at_the_expansion_cap():
    """Dockerfile.bomb from issue 17: 40 ARGs, each twice the one before (10 * 2**39 bytes)."""
    text = "ARG A0=xxxxxxxxxx\n" + "".join(f"ARG A{i}=${{A{i - 1}}}${{A{i - 1}}}\n" for i in range(1, 40))
    with pytest.raises(UsageError, match="variable expansion grows past"):
        dockerfile_facts(text + "FROM ubuntu\n", "Dockerfile.bomb")


def test_many_references_to_a_big_value_are_refused_too():
    """Not only doubling: any file whose expansions add up past the cap."""
    big = "x" * (64 * 1024)
    count = MAX_DOCKERFILE_EXPANSION_BYTES // len(big) + 2
    text = f"FROM ubuntu\nENV BIG={big}\n" + "RUN echo $BIG\n" * count
    with pytest.raises(UsageError, match="variable expansion"):
        dockerfile_facts(text)


def test_expansion_within_the_cap_still_works():
    text = "ARG V=2.4.1\nFROM ubuntu\nARG V\nENV A=${V}\nRUN pip install torch==${A}\n"
    torch = dockerfile_facts(text).torch
    assert torch is not None and torch.torch_version == "2.4.1"


def test_deep_exec_form_is_one_usage_error():
    with pytest.raises(UsageError, match="nested too deeply"):
        dockerfile_facts("FROM ubuntu\nRUN " + "[" * 100_000 + "]" * 100_000 + "\n", "Dockerfile.deep")


def test_a_huge_version_number_is_one_usage_error():
    with pytest.raises(UsageError, match="more than 64 digits"):
        dockerfile_facts(f"FROM ubuntu\nRUN pip install torch=={'9' * 5000}\n")


def test_a_megabyte_word_and_half_a_million_words_are_read():
    """Dockerfile.word: shlex took 15-39 s on it (its token grows one character at a time)."""
    assert dockerfile_facts("FROM ubuntu\nRUN pip install " + "x" * 1_000_000 + "\n").torch is None
    text = "FROM ubuntu\nRUN pip install " + "'a' " * 100_000 + "torch==2.4.1\n"
    torch = dockerfile_facts(text).torch
    assert torch is not None and torch.torch_version == "2.4.1"


def test_too_many_stages_are_refused():
    """Each FROM used to search every earlier stage by name: 50,000 stages took minutes."""
    text = "".join(f"FROM ubuntu AS s{i}\n" for i in range(MAX_DOCKERFILE_STAGES + 1))
    with pytest.raises(UsageError, match=f"more than {MAX_DOCKERFILE_STAGES} FROM stages"):
        dockerfile_facts(text)


def test_stages_copying_a_huge_environment_are_refused():
    """FROM <earlier stage> copies its ENV: a chain of stages over a big ENV grew as the square."""
    env = " ".join(f"E{i}=1" for i in range(MAX_DOCKERFILE_INHERITED // 100))
    chain = "".join(f"FROM s{i} AS s{i + 1}\nENV X{i}=1\n" for i in range(200))
    with pytest.raises(UsageError, match="copy more than"):
        dockerfile_facts(f"FROM ubuntu AS s0\nENV {env}\n{chain}")


def test_a_real_sized_chain_of_stages_still_carries_its_environment():
    chain = "".join(f"FROM s{i} AS s{i + 1}\nENV X{i}=1\n" for i in range(40))
    facts = dockerfile_facts(f"FROM ubuntu AS s0\nENV NVIDIA_REQUIRE_CUDA=cuda>=12.0\n{chain}")
    assert facts.env["NVIDIA_REQUIRE_CUDA"] == "cuda>=12.0" and facts.env["X39"] == "1"
    assert facts.stages[0] == "ubuntu AS s0" and len(facts.stages) == 41
