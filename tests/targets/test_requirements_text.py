"""A requirements file's text (targets/pip.py over core/readers.read_text), or one line saying why
it is no text file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gpu_preflight.targets.pip import read_requirements_text

from support.targets import usage_error, write

LABEL = "--requirements 'requirements.txt'"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text (a binary file?)"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "contains control characters, not a text file"),
        (b"torch==2.1.0\x00\n", "contains control characters, not a text file"),
        (b"torch==2.1.0\n\xff\xfe\xfa", "not UTF-8 text (a binary file?)"),
        ("torch==2.1.0\n".encode("utf-16"), "UTF-16 text (PowerShell's '>' writes it); save the file as UTF-8"),
        (b"# " + b"x" * (1024 * 1024) + b"\n", "larger than 1 MiB, not a requirements file"),
    ],
)
def test_unusable_files(in_tmp: Path, data: bytes, message: str) -> None:
    write(in_tmp / "requirements.txt", data)
    assert usage_error(read_requirements_text, "requirements.txt", LABEL) == f"{LABEL}: {message}"


def test_file_of_exactly_one_mib_is_read(in_tmp: Path) -> None:
    data = b"\xef\xbb\xbftorch==2.1.0+cu118\n# "
    data += b"x" * (1024 * 1024 - len(data) - 1) + b"\n"
    write(in_tmp / "requirements.txt", data)
    assert read_requirements_text("requirements.txt", LABEL) == data.decode("utf-8-sig")  # the BOM is dropped


def test_missing_file(in_tmp: Path) -> None:
    assert usage_error(read_requirements_text, "nope.txt", LABEL) == f"{LABEL}: cannot read: No such file or directory"


def test_directory(in_tmp: Path) -> None:
    assert usage_error(read_requirements_text, str(in_tmp), LABEL) == f"{LABEL}: is a directory, not a file"


def test_unreadable_file(in_tmp: Path) -> None:
    path = write(in_tmp / "requirements.txt", "torch==2.1.0\n")
    os.chmod(path, 0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who reads any file (root)")
        message = usage_error(read_requirements_text, "requirements.txt", LABEL)
        assert message == f"{LABEL}: cannot read: Permission denied"
    finally:
        os.chmod(path, 0o644)
