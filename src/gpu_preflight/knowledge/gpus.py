"""gpus.toml: GPU products, found by the name NVML / nvidia-smi / Kubernetes give them or by PCI id."""

from __future__ import annotations

import re
from dataclasses import replace

from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.model import DriverFloor, GpuProduct
from gpu_preflight.knowledge.row import KnowledgeError

GPUS_FILE = "gpus.toml"
_PCI_ID = re.compile(r"[0-9A-F]{4}")


class GpuIndex:
    """Products in file order, found by normalised alias, then by pattern, then by PCI id."""

    def __init__(self, rules: list[tuple[re.Pattern[str], str]]) -> None:
        self.rules = rules  # gpus.toml's [[name_rule]]: how spellings of one name are made equal
        self.products: list[GpuProduct] = []
        self.patterns: list[tuple[re.Pattern[str], GpuProduct]] = []
        self.aliases: dict[str, GpuProduct] = {}
        self.pci: dict[str, GpuProduct] = {}

    def add(self, product: GpuProduct, aliases: tuple[str, ...], pattern: re.Pattern[str] | None) -> None:
        self.products.append(product)
        for alias in aliases:
            self.aliases.setdefault(self._normalise(alias), product)
        if pattern is not None:
            self.patterns.append((pattern, product))
        for pci in product.pci_device_ids:
            self.pci.setdefault(pci, product)

    def _normalise(self, name: str) -> str:
        text = name.strip().upper()
        for pattern, replacement in self.rules:
            text = pattern.sub(replacement, text)
        return text.strip()

    def find(self, name: str | None, pci_device_id: str | None) -> GpuProduct | None:
        """Resolve a GPU from its name (MIG and time-slicing suffixes allowed) or, failing that,
        its PCI device id (0x218410DE, 218410DE or 2184): old drivers call new GPUs "Graphics Device"."""
        if name and name.strip():
            key = self._normalise(name)
            if key in self.aliases:
                return replace(self.aliases[key], matched_by="name")
            for pattern, product in self.patterns:
                if pattern.fullmatch(key):
                    return replace(product, matched_by="pattern")
        device = _pci_device(pci_device_id) if pci_device_id else None
        if device is not None and device in self.pci:
            return replace(self.pci[device], matched_by="pci")
        return None


def read_gpu_index(files: DataFiles) -> GpuIndex:
    """The product table with its name rules; each product's class decides forward compatibility."""
    classes: dict[str, bool] = {}
    for name, row in files.named_rows(GPUS_FILE, "class").items():
        classes[name] = row.boolean("forward_compat_eligible")
        row.provenance()  # checked, not kept: a product carries its own
        row.finish()
    rules = []
    for row in files.rows(GPUS_FILE, "name_rule"):
        rules.append((row.regex("pattern"), row.string("replace")))
        row.text("why"), row.provenance()  # checked, not kept
        row.finish()
    floors = _driver_floors(files)
    index = GpuIndex(rules)
    for row in files.rows(GPUS_FILE, "product"):
        product_class = row.text("class")
        if product_class not in classes:
            raise row.error(f"class {product_class!r} is not one of {', '.join(classes)}")
        pci_ids = row.texts("pci_device_ids", ())
        if not all(_PCI_ID.fullmatch(p) for p in pci_ids):
            raise row.error("pci_device_ids must be 4 upper-case hex digits (2184)")
        aliases = row.texts("aliases", ())
        pattern = row.regex("pattern", None)
        if pattern is None and not aliases:
            raise row.error("a product needs 'aliases' or a 'pattern' to be found by name")
        product = GpuProduct(
            name=row.text("name"),
            compute_capability=row.version("compute_capability"),
            architecture=row.text("architecture"),
            product_class=product_class,
            brands=row.texts("brands", ()),
            memory_mib=row.integer("memory_mib", None),
            pci_device_ids=pci_ids,
            forward_compat_eligible=classes[product_class],
            provenance=row.provenance(),
        )
        row.finish()
        product = replace(product, driver_floor=floors.pop(product.name, None))
        index.add(product, aliases, pattern)
    if floors:
        raise KnowledgeError(f"{GPUS_FILE}: [[driver_floor]] names unknown products: {', '.join(sorted(floors))}")
    return index


def _driver_floors(files: DataFiles) -> dict[str, DriverFloor]:
    """``[[driver_floor]]``: product name -> the minimum driver NVIDIA states for it."""
    result: dict[str, DriverFloor] = {}
    for row in files.rows(GPUS_FILE, "driver_floor"):
        name = row.text("product")
        if name in result:
            raise row.error(f"a second driver floor for {name!r}")
        result[name] = DriverFloor(row.version("min_driver"), row.text("scope"), row.provenance())
        row.finish()
    return result


def _pci_device(value: str) -> str | None:
    """``0x218410DE`` / ``218410DE`` / ``2184`` -> ``2184`` (the device part; vendor 10DE)."""
    text = value.strip().upper().removeprefix("0X")
    if re.fullmatch(r"[0-9A-F]{4}10DE", text):
        return text[:4]
    if _PCI_ID.fullmatch(text):
        return text
    return None
