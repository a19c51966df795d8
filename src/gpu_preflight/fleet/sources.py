"""Reading a fleet, one host at a time: host documents, nvidia-smi XML dumps and Kubernetes nodes.

Every reader is a generator of ``HostInput`` (a host to judge), ``Skipped`` (a node that is not
a GPU node) or ``Unreadable`` (an input that is not one of ours: recorded, and the survey goes
on). Nothing is kept once yielded, so a directory of 10,000 files or a JSON Lines file of
10,000 documents is read in the memory of one document.

HOSTFILE may be:
* a file: ``preflight probe --json`` output (also a ``doctor --json`` report, whose host is
  used), an ``nvidia-smi -q -x`` dump (starts with ``<``), ``kubectl get nodes -o json`` output,
  or JSON Lines (``.jsonl``/``.ndjson``, or any file holding one JSON document per line);
* a directory: its ``.json``, ``.jsonl``, ``.ndjson`` and ``.xml`` files, recursively, sorted,
  hidden ones and those that are not regular files (FIFOs, devices) skipped;
* ``-``: standard input, read line by line when its first line is a whole JSON document.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, TypeGuard

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Host
from gpu_preflight.core.limits import MAX_INPUT_BYTES
from gpu_preflight.core.readers import JsonError, loads_json, read_input
from gpu_preflight.fleet import k8s

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
DIRECTORY_SUFFIXES = (".json", ".xml") + JSON_LINES_SUFFIXES
NOT_OURS = "not a host document (preflight probe --json), an nvidia-smi -q -x dump or Kubernetes nodes"


@dataclass(frozen=True)
class HostInput:
    name: str  # the node name, the document's hostname, else the file name
    source: str  # where it was read: "hosts/a.json", "fleet.jsonl:12", "nodes.json: node gpu-7"
    doc: dict[str, Any] | None = None  # a host document, validated only when its shape is new (judge.py)
    host: Host | None = None  # already built (XML, labels)
    hostname: str | None = None  # value of the kubernetes.io/hostname label, for nodeAffinity


@dataclass(frozen=True)
class Unreadable:
    source: str
    message: str


@dataclass(frozen=True)
class Skipped:
    name: str
    source: str
    reason: str


Item = HostInput | Unreadable | Skipped


def check_paths(paths: Iterable[str]) -> None:
    """A path that does not exist is a typo in the request, not a bad host: refuse it up front."""
    for path in paths:
        if path != "-" and not os.path.exists(path):
            raise UsageError(f"{path}: no such file or directory")


def read_hostfiles(paths: Iterable[str]) -> Iterator[Item]:
    for path in paths:
        if path == "-":
            yield from _stdin()
        elif os.path.isdir(path):
            for file in _walk(path):
                yield from read_file(file)
        else:
            yield from read_file(path)


def read_k8s_nodes(path: str) -> Iterator[Item]:
    """``--k8s-nodes FILE``: Kubernetes nodes as JSON or as pasted label text."""
    try:
        data = read_input(path, "--k8s-nodes")
        text = data.decode("utf-8-sig")
    except UsageError as exc:
        yield Unreadable(path, str(exc))
        return
    except UnicodeDecodeError:
        yield Unreadable(path, f"--k8s-nodes {path}: binary data, not Kubernetes nodes")
        return
    try:
        document = loads_json(text)
    except JsonError as exc:
        document = None
        if exc.refused:  # JSON, refused for its numbers, depth or size: not label text either
            yield Unreadable(path, f"--k8s-nodes {path}: refusing this JSON: {exc}")
            return
    if document is not None:  # kubectl -o json, a label map (or a host document given here)
        yield from from_json(document, path, _stem(path))
        return
    try:
        nodes = k8s.nodes_from_text(text, f"--k8s-nodes {path}")
    except UsageError as exc:
        yield Unreadable(path, str(exc))
        return
    yield from node_inputs(nodes, path, _stem(path))


def read_file(path: str) -> Iterator[Item]:
    if path.lower().endswith(JSON_LINES_SUFFIXES):
        try:
            with open(path, "rb") as stream:
                yield from _json_lines(_bounded_lines(stream), path)
        except OSError as exc:
            yield Unreadable(path, f"{path}: cannot read: {exc.strerror or exc}")
        return
    try:
        data = read_input(path, "HOSTFILE")
    except UsageError as exc:
        yield Unreadable(path, str(exc))
        return
    yield from read_document(data, path, _stem(path))


def read_document(data: bytes, origin: str, name: str) -> Iterator[Item]:
    """One input's bytes: XML, one JSON document, or JSON Lines without the file suffix."""
    if data.lstrip()[:1] == b"<":
        from gpu_preflight.probe.smi_xml import parse_smi_xml

        try:
            yield HostInput(name, origin, host=parse_smi_xml(data, origin))
        except UsageError as exc:
            yield Unreadable(origin, str(exc))
        return
    try:
        doc = loads_json(data)
    except JsonError as exc:
        if exc.syntax is not None and exc.syntax.msg == "Extra data" and exc.syntax.lineno > 1:
            yield from _json_lines(data.splitlines(), origin)  # one document per line
        elif exc.refused:
            yield Unreadable(origin, f"{origin}: refusing this JSON: {exc}")
        else:
            yield Unreadable(origin, f"{origin}: not valid JSON ({exc})")
        return
    yield from from_json(doc, origin, name)


def from_json(doc: object, origin: str, name: str) -> Iterator[Item]:
    """A parsed JSON document: a host document, a doctor report, or Kubernetes nodes."""
    if isinstance(doc, dict) and str(doc.get("schema", "")).startswith("gpu-preflight/report/"):
        doc = doc.get("host")
    if is_host_document(doc):
        hostname = doc.get("hostname")
        yield HostInput(hostname if isinstance(hostname, str) and hostname else name, origin, doc=doc)
        return
    try:
        nodes = k8s.nodes_from_json(doc)
    except UsageError as exc:
        yield Unreadable(origin, f"{origin}: {exc}")
        return
    if nodes is None:
        yield Unreadable(origin, f"{origin}: {NOT_OURS}")
    else:
        yield from node_inputs(nodes, origin, name)


def is_host_document(doc: object) -> TypeGuard[dict[str, Any]]:
    if not isinstance(doc, dict):
        return False
    schema = doc.get("schema")
    # A newer schema is passed on so that Host.from_dict can say which one it is.
    return str(schema).startswith("gpu-preflight/host/") if schema is not None else "driver" in doc and "gpus" in doc


def node_inputs(nodes: list[k8s.RawNode], origin: str, fallback: str) -> Iterator[Item]:
    for node in nodes:
        hostname = node.labels.get("kubernetes.io/hostname")
        name = node.name or hostname or fallback
        source = f"{origin}: node {name}" if node.name or len(nodes) > 1 else origin
        published = node.annotations.get(k8s.HOST_ANNOTATION)
        if published is not None:  # a probe document beats labels: it has every GPU's facts
            try:
                doc = loads_json(published)
            except JsonError:
                doc = None
            if is_host_document(doc):
                yield HostInput(name, source, doc=doc, hostname=hostname)
            else:
                yield Unreadable(source, f"{source}: annotation {k8s.HOST_ANNOTATION} is not a host document")
            continue
        try:
            gpu = k8s.GpuLabels.from_labels(node.labels)
        except UsageError as exc:
            yield Unreadable(source, f"{source}: {exc}")
            continue
        if gpu is None:
            yield Skipped(
                name, source, "no nvidia.com GPU labels (not a GPU node, or GPU Feature Discovery does not run there)"
            )
        else:
            yield HostInput(name, source, host=gpu.to_host(name), hostname=hostname)


def _json_lines(lines: Iterable[bytes | None], origin: str, first: int = 1) -> Iterator[Item]:
    for number, line in enumerate(lines, first):
        where = f"{origin}:{number}"
        if line is None:  # from _bounded_lines: a line no document has
            yield Unreadable(where, f"{where}: a line longer than {MAX_INPUT_BYTES >> 20} MiB; stopped reading")
            return
        if not line.strip():
            continue
        try:
            doc = loads_json(line)
        except JsonError as exc:
            if exc.refused:
                yield Unreadable(where, f"{where}: refusing this JSON: {exc}")
                continue
            text = line.decode("utf-8", "replace").strip() if isinstance(line, bytes) else str(line).strip()
            shown = text if len(text) <= 100 else text[:100] + "..."
            yield Unreadable(where, f"{where}: not a JSON document on this line: {shown!r}")
            continue
        yield from from_json(doc, where, where if origin != "-" else f"stdin:{number}")


def _bounded_lines(stream: IO[bytes], limit: int = MAX_INPUT_BYTES) -> Iterator[bytes | None]:
    """The lines of a stream, each read at most ``limit`` bytes into memory: a longer one is
    yielded as None and ends the reading (a file without newlines must not be read whole)."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit:
            yield None
            return
        yield line


def _stdin(stream: IO[bytes] | None = None) -> Iterator[Item]:
    stream = stream or sys.stdin.buffer
    head: bytes | None = b""
    number = 0
    lines = _bounded_lines(stream)
    for head in lines:
        number += 1
        if head is None or head.strip():
            break
    if head is None:
        yield Unreadable("-", f"-: standard input: a line longer than {MAX_INPUT_BYTES >> 20} MiB; refusing to read it")
        return
    try:
        first = loads_json(head)
    except JsonError:
        first = None
    if isinstance(first, (dict, list)):  # JSON Lines: stream it
        yield from from_json(first, f"-:{number}", f"stdin:{number}")
        yield from _json_lines(lines, "-", number + 1)
        return
    rest = stream.read(MAX_INPUT_BYTES + 1 - len(head))
    if len(head) + len(rest) > MAX_INPUT_BYTES:
        yield Unreadable("-", f"-: standard input larger than {MAX_INPUT_BYTES >> 20} MiB; refusing to read it")
    elif not (head + rest).strip():
        yield Unreadable("-", "-: standard input is empty")
    else:
        yield from read_document(head + rest, "-", "stdin")


def _walk(directory: str) -> Iterator[str]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for file in sorted(files):
            path = os.path.join(root, file)
            # Regular files only: reading a FIFO or a device found in a folder would block or never end
            # (one named on the command line is read: `fleet <(kubectl ...)` is a pipe).
            if not file.startswith(".") and file.lower().endswith(DIRECTORY_SUFFIXES) and os.path.isfile(path):
                yield path


def _stem(path: str) -> str:
    base = os.path.basename(path.rstrip("/")) or path
    for suffix in DIRECTORY_SUFFIXES + (".yaml", ".yml", ".txt"):
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base
