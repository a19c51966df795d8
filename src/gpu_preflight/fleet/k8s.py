"""Kubernetes nodes as hosts: NVIDIA GPU Feature Discovery (GFD) / GPU Operator labels -> Host.

Labels read (all ``nvidia.com/``):

* ``cuda.driver-version.full``, else ``cuda.driver-version.{major,minor,revision}``, else the
  older ``cuda.driver.{major,minor,rev}``: the driver version. Parts are joined as written, so
  rev ``02`` stays ``450.80.02`` (that is the real version) and an empty rev is dropped
  (``455.06`` has two parts).
* ``cuda.runtime-version.full`` / ``cuda.runtime-version.{major,minor}`` / ``cuda.runtime.{major,minor}``:
  despite the name, the *driver's highest CUDA* (nvidia-smi's "CUDA Version"), not a runtime
  anything on the node uses. It becomes ``Driver.cuda``.
* ``gpu.product``, ``gpu.count``, ``gpu.memory`` (MiB; one GPU Operator release wrote bytes),
  ``gpu.compute.{major,minor}``, ``gpu.family``, ``mig.strategy``, ``mig.capable`` and the
  per-profile ``mig-<profile>.{count,memory}`` of the mixed strategy. With the single strategy
  GFD renames the product (``A100-SXM4-40GB-MIG-1g.5gb``) and counts MIG devices: each becomes
  one GPU of the host, as each is what a pod gets.

Nodes come from ``kubectl get nodes -o json`` (a NodeList, one Node, a list of either, or a bare
label map) or from text people paste: ``kubectl get nodes -o yaml`` excerpts with ``...``
elisions, ``jq .metadata.labels | grep nvidia`` member lines (trailing commas, no braces),
``key=value`` lines and ``kubectl get nodes --show-labels`` tables. The text reader is tolerant
on purpose: none of those is loadable JSON or YAML, and they are what people have.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Driver, Gpu, Host
from gpu_preflight.core.limits import MAX_HOST_GPUS, MAX_INT_DIGITS, MAX_K8S_LABELS, MAX_K8S_NODES, MAX_K8S_TEXT_LINES
from gpu_preflight.core.readers import iter_lines

SOURCE = "k8s-labels"
# Where the DaemonSet of docs/fleet.md publishes a node's `preflight probe --json` document.
HOST_ANNOTATION = "gpu-preflight/host"

_NV = "nvidia.com/"
_MIG_PROFILE = "nvidia.com/mig-"
MAX_GPUS = MAX_HOST_GPUS  # 8 GPUs x 7 MIG devices is 56; nothing real comes near
_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}  # Kubernetes' GOARCH names -> platform.machine()
# gpu.memory is MiB; no GPU has 16 TiB, while the byte count of any real GPU is above this.
_BYTES_THRESHOLD = 1 << 24
# Labels only GPU Feature Discovery writes (the GPU Operator's gpu.deploy.* and gpu.present are
# on nodes before GFD ran, and say nothing about the GPUs).
_GFD_KEYS = ("gpu.product", "gpu.count", "cuda.driver.major", "cuda.driver-version.major", "cuda.driver-version.full")
_ELISIONS = frozenset({"...", "[...]", "{", "}", "[", "]", "---"})
_PAIR = re.compile(r"""(?P<key>"[^"]*"|'[^']*'|[^\s:='"]+)\s*(?P<sep>[:=])\s*(?P<value>.*)""")
_ITEM_START = re.compile(r"^\s*- (apiVersion|kind|metadata):")
_LABELS_LINE = re.compile(r"^[ \t]*labels:[ \t]*\r?$", re.M)


@dataclass
class RawNode:
    """A node as read: its name when the input has one, its labels and annotations."""

    name: str | None
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GpuLabels:
    """What GFD says about a node's GPUs, as values (tests compare these per fixture)."""

    driver_version: str | None
    driver_cuda: str | None  # the driver's highest CUDA, from the cuda.runtime.* labels
    product: str | None
    count: int | None
    memory_mib: int | None  # per GPU; per MIG device with the single strategy
    compute_capability: str | None
    family: str | None
    mig_strategy: str  # none | single | mixed
    mig_capable: bool | None
    mig_profiles: tuple[tuple[str, int, int | None], ...]  # (profile, count, memory MiB), mixed strategy
    replicas: int | None  # time-slicing replicas per GPU
    machine: str | None  # x86_64 | aarch64 (kubernetes.io/arch)
    system: str | None  # Linux | Windows (kubernetes.io/os)

    @classmethod
    def from_labels(cls, labels: dict[str, str]) -> GpuLabels | None:
        """None for a node without GFD labels (a CPU node, or GFD not running there)."""
        if not any(_NV + key in labels for key in _GFD_KEYS):
            return None
        _screen_numbers(labels)
        get = labels.get
        profiles = tuple(
            (
                key[len(_MIG_PROFILE) : -len(".count")],
                _int(value) or 0,
                _memory_mib(get(key[: -len(".count")] + ".memory")),
            )
            for key, value in sorted(labels.items())
            if key.startswith(_MIG_PROFILE) and key.endswith(".count")
        )
        capable = get(_NV + "mig.capable")
        os_label = get("kubernetes.io/os") or get("beta.kubernetes.io/os")
        arch = get("kubernetes.io/arch") or get("beta.kubernetes.io/arch")
        return cls(
            driver_version=_driver_version(labels),
            driver_cuda=_driver_cuda(labels),
            product=get(_NV + "gpu.product") or None,
            count=_count(get(_NV + "gpu.count")),
            memory_mib=_memory_mib(get(_NV + "gpu.memory")),
            compute_capability=_joined(labels, "gpu.compute.major", "gpu.compute.minor", exact=2),
            family=get(_NV + "gpu.family") or None,
            mig_strategy=get(_NV + "mig.strategy") or "none",
            mig_capable=None if capable is None else capable == "true",
            mig_profiles=profiles,
            replicas=_int(get(_NV + "gpu.replicas")),
            machine=_ARCH.get(arch, arch) if arch else None,
            system=os_label.capitalize() if os_label else None,
        )

    @property
    def mig_enabled(self) -> bool:
        return bool(self.mig_profiles) or "-MIG-" in (self.product or "").upper()

    def to_host(self, name: str) -> Host:
        mig_mode = "Enabled" if self.mig_enabled else ("Disabled" if self.mig_capable else None)
        count = 1 if self.count is None and self.product else (self.count or 0)
        gpus = [
            Gpu(
                index=index,
                name=self.product or "unknown",  # GFD's spelling; the knowledge base reads it
                compute_capability=self.compute_capability,
                compute_capability_source=SOURCE if self.compute_capability else None,
                memory_total_mib=self.memory_mib,
                architecture=self.family,
                mig_mode=mig_mode,
            )
            for index in range(count)
        ]
        windows = self.system == "Windows"
        driver = Driver(
            version=self.driver_version,
            cuda=self.driver_cuda,
            source=SOURCE,
            platform="windows" if windows else "linux",
        )
        platform = {k: v for k, v in (("system", self.system), ("machine", self.machine)) if v}
        return Host(hostname=name, driver=driver, gpus=gpus, platform=platform, source=SOURCE)


_LONG_NUMBER = re.compile(f"[0-9]{{{MAX_INT_DIGITS + 1},}}")


def _screen_numbers(labels: dict[str, str]) -> None:
    """A label holding a number longer than any count, size or version part: refused (UsageError,
    one line) rather than read as a typo or left to fail later in int() or a version parse."""
    for key, value in labels.items():
        if key.startswith(_NV) and _LONG_NUMBER.search(value):
            raise UsageError(f"label {key[:80]}: a number of {len(value)} characters, not a real value")


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= MAX_INT_DIGITS else None


def _count(value: str | None) -> int | None:
    count = _int(value)
    return count if count is not None and count <= MAX_GPUS else None  # a typo must not build a million GPUs


def _memory_mib(value: str | None) -> int | None:
    number = _int(value)
    if number is None:
        return None
    return number >> 20 if number >= _BYTES_THRESHOLD else number  # bytes (16106127360 on a T4)


def _joined(labels: dict[str, str], *names: str, exact: int = 1) -> str | None:
    """``major.minor[.rev]`` from separate labels, each part as written; None unless the first
    ``exact`` parts are there and all parts present are digits."""
    parts = [labels.get(_NV + name, "").strip() for name in names]
    if not all(parts[:exact]):
        return None
    parts = [p for p in parts if p]
    return ".".join(parts) if all(p.isascii() and p.isdigit() for p in parts) else None


def _driver_version(labels: dict[str, str]) -> str | None:
    full = labels.get(_NV + "cuda.driver-version.full", "").strip()
    if re.fullmatch(r"\d+(\.\d+){1,3}", full):
        return full
    return _joined(
        labels, "cuda.driver-version.major", "cuda.driver-version.minor", "cuda.driver-version.revision"
    ) or _joined(labels, "cuda.driver.major", "cuda.driver.minor", "cuda.driver.rev")


def _driver_cuda(labels: dict[str, str]) -> str | None:
    full = labels.get(_NV + "cuda.runtime-version.full", "").strip()
    if re.fullmatch(r"\d+\.\d+", full):
        return full
    return _joined(labels, "cuda.runtime-version.major", "cuda.runtime-version.minor", exact=2) or _joined(
        labels, "cuda.runtime.major", "cuda.runtime.minor", exact=2
    )


# --- reading nodes --------------------------------------------------------------------------------


def nodes_from_json(data: object) -> list[RawNode] | None:
    """Nodes of parsed ``kubectl get nodes -o json`` output (or a Node, a list, a label map);
    None when ``data`` is none of those."""
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        items = data["items"]
        if len(items) > MAX_K8S_NODES:
            raise _too_many_nodes("kubectl output")
    elif isinstance(data, list):
        items = data
        if len(items) > MAX_K8S_NODES:
            raise _too_many_nodes("a JSON list")
    elif isinstance(data, dict):
        items = [data]
    else:
        return None
    nodes = []
    for item in items:
        if not isinstance(item, dict):
            return None
        metadata = item.get("metadata")
        if isinstance(metadata, dict):
            if item.get("kind", "Node") != "Node":
                continue  # a List may hold other kinds; only nodes describe machines
            labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
            if not (_string_map(labels) and _string_map(annotations)):
                return None
            name = metadata.get("name")
            nodes.append(RawNode(name if isinstance(name, str) else None, labels, annotations))
        elif item and _string_map(item) and any("/" in key for key in item):
            nodes.append(RawNode(None, item))  # a bare label map (jq .items[].metadata.labels)
        else:
            return None
    return nodes


def _string_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def nodes_from_text(text: str, origin: str) -> list[RawNode]:
    """Nodes of label text that is not JSON (see the module docstring). UsageError when no
    label at all can be read."""
    if text.count("\n") > MAX_K8S_TEXT_LINES:
        raise UsageError(
            f"{origin}: more than {MAX_K8S_TEXT_LINES:,} lines of label text; give kubectl get nodes -o json"
        )
    lines = iter_lines(text)  # lazily: a list of every line of 64 MiB would take ten times that
    first = next(lines, "").split()
    if first[:1] == ["NAME"] and first[-1:] == ["LABELS"]:
        nodes = _show_labels_table(lines, origin)
    elif _LABELS_LINE.search(text):
        nodes = _yaml_nodes(iter_lines(text), origin)
    else:
        nodes = [RawNode(None, _flat_labels(iter_lines(text), origin))]
    nodes = [n for n in nodes if n.labels]
    if not nodes:
        raise UsageError(
            f"{origin}: no Kubernetes node labels found (expected kubectl get nodes -o json, a label map, or "
            "key=value / key: value label lines)"
        )
    return nodes


def _pair(line: str) -> tuple[str, str] | None:
    """``key: value``, ``"key": "value",`` or ``key=value`` -> (key, value) with quotes removed."""
    match = _PAIR.fullmatch(line.strip().removeprefix("- "))
    if not match:
        return None
    key, value = _unquote(match["key"]), match["value"].strip()
    if value[:1] == '"' and value.endswith(","):
        value = value[:-1].rstrip()  # a JSON member line
    return key, _unquote(value)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            return text[1:-1]
        return decoded if isinstance(decoded, str) else text[1:-1]
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return text


def _too_many_nodes(origin: str) -> UsageError:
    return UsageError(f"{origin}: more than {MAX_K8S_NODES:,} nodes; no cluster has that many (split the input)")


def _too_many_labels(origin: str) -> UsageError:
    return UsageError(f"{origin}: more than {MAX_K8S_LABELS:,} labels for one node; no node has that many")


def _flat_labels(lines: Iterable[str], origin: str) -> dict[str, str]:
    # Only prefixed keys (nvidia.com/..., kubernetes.io/hostname): every label this reader
    # uses has one, and it keeps prose or error text from passing for labels.
    pairs = (_pair(line) for line in lines if line.strip() not in _ELISIONS)
    labels: dict[str, str] = {}
    for key, value in filter(None, pairs):
        if "/" in key:
            labels[key] = value
            if len(labels) > MAX_K8S_LABELS:
                raise _too_many_labels(origin)
    return labels


def _show_labels_table(rows: Iterable[str], origin: str) -> list[RawNode]:
    nodes: list[RawNode] = []
    for row in rows:
        words = row.split()
        if len(words) >= 2:
            if len(nodes) >= MAX_K8S_NODES:
                raise _too_many_nodes(origin)
            pairs = (item.partition("=") for item in words[-1].split(","))
            nodes.append(RawNode(words[0], {k: v for k, sep, v in pairs if sep and "/" in k}))
    return nodes


def _yaml_nodes(lines: Iterable[str], origin: str) -> list[RawNode]:
    """Nodes of ``kubectl get nodes -o yaml`` text, tolerating elided parts: a new list item
    starts a node; ``name`` and ``labels`` are read only directly under ``metadata``."""
    nodes: list[RawNode] = []
    metadata_indent = child_indent = labels_indent = item_column = None
    for line in lines:
        if not line.strip() or line.strip() in _ELISIONS or line.lstrip().startswith("#"):
            continue
        column = len(line) - len(line.lstrip())
        # Nested lists (managedFields, ownerReferences) also hold "- apiVersion:" items: only
        # items at the column of the first one are nodes.
        if _ITEM_START.match(line) and item_column in (None, column):
            if len(nodes) >= MAX_K8S_NODES:
                raise _too_many_nodes(origin)
            item_column = column
            nodes.append(RawNode(None, {}))
            metadata_indent = child_indent = labels_indent = None
        indent = len(line) - len(line.lstrip(" -"))
        pair = _pair(line)
        if labels_indent is not None:
            if indent > labels_indent:
                if pair:
                    nodes[-1].labels[pair[0]] = pair[1]
                    if len(nodes[-1].labels) > MAX_K8S_LABELS:
                        raise _too_many_labels(origin)
                continue
            labels_indent = None
        if metadata_indent is not None and indent <= metadata_indent:
            metadata_indent = child_indent = None
        if pair is None:
            continue
        key, value = pair
        if key == "metadata" and not value:
            metadata_indent, child_indent = indent, None
            if not nodes:
                nodes.append(RawNode(None, {}))
        elif metadata_indent is not None:
            child_indent = indent if child_indent is None else child_indent
            if indent == child_indent and key == "labels" and not value:
                labels_indent = indent
            elif indent == child_indent and key == "name" and value:
                nodes[-1].name = value
    return nodes
