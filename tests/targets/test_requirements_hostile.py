"""Hostile requirement inputs (issue 17): absurd numbers in versions, includes of files that are
not requirements files (secrets, FIFOs, devices). Each is one UsageError line, quickly, and a
file only named by an include never has its content shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.limits import MAX_INT_DIGITS
from gpu_preflight.targets.index import pinned_release
from gpu_preflight.targets.specs import parse_requirements_file, parse_torch_spec

from support.targets import write

# A version with one number longer than any real one, at any place a number goes in PEP 440.
HUGE = st.integers(min_value=MAX_INT_DIGITS + 1, max_value=6000).map(lambda n: "9" * n)
HUGE_VERSIONS = st.one_of(
    HUGE,
    HUGE.map(lambda n: f"2.{n}"),
    HUGE.map(lambda n: f"2.4.{n}"),
    HUGE.map(lambda n: f"{n}!2.4"),
    HUGE.map(lambda n: f"2.4rc{n}"),
    HUGE.map(lambda n: f"2.4.post{n}"),
    HUGE.map(lambda n: f"2.4.dev{n}"),
    HUGE.map(lambda n: f"2.4.1+cu{n}"),
)


@settings(max_examples=60, deadline=None)
@given(HUGE_VERSIONS)
def test_a_version_with_a_huge_number_is_one_usage_error(version):
    with pytest.raises(UsageError) as caught:
        pinned_release(f"=={version}", "requirements.txt:1")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    HUGE_VERSIONS,
    st.sampled_from(["torch=={}", "torch==={}", "torch @ https://x/torch-{}-cp310-cp310-linux_x86_64.whl"]),
)
def test_requirements_files_with_huge_numbers_are_usage_errors(tmp_path, version, template):
    path = tmp_path / "requirements.txt"
    path.write_text(template.format(version) + "\n")
    with pytest.raises(UsageError):
        parse_requirements_file(path)


def test_the_issue_17_requirements_line(in_tmp: Path) -> None:
    write(in_tmp / "req.txt", f"torch=={'9' * 5000}\n")
    with pytest.raises(UsageError, match="more than 64 digits"):
        parse_requirements_file("req.txt")


def test_torch_flag_with_a_huge_number_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        parse_torch_spec("2." + "9" * 100)


# Text that is not a requirement: what a secret, a shadow file or a key looks like.
SECRETS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=40).filter(
    lambda s: not s.startswith(("-", "#", "/", ".")) and "/" not in s and "\\" not in s
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SECRETS)
def test_an_included_file_that_is_not_a_requirements_file_is_never_shown(tmp_path, secret):
    (tmp_path / "secret").write_text(f"{secret}\n")
    (tmp_path / "requirements.txt").write_text("numpy\n-r secret\n")
    try:
        parse_requirements_file(tmp_path / "requirements.txt")
    except UsageError as exc:
        message = str(exc)
        assert secret not in message and repr(secret)[1:-1] not in message
        assert "secret:1" in message  # which line failed is still said


def test_an_included_shadow_like_file_names_the_line_not_the_content(in_tmp: Path) -> None:
    write(in_tmp / "shadow", "root:*:20228:0:99999:7:::\n")
    write(in_tmp / "requirements.txt", "-r shadow\n")
    with pytest.raises(UsageError) as caught:
        parse_requirements_file("requirements.txt")
    assert "shadow:1" in str(caught.value) and "requirements.txt:1" in str(caught.value)
    assert "root" not in str(caught.value)


def test_the_named_file_still_shows_its_bad_line(in_tmp: Path) -> None:
    write(in_tmp / "requirements.txt", "not a requirement at all\n")
    with pytest.raises(UsageError, match="not a requirement at all"):
        parse_requirements_file("requirements.txt")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_an_included_fifo_is_refused_without_opening_it(in_tmp: Path) -> None:
    os.mkfifo(in_tmp / "pipe")  # opening it for reading would block until a writer comes
    write(in_tmp / "requirements.txt", "-r pipe\n")
    with pytest.raises(UsageError, match="not a regular file"):
        parse_requirements_file("requirements.txt")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_an_included_device_is_refused(in_tmp: Path) -> None:
    write(in_tmp / "requirements.txt", "-c /dev/zero\n")
    with pytest.raises(UsageError, match="not a regular file"):
        parse_requirements_file("requirements.txt")
