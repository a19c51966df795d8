"""GPU products: every name in the real fixtures resolves, the way NVML / nvidia-smi / k8s spell it."""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge import KnowledgeBase

from support.knowledge import params, shared_files

V = Version.parse

# Every product name in the real nvidia-smi XML fixtures -> the compute capability it must
# resolve to (facts: cuda-facts.md section 4 and the rows' sources). A new fixture with a new
# name fails test_every_xml_name_is_expected until a row and an entry here are added.
XML_EXPECTED = {
    "NVIDIA A100-SXM4-40GB": "8.0",
    "NVIDIA A100-SXM4-80GB": "8.0",
    "NVIDIA A10G": "8.6",
    "NVIDIA GeForce RTX 2080": "7.5",
    "GeForce RTX 2080 Ti": "7.5",
    "NVIDIA GeForce RTX 2070": "7.5",
    "NVIDIA GeForce RTX 3060 Laptop GPU": "8.6",
    "NVIDIA GeForce RTX 3060": "8.6",
    "NVIDIA GeForce RTX 3080": "8.6",
    "NVIDIA GeForce RTX 3090": "8.6",
    "NVIDIA GeForce RTX 4090": "8.9",
    "NVIDIA RTX A5000": "8.6",
    "NVIDIA RTX 4000 SFF Ada Generation": "8.9",
    "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition": "12.0",
    "Tesla P100-PCIE-16GB": "6.0",
    "Tesla P100-PCIE-12GB": "6.0",
    "Tesla K80": "3.7",
    "Tesla V100-SXM3-32GB": "7.0",
    "Tesla T4": "7.5",
    "GeForce GT 730": "3.5",
    "GeForce GTX 1070": "6.1",
    "GeForce GTX 1070 Ti": "6.1",
    "NVIDIA GeForce GT 1030": "6.1",
    "GRID P4-1Q": "6.1",
    "Quadro P2000": "6.1",
    "Quadro P400": "6.1",
    "Graphics Device": "7.5",  # the GTX 1660-class board on 418.43, by PCI id 0x2184
}


def _xml_gpus(path: Path) -> list[tuple[str, str | None, str | None]]:
    root = ET.parse(path).getroot()
    return [
        (
            gpu.findtext("product_name"),
            gpu.findtext("pci/pci_device_id"),
            gpu.findtext("product_architecture"),
        )
        for gpu in root.iter("gpu")
    ]


XML_FILES = shared_files("nvidia-smi-xml", "*.xml")


@pytest.mark.parametrize("path", params(XML_FILES, ids=lambda p: p.name))
def test_every_xml_product_name_resolves(kb: KnowledgeBase, path: Path) -> None:
    gpus = _xml_gpus(path)
    assert gpus, f"{path.name}: no <gpu> element"
    for name, pci, architecture in gpus:
        product = kb.gpu_product(name=name, pci_device_id=pci)
        assert product is not None, f"{path.name}: {name!r} (pci {pci}) does not resolve"
        assert name in XML_EXPECTED, f"{path.name}: new product name {name!r}: add it to XML_EXPECTED"
        assert product.compute_capability == V(XML_EXPECTED[name]), name
        if architecture and architecture != "N/A":
            assert product.architecture == architecture, name  # as the driver itself reports it


def test_graphics_device_resolves_by_pci_id_only(kb: KnowledgeBase) -> None:
    assert kb.gpu_product(name="Graphics Device") is None
    by_pci = kb.gpu_product(name="Graphics Device", pci_device_id="218410DE")
    assert by_pci.matched_by == "pci" and by_pci.architecture == "Turing"
    assert "2184" in by_pci.pci_device_ids and by_pci.provenance.conflict  # fixture name vs pci.ids
    for spelling in ("0x218410DE", "2184", "0x2184"):
        assert kb.gpu_product(pci_device_id=spelling) == by_pci
    assert kb.gpu_product(pci_device_id="000000DE") is None


def test_gtx_1660_fixture_pci_id_is_in_the_data(kb: KnowledgeBase) -> None:
    path = next((p for p in XML_FILES if p.name == "telegraf__gtx-1660-ti__418.43.xml"), None)
    if path is None:
        pytest.skip("shared fixture telegraf__gtx-1660-ti__418.43.xml is absent")
    ((name, pci, _),) = _xml_gpus(path)
    assert name == "Graphics Device"
    assert kb.gpu_product(pci_device_id=pci).compute_capability == V("7.5")


def _csv_rows(path: Path) -> list[dict[str, str]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader)]
    return [dict(zip(header, (c.strip() for c in row), strict=False)) for row in reader]


CSV_FILES = [p for p in shared_files("nvidia-smi-csv", "*all-fields.csv")]


@pytest.mark.parametrize("path", params(CSV_FILES, ids=lambda p: p.name))
def test_csv_names_and_pci_ids_give_the_reported_compute_capability(kb: KnowledgeBase, path: Path) -> None:
    for row in _csv_rows(path):
        by_name = kb.gpu_product(name=row["name"])
        assert by_name is not None, row["name"]
        assert by_name.compute_capability == V(row["compute_cap"]), row["name"]
        by_pci = kb.gpu_product(pci_device_id=row["pci.device_id"])
        if by_pci is not None:
            assert by_pci.compute_capability == V(row["compute_cap"])


K8S_FILES = shared_files("k8s-nodes", "*")


@pytest.mark.parametrize("path", params(K8S_FILES, ids=lambda p: p.name))
def test_kubernetes_product_labels_resolve(kb: KnowledgeBase, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    labels = dict(re.findall(r'"?(nvidia\.com/[\w.-]+)"?\s*[:=]\s*"?([^",\s]*)"?', text))
    products = [v for k, v in labels.items() if k.endswith(".product") and v]
    if not products:
        pytest.skip(f"{path.name} carries no product label")
    major, minor = labels.get("nvidia.com/gpu.compute.major"), labels.get("nvidia.com/gpu.compute.minor")
    for value in products:
        product = kb.gpu_product(name=value)
        assert product is not None, value
        if major and minor:
            assert product.compute_capability == V(f"{major}.{minor}"), value


@pytest.mark.parametrize(
    "name, expected, cc, product_class",
    [
        ("NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3", "9.0", "datacenter"),
        ("NVIDIA-H100-80GB-HBM3", "NVIDIA H100 80GB HBM3", "9.0", "datacenter"),
        ("NVIDIA-H100-80GB-HBM3-MIG-1g.10gb", "NVIDIA H100 80GB HBM3", "9.0", "datacenter"),
        ("NVIDIA H100 PCIe", "NVIDIA H100", "9.0", "datacenter"),
        ("NVIDIA H200", "NVIDIA H200", "9.0", "datacenter"),
        ("Tesla T4", "Tesla T4", "7.5", "datacenter"),
        ("Tesla-T4-SHARED", "Tesla T4", "7.5", "datacenter"),
        ("NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090", "8.9", "consumer"),
        ("NVIDIA GeForce RTX 4090 Laptop GPU", "NVIDIA GeForce RTX 40xx", "8.9", "consumer"),
        ("NVIDIA A100-SXM4-40GB", "NVIDIA A100-SXM4-40GB", "8.0", "datacenter"),
        ("NVIDIA A100-SXM4-40GB MIG 1g.5gb", "NVIDIA A100-SXM4-40GB", "8.0", "datacenter"),
        ("A100-SXM4-40GB-MIG-1g.5gb", "NVIDIA A100-SXM4-40GB", "8.0", "datacenter"),
        ("A100-PCIE-40GB", "NVIDIA A100", "8.0", "datacenter"),
        ("NVIDIA RTX A5000", "NVIDIA RTX A5000", "8.6", "workstation"),
        ("NVIDIA RTX A6000", "NVIDIA RTX A-series (Ampere)", "8.6", "workstation"),
        ("Quadro P2000", "Quadro P2000", "6.1", "workstation"),
        ("GRID P4-1Q", "GRID P4 vGPU", "6.1", "virtual"),
        ("Tesla P4", "Tesla P4", "6.1", "datacenter"),
        ("Tesla V100-PCIE-16GB", "Tesla V100", "7.0", "datacenter"),
        ("NVIDIA GeForce RTX 3060 Ti", "NVIDIA GeForce RTX 30xx", "8.6", "consumer"),
        ("NVIDIA GeForce RTX 5090", "NVIDIA GeForce RTX 50xx", "12.0", "consumer"),
        ("NVIDIA B200", "NVIDIA B200", "10.0", "datacenter"),
        ("NVIDIA GB200", "NVIDIA GB200", "10.0", "datacenter"),
        ("NVIDIA L4", "NVIDIA L4 / L40 / L40S", "8.9", "datacenter"),
        ("NVIDIA L40S", "NVIDIA L40S", "8.9", "datacenter"),
        ("NVIDIA GeForce GTX 1080 Ti", "GeForce GTX 10xx", "6.1", "consumer"),
        ("GeForce GTX 1660 SUPER", "GeForce GTX 16xx", "7.5", "consumer"),
        ("  nvidia geforce rtx 2080 super ", "GeForce RTX 2080 SUPER", "7.5", "consumer"),
    ],
)
def test_spellings(kb: KnowledgeBase, name: str, expected: str, cc: str, product_class: str) -> None:
    product = kb.gpu_product(name=name)
    assert (product.name, product.compute_capability, product.product_class) == (expected, V(cc), product_class)


@pytest.mark.parametrize("name", ["Graphics Device", "NVIDIA RTX 2050", "AMD Radeon RX 7900 XTX", "", "   "])
def test_unknown_names_do_not_resolve(kb: KnowledgeBase, name: str) -> None:
    assert kb.gpu_product(name=name) is None


@pytest.mark.parametrize(
    "name, eligible",
    [
        ("Tesla T4", True),
        ("NVIDIA H100 80GB HBM3", True),
        ("NVIDIA GeForce RTX 4090", False),
        ("NVIDIA RTX A5000", False),
        ("GRID P4-1Q", False),
        ("Jetson AGX Orin", True),
        # NVIDIA files the Server Edition under Data Center (product page, GPU Operator): eligible;
        # the Workstation / Max-Q editions of the same chip are not.
        ("NVIDIA RTX PRO 6000 Blackwell Server Edition", True),
        ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", False),
        ("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", False),
        ("NVIDIA H20", True),
        ("NVIDIA GeForce RTX 4090 D", False),
    ],
)
def test_forward_compat_eligibility_follows_the_class(kb: KnowledgeBase, name: str, eligible: bool) -> None:
    assert kb.gpu_product(name=name).forward_compat_eligible is eligible


def test_observed_brand_and_memory(kb: KnowledgeBase) -> None:
    t4 = kb.gpu_product(name="Tesla T4")
    assert (t4.brand, t4.memory_mib) == ("NVIDIA", 15360)
    a5000 = kb.gpu_product(name="NVIDIA RTX A5000")
    assert (a5000.brand, a5000.memory_mib) == ("NVIDIA RTX", 24564)
    assert kb.gpu_product(name="NVIDIA H100 PCIe").memory_mib is None  # no observation: no guess


def test_every_product_cc_has_an_architecture_row(kb: KnowledgeBase) -> None:
    for product in kb.gpu_products:
        arch = kb.architecture_of_cc(product.compute_capability)
        assert arch is not None and arch.name == product.architecture, product.name


def test_pci_ids_are_unique(kb: KnowledgeBase) -> None:
    ids = [pci for p in kb.gpu_products for pci in p.pci_device_ids]
    assert len(ids) == len(set(ids))


# --- GPUs sold in China (export variants): NVML names, Kubernetes labels, PCI ids -----------


@pytest.mark.parametrize(
    "name, expected, cc, product_class",
    [
        # NVML names as observed on real boards (sources.toml CN_GPU_OBS)
        ("NVIDIA H20", "NVIDIA H20", "9.0", "datacenter"),
        ("NVIDIA H800", "NVIDIA H800", "9.0", "datacenter"),
        ("NVIDIA H800 PCIe", "NVIDIA H800", "9.0", "datacenter"),
        ("NVIDIA A800-SXM4-80GB", "NVIDIA A800", "8.0", "datacenter"),
        ("NVIDIA A800 80GB PCIe", "NVIDIA A800", "8.0", "datacenter"),
        ("NVIDIA L20", "NVIDIA L20", "8.9", "datacenter"),
        ("NVIDIA L2", "NVIDIA L2", "8.9", "datacenter"),
        ("NVIDIA GeForce RTX 4090 D", "NVIDIA GeForce RTX 4090 D", "8.9", "consumer"),
        ("NVIDIA GeForce RTX 5090 D", "NVIDIA GeForce RTX 5090 D", "12.0", "consumer"),
        # GPU Feature Discovery's nvidia.com/gpu.product spellings
        ("NVIDIA-H20", "NVIDIA H20", "9.0", "datacenter"),
        ("NVIDIA-H800-MIG-1g.10gb", "NVIDIA H800", "9.0", "datacenter"),
        ("NVIDIA-A800-SXM4-80GB-SHARED", "NVIDIA A800", "8.0", "datacenter"),
        ("NVIDIA-L20", "NVIDIA L20", "8.9", "datacenter"),
        ("NVIDIA-GeForce-RTX-4090-D", "NVIDIA GeForce RTX 4090 D", "8.9", "consumer"),
        # not swallowed by their neighbours' family rows
        ("NVIDIA H200", "NVIDIA H200", "9.0", "datacenter"),
        ("NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090", "8.9", "consumer"),
        ("NVIDIA L4", "NVIDIA L4 / L40 / L40S", "8.9", "datacenter"),
    ],
)
def test_china_market_gpus(kb: KnowledgeBase, name: str, expected: str, cc: str, product_class: str) -> None:
    product = kb.gpu_product(name=name)
    assert product is not None, name
    assert (product.name, product.compute_capability, product.product_class) == (expected, V(cc), product_class)


@pytest.mark.parametrize(
    "pci, expected",
    [
        ("0x232910DE", "NVIDIA H20"),  # pci.ids 2329 GH100 [H20]
        ("232C", "NVIDIA H20 (other boards)"),  # H20 HBM3e
        ("2324", "NVIDIA H800"),
        ("2322", "NVIDIA H800"),  # H800 PCIe
        ("20F3", "NVIDIA A800"),  # A800-SXM4-80GB
        ("20F6", "NVIDIA A800"),  # A800 40GB PCIe
        ("26BA", "NVIDIA L20"),
        ("27B6", "NVIDIA L2"),
        ("2685", "NVIDIA GeForce RTX 4090 D"),
        ("2B87", "NVIDIA GeForce RTX 5090 D"),
        ("2BB5", "NVIDIA RTX PRO 6000 Blackwell Server Edition"),
        ("2909", "NVIDIA B200"),  # HGX B200 168GB
    ],
)
def test_china_market_gpus_by_pci_id(kb: KnowledgeBase, pci: str, expected: str) -> None:
    # an old driver names them "Graphics Device": only the PCI id tells
    assert kb.gpu_product(name="Graphics Device", pci_device_id=pci).name == expected


def test_observed_memory_of_export_variants(kb: KnowledgeBase) -> None:
    assert kb.gpu_product(name="NVIDIA H20").memory_mib == 97871
    assert kb.gpu_product(name="NVIDIA L20").memory_mib == 46068
    assert kb.gpu_product(name="NVIDIA GeForce RTX 4090 D").memory_mib == 24564
    assert kb.gpu_product(name="NVIDIA H800").memory_mib is None  # never observed: not guessed


# --- per-product driver floors --------------------------------------------------------------


def test_product_driver_floors(kb: KnowledgeBase) -> None:
    b200 = kb.gpu_product(name="NVIDIA B200").driver_floor
    assert (b200.driver, b200.scope) == (V("570.133.20"), "HGX B200")
    assert "GPUOP_B200_NOTE" in b200.provenance.sources
    server = kb.gpu_product(name="NVIDIA RTX PRO 6000 Blackwell Server Edition").driver_floor
    assert server.driver == V("575.57.08")
    # stated for those products only
    assert kb.gpu_product(name="NVIDIA GB200").driver_floor is None
    assert kb.gpu_product(name="NVIDIA RTX PRO 6000 Blackwell Workstation Edition").driver_floor is None
