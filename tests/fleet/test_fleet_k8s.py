"""Kubernetes nodes as hosts: every real GPU Feature Discovery label set, exact values per file,
and the tolerant readers for what people paste (YAML excerpts, key=value, jq | grep lines)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.fleet import read_k8s_nodes, survey
from gpu_preflight.fleet.k8s import GpuLabels, RawNode, nodes_from_json, nodes_from_text
from gpu_preflight.fleet.sources import HostInput, Skipped
from gpu_preflight.knowledge import load_knowledge
from gpu_preflight.targets.specs import collect_targets

from support.paths import MISSING, REAL

K8S = REAL / "k8s-nodes"

# file -> (node name, driver version, driver's highest CUDA, gpu.product, GPUs on the host,
#          memory MiB per GPU, compute capability, MIG strategy, MIG profiles (name, count, MiB))
EXPECTED = {
    "gfd-readme__a100__455.06__kubectl-get-nodes-yaml-fragment.yaml": (
        "gfd-readme__a100__455.06__kubectl-get-nodes-yaml-fragment",
        "455.06",
        "11.1",
        "A100-SXM4-40GB",
        1,
        39538,
        "8.0",
        "none",
        (),
    ),
    "nvidia-docs__a100-pcie-40gb__460.73.01__labels-fragment-mig-single.txt": (
        "nvidia-docs__a100-pcie-40gb__460.73.01__labels-fragment-mig-single",
        "460.73.01",
        "11.2",
        "A100-PCIE-40GB-MIG-1g.5gb",
        7,
        4864,
        "8.0",
        "single",
        (),
    ),
    "nvidia-docs__a100-sxm4-40gb__450.80.02__gfd-labels-mig-mixed.json": (
        "nvidia-docs__a100-sxm4-40gb__450.80.02__gfd-labels-mig-mixed",
        "450.80.02",
        "11.0",
        "A100-SXM4-40GB",
        1,
        40537,
        "8.0",
        "mixed",
        (("1g.5gb", 1, 4864), ("2g.10gb", 1, 9984), ("3g.21gb", 1, 20096)),
    ),
    "nvidia-docs__a100-sxm4-40gb__450.80.02__gfd-labels-mig-none.json": (
        "nvidia-docs__a100-sxm4-40gb__450.80.02__gfd-labels-mig-none",
        "450.80.02",
        "11.0",
        "A100-SXM4-40GB",
        1,
        40537,
        "8.0",
        "none",
        (),
    ),
    "nvidia-docs__a100-sxm4-40gb__450.80.02__gfd-labels-mig-single.json": (
        "nvidia-docs__a100-sxm4-40gb__450.80.02__gfd-labels-mig-single",
        "450.80.02",
        "11.0",
        "A100-SXM4-40GB-MIG-1g.5gb",
        7,
        4864,
        "8.0",
        "single",
        (),
    ),
    "nvidia-docs__h100-mig-mixed__550.54.15__all-node-labels.json": (
        "s4124-0073",
        "550.54.15",
        "12.4",
        "NVIDIA-H100-80GB-HBM3",
        1,
        81559,
        "9.0",
        "mixed",
        (("1g.10gb", 2, 9984), ("2g.20gb", 1, 20096), ("3g.40gb", 1, 40320)),
    ),
    "nvidia-docs__h100-mig-single__550.54.15__all-node-labels.json": (
        "s4124-0073",
        "550.54.15",
        "12.4",
        "NVIDIA-H100-80GB-HBM3",
        1,
        81559,
        "9.0",
        "single",
        (),
    ),
    "nvidia-docs__openshift-a100__470.57.02__labels-key=value-mig-mixed.txt": (
        "nvidia-docs__openshift-a100__470.57.02__labels-key=value-mig-mixed",
        "470.57.02",
        "11.4",
        "NVIDIA-A100-SXM4-40GB",
        1,
        40536,
        "8.0",
        "mixed",
        (("2g.10gb", 3, 9984),),
    ),
    "nvidia-docs__openshift-aws-g4dn-t4-timeslicing__510.73.08__labels-grep.txt": (
        "nvidia-docs__openshift-aws-g4dn-t4-timeslicing__510.73.08__labels-grep",
        "510.73.08",
        "11.7",
        "Tesla-T4-SHARED",
        1,
        15360,
        "7.5",
        "single",
        (),
    ),
}


@pytest.fixture(scope="module")
def k8s_dir() -> Path:
    if not K8S.is_dir():
        pytest.skip(MISSING)
    return K8S


def test_every_real_label_file_has_expectations(k8s_dir: Path) -> None:
    assert sorted(p.name for p in k8s_dir.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_real_label_file_reads_exactly(k8s_dir: Path, file: str) -> None:
    name, driver, cuda, product, count, memory, cc, strategy, profiles = EXPECTED[file]
    items = list(read_k8s_nodes(str(k8s_dir / file)))
    assert len(items) == 1 and isinstance(items[0], HostInput), items
    item = items[0]
    host = item.host
    assert item.name == name and host.hostname == name
    assert (host.driver.version, host.driver.cuda, host.driver.source) == (driver, cuda, "k8s-labels")
    assert len(host.gpus) == count
    assert {(g.name, g.memory_total_mib, g.compute_capability) for g in host.gpus} == {(product, memory, cc)}
    assert host.source == "k8s-labels"


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_real_label_file_gpu_labels(k8s_dir: Path, file: str) -> None:
    _, driver, cuda, product, count, memory, cc, strategy, profiles = EXPECTED[file]
    text = (k8s_dir / file).read_text()
    try:
        nodes = nodes_from_json(json.loads(text))
    except json.JSONDecodeError:
        nodes = nodes_from_text(text, file)
    labels = GpuLabels.from_labels(nodes[0].labels)
    assert (labels.driver_version, labels.driver_cuda, labels.product) == (driver, cuda, product)
    assert (labels.memory_mib, labels.compute_capability, labels.mig_strategy, labels.mig_profiles) == (
        memory,
        cc,
        strategy,
        profiles,
    )
    enabled = "-MIG-" in product or bool(profiles)  # single: renamed product; mixed: profiles
    assert {g.mig_mode == "Enabled" for g in labels.to_host("n").gpus} == {enabled}


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_knowledge_base_resolves_every_gfd_product(file: str) -> None:
    _, _, _, product, _, _, cc, _, _ = EXPECTED[file]
    found = load_knowledge().gpu_product(name=product)
    assert found is not None, f"knowledge base does not know GFD product {product!r}"
    assert str(found.compute_capability) == cc


def test_quirks_of_the_real_files(k8s_dir: Path) -> None:
    def labels(file: str) -> GpuLabels:
        item = next(iter(read_k8s_nodes(str(k8s_dir / file))))
        text = (k8s_dir / file).read_text()
        try:
            nodes = nodes_from_json(json.loads(text))
        except json.JSONDecodeError:
            nodes = nodes_from_text(text, file)
        return item, GpuLabels.from_labels(nodes[0].labels)

    # gpu.memory in bytes (16106127360) is 15360 MiB; time-slicing replicas are read
    _, t4 = labels("nvidia-docs__openshift-aws-g4dn-t4-timeslicing__510.73.08__labels-grep.txt")
    assert (t4.memory_mib, t4.replicas) == (15360, 8)
    # MIG capable but all-disabled: the single strategy names the whole GPU
    item, h100 = labels("nvidia-docs__h100-mig-single__550.54.15__all-node-labels.json")
    assert h100.mig_capable and not h100.mig_enabled
    assert {g.mig_mode for g in item.host.gpus} == {"Disabled"}
    assert (h100.machine, h100.system) == ("x86_64", "Linux")
    assert item.hostname == "s4124-0073"
    # the mixed strategy keeps the whole GPU and enables MIG on it
    item, _ = labels("nvidia-docs__h100-mig-mixed__550.54.15__all-node-labels.json")
    assert {g.mig_mode for g in item.host.gpus} == {"Enabled"}
    # single strategy: each MIG device is a GPU of the host
    item, _ = labels("nvidia-docs__a100-sxm4-40gb__450.80.02__gfd-labels-mig-single.json")
    assert {g.mig_mode for g in item.host.gpus} == {"Enabled"} and len(item.host.gpus) == 7


def test_real_label_files_judged_against_a_target(k8s_dir: Path) -> None:
    targets = collect_targets(torch=["2.4.1+cu121"])
    report = survey((item for f in sorted(EXPECTED) for item in read_k8s_nodes(str(k8s_dir / f))), targets)
    assert not report.unreadable and not report.skipped
    verdicts = {h.source.split("/")[-1]: (h.verdict.status, h.verdict.causes) for h in report.hosts}
    for file, (status, causes) in verdicts.items():
        if "550.54.15" in file:
            assert status == "pass", file  # 550 runs CUDA 12.1 natively; H100 (CC 9.0) is in the wheel
        else:
            assert status == "fail" and "driver-too-old" in causes, file  # R450..R510 predate CUDA 12


# --- the newer label set, compute capability from the knowledge base, odd values --------------


def test_newer_driver_version_labels_alone() -> None:
    labels = GpuLabels.from_labels(
        {
            "nvidia.com/cuda.driver-version.major": "570",
            "nvidia.com/cuda.driver-version.minor": "124",
            "nvidia.com/cuda.driver-version.revision": "06",
            "nvidia.com/cuda.runtime-version.major": "12",
            "nvidia.com/cuda.runtime-version.minor": "8",
            "nvidia.com/gpu.product": "NVIDIA-L40S",
            "nvidia.com/gpu.count": "4",
        }
    )
    assert (labels.driver_version, labels.driver_cuda, labels.count) == ("570.124.06", "12.8", 4)
    assert labels.compute_capability is None  # not labelled: filled from the product when judged


def test_full_labels_win_over_parts() -> None:
    labels = GpuLabels.from_labels(
        {
            "nvidia.com/cuda.driver-version.full": "580.65.06",
            "nvidia.com/cuda.driver.major": "1",
            "nvidia.com/cuda.runtime-version.full": "13.0",
            "nvidia.com/gpu.count": "1",
        }
    )
    assert (labels.driver_version, labels.driver_cuda) == ("580.65.06", "13.0")


def test_compute_capability_from_the_product_when_not_labelled() -> None:
    node = RawNode(
        "gpu-1",
        {
            "nvidia.com/cuda.driver.major": "550",
            "nvidia.com/cuda.driver.minor": "54",
            "nvidia.com/cuda.driver.rev": "15",
            "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3-SHARED",
            "nvidia.com/gpu.count": "2",
            "kubernetes.io/arch": "arm64",
        },
    )
    host = GpuLabels.from_labels(node.labels).to_host("gpu-1")
    assert host.platform == {"machine": "aarch64"}
    report = survey([HostInput("gpu-1", "test", host=host)], collect_targets(cuda=["12.4"]))
    assert report.hosts[0].verdict.gpus == "2x NVIDIA-H100-80GB-HBM3-SHARED (CC 9.0)"
    assert report.hosts[0].verdict.status == "pass"


def test_a_node_without_gpu_labels_is_not_a_gpu_host() -> None:
    assert GpuLabels.from_labels({"kubernetes.io/hostname": "cpu-1", "nvidia.com/gpu.deploy.driver": "false"}) is None


def test_garbage_numbers_are_unknown_not_errors() -> None:
    labels = GpuLabels.from_labels(
        {
            "nvidia.com/cuda.driver.major": "²",
            "nvidia.com/gpu.count": "99999999",
            "nvidia.com/gpu.memory": "",
            "nvidia.com/gpu.product": "Tesla-T4",
        }
    )
    assert (labels.driver_version, labels.count, labels.memory_mib) == (None, None, None)
    assert len(labels.to_host("n").gpus) == 1  # a product without a count is one GPU


# --- readers for what people have ------------------------------------------------------------

NODE_LIST = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": "gpu-a",
                "labels": {
                    "kubernetes.io/hostname": "gpu-a.internal",
                    "nvidia.com/cuda.driver.major": "550",
                    "nvidia.com/cuda.driver.minor": "54",
                    "nvidia.com/cuda.driver.rev": "15",
                    "nvidia.com/cuda.runtime.major": "12",
                    "nvidia.com/cuda.runtime.minor": "4",
                    "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
                    "nvidia.com/gpu.count": "8",
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "cpu-a", "labels": {"kubernetes.io/hostname": "cpu-a"}},
        },
    ],
}


def test_kubectl_get_nodes_json(tmp_path: Path) -> None:
    path = tmp_path / "nodes.json"
    path.write_text(json.dumps(NODE_LIST))
    gpu, cpu = list(read_k8s_nodes(str(path)))
    assert isinstance(gpu, HostInput) and gpu.name == "gpu-a" and gpu.hostname == "gpu-a.internal"
    assert len(gpu.host.gpus) == 8 and gpu.host.driver.version == "550.54.15"
    assert isinstance(cpu, Skipped) and cpu.name == "cpu-a"


def test_published_probe_document_beats_labels(tmp_path: Path) -> None:
    from support.host_docs import H100, host_doc

    nodes = json.loads(json.dumps(NODE_LIST))
    doc = host_doc("pod-name-xyz", "550.54.15", "12.4", H100, count=2)
    nodes["items"][0]["metadata"]["annotations"] = {"gpu-preflight/host": json.dumps(doc)}
    nodes["items"][1]["metadata"]["annotations"] = {"gpu-preflight/host": "{not json"}
    path = tmp_path / "nodes.json"
    path.write_text(json.dumps(nodes))
    report = survey(read_k8s_nodes(str(path)), collect_targets(cuda=["12.4"]))
    assert [h.name for h in report.hosts] == ["gpu-a"]  # the node name, not the pod's hostname
    assert report.hosts[0].verdict.gpus == "2x NVIDIA H100 80GB HBM3 (CC 9.0)"
    assert [u.source for u in report.unreadable] == [f"{path}: node cpu-a"]


def test_yaml_of_several_nodes_with_nested_lists_and_annotations() -> None:
    text = """apiVersion: v1
items:
- apiVersion: v1
  kind: Node
  metadata:
    annotations:
      nvidia.com/gpu-driver-upgrade-enabled: "true"
      name: not-a-node-name
    labels:
      kubernetes.io/hostname: gpu-1
      nvidia.com/cuda.driver.major: "535"
      nvidia.com/cuda.driver.minor: '104'
      nvidia.com/cuda.driver.rev: "05"
      nvidia.com/gpu.count: "2"
      nvidia.com/gpu.product: Tesla-T4
    managedFields:
    - apiVersion: v1
      manager: kubelet
    name: gpu-1
    ownerReferences:
    - apiVersion: v1
      name: someone
  status:
    images:
    - names:
      - nvcr.io/nvidia/gpu-feature-discovery:v0.8.2
- apiVersion: v1
  kind: Node
  metadata:
    labels:
      kubernetes.io/hostname: gpu-2
      nvidia.com/cuda.driver.major: "470"
      nvidia.com/gpu.count: "1"
    name: gpu-2
kind: List
"""
    nodes = nodes_from_text(text, "nodes.yaml")
    assert [n.name for n in nodes] == ["gpu-1", "gpu-2"]
    assert nodes[0].labels["nvidia.com/cuda.driver.minor"] == "104"
    assert "nvidia.com/gpu-driver-upgrade-enabled" not in nodes[0].labels  # an annotation
    assert GpuLabels.from_labels(nodes[0].labels).driver_version == "535.104.05"


def test_show_labels_table() -> None:
    text = (
        "NAME    STATUS   ROLES    AGE   VERSION   LABELS\n"
        "gpu-1   Ready    <none>   3d    v1.29.4   kubernetes.io/hostname=gpu-1,nvidia.com/cuda.driver.major=550,"
        "nvidia.com/cuda.driver.minor=54,nvidia.com/cuda.driver.rev=15,nvidia.com/gpu.count=1,nvidia.com/gpu.product=NVIDIA-L4\n"
    )
    (node,) = nodes_from_text(text, "table")
    assert node.name == "gpu-1" and GpuLabels.from_labels(node.labels).product == "NVIDIA-L4"


@pytest.mark.parametrize("text", ["", "hello world\n", "<html></html>", "key: value\nother: thing\n"])
def test_text_without_labels_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="no Kubernetes node labels"):
        nodes_from_text(text, "x")


def test_unusable_k8s_inputs_are_unreadable_not_fatal(tmp_path: Path) -> None:
    empty, binary = tmp_path / "empty.json", tmp_path / "binary.json"
    empty.write_text("")
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert [type(i).__name__ for p in (empty, binary) for i in read_k8s_nodes(str(p))] == ["Unreadable", "Unreadable"]
