"""Read an ``nvidia-smi -q -x`` document into a Host.

The input may come from anywhere (``--nvidia-smi-xml FILE``), so it is screened before the XML
parser sees it: a DTD internal subset or an ``<!ENTITY`` declaration is refused outright, which
rules out entity expansion bombs and external entities whatever the parser's defaults are.
nvidia-smi itself only ever writes ``<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_vN.dtd">``,
which has no subset and which ElementTree does not fetch.

Documents seen in the wild vary a lot (DTD v8..v13, no DOCTYPE, a comment before the root,
test files trimmed to a few elements, ``attached_gpus`` larger than the number of ``<gpu>``
elements), so every element is optional and "not available" spellings become None
(``smi_values``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Driver, Gpu, Host, MigDevice
from gpu_preflight.core.limits import MAX_HOST_GPUS, MAX_SMI_XML_BYTES, MAX_XML_TAGS
from gpu_preflight.probe.smi_values import smi_value

SOURCE = "nvidia-smi-xml"
ROOT_TAG = "nvidia_smi_log"

WINDOWS_DRIVER_MODELS = frozenset({"WDDM", "TCC", "MCDM"})

_INT = re.compile(r"[0-9]{1,18}")
_MIB = re.compile(r"([0-9]{1,18})\s*MiB")
_VERSION = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9}){0,3}")
_PCI_DEVICE_ID = re.compile(r"(?:0x)?([0-9A-Fa-f]{8})")


def parse_smi_xml(data: bytes | str, origin: str = "nvidia-smi XML") -> Host:
    """The Host an ``nvidia-smi -q -x`` document describes.

    Raises UsageError (one line, prefixed with ``origin``) for anything that is not such a
    document: empty, binary, over 64 MiB, with entity declarations, malformed or truncated,
    or with another root element.
    """
    text = _screen(data, origin)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else "?"
        raise UsageError(f"{origin}: truncated or malformed XML at line {line}") from None
    if root.tag != ROOT_TAG:
        raise UsageError(f"{origin}: root element is <{root.tag[:60]}>, not <{ROOT_TAG}>: not nvidia-smi -q -x output")

    gpus = [_gpu(index, element) for index, element in enumerate(root.findall("gpu"))]
    driver = Driver(
        version=_version(_text(root, "driver_version")),
        cuda=_version(_text(root, "cuda_version")),
        source=SOURCE,
        # The Windows driver branches are numbered differently (e.g. 516.59), so the platform
        # decides which compatibility table applies; only Windows has driver models.
        platform="windows" if any(g.driver_model in WINDOWS_DRIVER_MODELS for g in gpus) else "linux",
    )
    host = Host(driver=driver, gpus=gpus, source=SOURCE)

    attached = _int(_text(root, "attached_gpus"))
    if attached is not None and attached > len(gpus):
        host.add_error(
            SOURCE,
            f"{origin}: attached_gpus is {attached} but only {len(gpus)} <gpu> elements are present"
            " (trimmed document?); judging only those",
        )
    return host


def _screen(data: bytes | str, origin: str) -> str:
    """The document as text, or UsageError when it must not reach the XML parser."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if len(raw) > MAX_SMI_XML_BYTES:
            raise UsageError(f"{origin}: larger than {MAX_SMI_XML_BYTES >> 20} MiB; refusing to parse")
        if b"\x00" in raw:
            raise UsageError(f"{origin}: binary data, not an XML document")
        try:
            # nvidia-smi writes ASCII; decoding here (not in the parser) means the screening
            # below sees exactly the characters the parser will, whatever encoding is declared.
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UsageError(f"{origin}: binary data or not UTF-8, not an XML document") from None
    elif isinstance(data, str):
        if len(data) > MAX_SMI_XML_BYTES:
            raise UsageError(f"{origin}: larger than {MAX_SMI_XML_BYTES >> 20} MiB; refusing to parse")
        text = data.removeprefix("\ufeff")
        if "\x00" in text:
            raise UsageError(f"{origin}: binary data, not an XML document")
    else:
        raise UsageError(f"{origin}: expected bytes or text, got {type(data).__name__}")

    stripped = text.lstrip()
    if not stripped:
        raise UsageError(f"{origin}: empty document")
    if not stripped.startswith("<"):
        raise UsageError(f"{origin}: not an XML document (does not start with '<')")
    if "<!ENTITY" in text or _has_internal_subset(text):
        raise UsageError(f"{origin}: refusing XML with a DTD internal subset or entity declarations")
    # Counted before parsing (a C scan), so that an absurd document costs neither minutes nor gigabytes.
    gpus = sum(text.count(f"<gpu{after}") for after in " \t\r\n/>")
    if gpus > MAX_HOST_GPUS:
        raise UsageError(f"{origin}: {gpus:,} <gpu> elements (at most {MAX_HOST_GPUS:,}); not a real nvidia-smi dump")
    tags = text.count("<")
    if tags > MAX_XML_TAGS:
        raise UsageError(f"{origin}: {tags:,} XML tags (at most {MAX_XML_TAGS:,}); not a real nvidia-smi dump")
    return text


def _has_internal_subset(text: str) -> bool:
    """Whether a ``<!DOCTYPE ...`` opens a ``[`` subset before its ``>``. A plain loop rather
    than a regex so that hostile input (millions of ``<!DOCTYPE``) stays linear."""
    start = text.find("<!DOCTYPE")
    while start >= 0:
        end = text.find(">", start)
        if end < 0:
            end = len(text)
        if "[" in text[start:end]:
            return True
        start = text.find("<!DOCTYPE", end)
    return False


def _gpu(index: int, element: ET.Element) -> Gpu:
    memory = element.find("fb_memory_usage")
    return Gpu(
        # Document order, which is nvidia-smi's (PCI bus) order. minor_number (/dev/nvidiaN)
        # is not the index: the K80 fixture lists minor numbers 1, 2, 3, 0.
        index=index,
        name=_text(element, "product_name") or "unknown",
        compute_capability=None,  # not in the XML; looked up later from the name / PCI id
        memory_total_mib=_mib(_text(memory, "total")),
        memory_used_mib=_mib(_text(memory, "used")),
        brand=_text(element, "product_brand"),
        uuid=_text(element, "uuid"),
        mig_mode=_text(element, "mig_mode/current_mig"),
        pci_bus_id=smi_value(element.get("id")) or _text(element, "pci/pci_bus_id"),
        pci_device_id=_pci_device_id(_text(element, "pci/pci_device_id")),
        architecture=_text(element, "product_architecture"),
        driver_model=_text(element, "driver_model/current_dm"),
        mig_devices=[_mig_device(m) for m in element.findall("mig_devices/mig_device")],
    )


def _mig_device(element: ET.Element) -> MigDevice:
    return MigDevice(
        index=_int(_text(element, "index")),
        gpu_instance_id=_int(_text(element, "gpu_instance_id")),
        compute_instance_id=_int(_text(element, "compute_instance_id")),
        memory_total_mib=_mib(_text(element, "fb_memory_usage/total")),
        uuid=_text(element, "uuid"),
    )


def _text(element: ET.Element | None, path: str) -> str | None:
    return None if element is None else smi_value(element.findtext(path))


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and _INT.fullmatch(value) else None


def _mib(value: str | None) -> int | None:
    match = _MIB.fullmatch(value) if value else None
    return int(match.group(1)) if match else None


def _version(value: str | None) -> str | None:
    return value if value is not None and _VERSION.fullmatch(value) else None


def _pci_device_id(value: str | None) -> str | None:
    """``20B010DE`` -> ``0x20B010DE``: device id in the high half, vendor (10DE) in the low half.
    Redacted values and a zero device (seen on an AWS A10G: ``000000DE``) identify nothing."""
    match = _PCI_DEVICE_ID.fullmatch(value) if value else None
    if not match or match.group(1)[:4] == "0000":
        return None
    return "0x" + match.group(1).upper()
