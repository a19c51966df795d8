"""``RUN pip install -r FILE`` in a Dockerfile: the file is read from the build context, found
through the stage's COPY/ADD and WORKDIR, as `docker build .` beside the Dockerfile would."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.images.dockerfile import parse_dockerfile


def build(tmp_path: Path, dockerfile: str, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "Dockerfile").write_text(dockerfile)
    return tmp_path / "Dockerfile"


@pytest.mark.parametrize(
    ("copy_and_run", "where"),
    [
        # the common shape: copy the file next to WORKDIR, install it by its relative name
        ("WORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt", "requirements.txt"),
        # the whole context copied, the file named by its absolute path in the image
        ("COPY . /srv/\nRUN pip install --no-cache-dir -r /srv/env/gpu.txt", "env/gpu.txt"),
        # a folder's contents copied to a destination without a trailing slash
        ("COPY env /opt/env\nWORKDIR /opt\nRUN pip3 install -r env/gpu.txt", "env/gpu.txt"),
        # a wildcard source, the file copied to a named destination, the exec form of RUN
        ('COPY env/*.txt /tmp/\nRUN ["pip", "install", "-r", "/tmp/gpu.txt"]', "env/gpu.txt"),
        ("COPY env/gpu.txt /deps.txt\nRUN uv pip install --system -r /deps.txt", "env/gpu.txt"),
    ],
)
def test_the_requirements_file_a_run_installs_is_read(tmp_path, copy_and_run, where) -> None:
    path = build(tmp_path, f"FROM python:3.11\n{copy_and_run}\n", {where: "numpy\ntorch==2.4.1+cu121\n"})
    facts = parse_dockerfile(str(path))
    assert facts.torch is not None and facts.torch.torch_version == "2.4.1" and facts.torch.variant == "cu121"
    assert facts.torch.source.endswith(f"{where}:2")
    assert facts.notes == ()


def test_the_pip_commands_index_applies_to_the_file(tmp_path) -> None:
    # pip install --index-url .../cu118 -r req.txt: a bare torch pin in the file is that index's build
    run = "COPY req.txt .\nRUN pip install --index-url https://download.pytorch.org/whl/cu118 -r req.txt"
    facts = parse_dockerfile(str(build(tmp_path, f"FROM python:3.11\n{run}\n", {"req.txt": "torch==2.4.1\n"})))
    assert facts.torch.cuda is not None and str(facts.torch.cuda) == "11.8"


def test_an_engine_in_the_file_is_a_target_and_the_runs_own_pin_wins(tmp_path) -> None:
    run = "COPY req.txt .\nRUN pip install -r req.txt torch==2.5.1"
    facts = parse_dockerfile(str(build(tmp_path, f"FROM python:3.11\n{run}\n", {"req.txt": "vllm==0.8.5\ntorch\n"})))
    assert facts.engine is not None and facts.engine.version == "0.8.5"
    assert facts.torch.torch_version == "2.5.1"


@pytest.mark.parametrize(
    "copy",
    [
        "COPY --from=builder /wheels/req.txt /app/req.txt",  # another stage's file, not the context's
        "COPY ../req.txt /app/req.txt",  # outside the context: Docker refuses it, and so do we
        "",  # nothing copies it at all
    ],
)
def test_a_file_not_brought_from_the_context_is_noted_not_guessed(tmp_path, copy) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "req.txt").write_text("torch==2.4.1\n")
    (tmp_path / "ctx" / "app").mkdir()
    (tmp_path / "ctx" / "app" / "req.txt").write_text("torch==2.4.1\n")
    dockerfile = tmp_path / "ctx" / "Dockerfile"
    dockerfile.write_text(f"FROM python:3.11\n{copy}\nRUN pip install -r /app/req.txt\n")
    facts = parse_dockerfile(str(dockerfile))
    assert facts.torch is None
    assert facts.notes == (
        f"{dockerfile}:3: pip install -r '/app/req.txt': not found in the build context through this stage's COPY/ADD",
    )


def test_a_broken_requirements_file_is_one_clear_error(tmp_path, monkeypatch) -> None:
    build(tmp_path, "FROM python:3.11\nCOPY req.txt .\nRUN pip install -r req.txt\n", {"req.txt": "torch==\x01\n"})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as raised:
        parse_dockerfile("Dockerfile")
    assert str(raised.value) == (
        "Dockerfile:3: pip install -r 'req.txt', 'req.txt' in the build context: "
        "contains control characters, not a text file"
    )
