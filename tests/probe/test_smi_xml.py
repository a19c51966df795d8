"""parse_smi_xml: every real `nvidia-smi -q -x` document, exact values for many, hostile input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Host, MigDevice
from gpu_preflight.core.limits import MAX_SMI_XML_BYTES as MAX_BYTES
from gpu_preflight.probe.smi_xml import parse_smi_xml

XML = "nvidia-smi-xml"


# --- every real document ---------------------------------------------------------------------


@pytest.mark.real_files(XML, "*.xml")
def test_every_real_document_parses_into_a_consistent_host(real_file: Path) -> None:
    host = parse_smi_xml(real_file.read_bytes(), real_file.name)

    assert host.source == "nvidia-smi-xml"
    assert host.driver.source == "nvidia-smi-xml"
    assert host.driver.platform in ("linux", "windows")
    assert host.driver.version is None or re.fullmatch(r"\d+\.\d+(\.\d+)?", host.driver.version)
    assert host.driver.cuda is None or re.fullmatch(r"\d+\.\d+", host.driver.cuda)
    assert host.gpus, "every fixture has at least one <gpu>"
    assert [g.index for g in host.gpus] == list(range(len(host.gpus)))
    for gpu in host.gpus:
        assert gpu.name and gpu.name == gpu.name.strip()
        assert gpu.compute_capability is None  # the XML does not carry it
        assert gpu.uuid is None or gpu.uuid.startswith("GPU-")
        assert gpu.pci_bus_id and re.fullmatch(r"[0-9A-F]{4,8}:[0-9A-F]{2}:[0-9A-F]{2}\.[0-7]", gpu.pci_bus_id)
        assert gpu.pci_device_id is None or re.fullmatch(r"0x[0-9A-F]{4}10DE", gpu.pci_device_id)
        assert gpu.mig_mode in (None, "Enabled", "Disabled")
        if gpu.memory_total_mib is not None and gpu.memory_used_mib is not None:
            assert 0 <= gpu.memory_used_mib <= gpu.memory_total_mib
        if gpu.mig_devices:
            assert gpu.mig_mode == "Enabled"
    # The document survives the JSON contract's round trip unchanged.
    assert Host.from_dict(host.to_dict()) == host


@pytest.mark.real_files(XML, "*.xml")
def test_text_and_bytes_input_agree(real_file: Path) -> None:
    data = real_file.read_bytes()
    assert parse_smi_xml(data.decode("utf-8")) == parse_smi_xml(data)


# --- exact values, read from the files --------------------------------------------------------

# file: (driver, cuda, platform, [(name, brand, architecture, total MiB, used MiB, pci device id)])
EXPECTED = {
    "netdata__a100-sxm4-40gb__510.47.03__mig.xml": (
        "510.47.03",
        "11.6",
        "linux",
        [("NVIDIA A100-SXM4-40GB", "NVIDIA", "Ampere", 40960, 38, "0x20B010DE")],
    ),
    "netdata__rtx-2080__516.59__windows-wddm.xml": (
        "516.59",
        "11.7",
        "windows",
        [("NVIDIA GeForce RTX 2080", "GeForce", "Turing", 8192, 862, "0x1E8710DE")],
    ),
    "netdata__rtx-4090__535.86.05.xml": (
        "535.86.05",
        "12.2",
        "linux",
        [("NVIDIA GeForce RTX 4090", "GeForce", "Ada Lovelace", 24564, 2, "0x268410DE")],
    ),
    "netdata__tesla-p100-pcie-16gb__510.47.03.xml": (
        "510.47.03",
        "11.6",
        "linux",
        [("Tesla P100-PCIE-16GB", "Tesla", "Pascal", 16384, 0, "0x15F810DE")],
    ),
    "pai__2x-rtx-2080ti__410.73__ecc-unsupported.xml": (
        "410.73",
        "10.0",
        "linux",
        [("GeForce RTX 2080 Ti", "GeForce", None, 10989, 0, "0x1E0410DE")] * 2,
    ),
    "pai__4x-tesla-k80__430.26__cuda-version-not-found.xml": (
        "430.26",
        None,
        "linux",
        [("Tesla K80", "Tesla", None, 11441, used, "0x102D10DE") for used in (587, 587, 0, 0)],
    ),
    "pai__gt-730__384.111__minimal-no-cuda-version.xml": (
        "384.111",
        None,
        "linux",
        [("GeForce GT 730", "GeForce", None, None, None, None)],
    ),
    "pai__gtx-1070__384.66__no-cuda-version.xml": (
        "384.66",
        None,
        "linux",
        [
            ("GeForce GTX 1070", "GeForce", None, 8112, 2028, "0x1B8110DE"),
            ("GeForce GTX 1070", "GeForce", None, 8114, 4057, "0x1B8110DE"),
        ],
    ),
    "pai__v100-sxm3-32gb__410.104__retired-pages.xml": (
        "410.104",
        "10.0",
        "linux",
        [("Tesla V100-SXM3-32GB", "Tesla", None, 32480, 0, "0x1DB810DE")],
    ),
    "telegraf__2x-rtx-a5000__590.44.01__v13.xml": (
        "590.44.01",
        "13.1",
        "linux",
        [
            ("NVIDIA RTX A5000", "NVIDIA RTX", "Ampere", 24564, 22437, "0x223110DE"),
            ("NVIDIA RTX A5000", "NVIDIA RTX", "Ampere", 24564, 17253, "0x223110DE"),
        ],
    ),
    "telegraf__a100-sxm4-80gb__535.54.03__mig.xml": (
        "535.54.03",
        "12.2",
        "linux",
        [("NVIDIA A100-SXM4-80GB", "NVIDIA", "Ampere", 81920, 50, "0x20B210DE")],
    ),
    # An AWS A10G reports device id 0x0000: useless for lookups, so None.
    "telegraf__a10g__515.105.01.xml": (
        "515.105.01",
        "11.7",
        "linux",
        [("NVIDIA A10G", "NVIDIA", "Ampere", 23028, 22, None)],
    ),
    "telegraf__grid-p4-1q__513.46__vgpu.xml": (
        "513.46",
        "11.6",
        "windows",
        [("GRID P4-1Q", "NVIDIA RTX Virtual Workstation", "Pascal", 1024, 807, "0x1BB310DE")],
    ),
    "telegraf__gtx-1070-ti__trimmed-no-driver-version.xml": (
        None,
        None,
        "linux",
        [("GeForce GTX 1070 Ti", None, None, 4096, 42, None)],
    ),
    # A GPU newer than its driver is named "Graphics Device": only the PCI id tells (GTX 1660 Ti).
    "telegraf__gtx-1660-ti__418.43.xml": (
        "418.43",
        "10.1",
        "linux",
        [("Graphics Device", "GeForce", None, 5912, 0, "0x218410DE")],
    ),
    "telegraf__quadro-p400__418.43.xml": (
        "418.43",
        "10.1",
        "linux",
        [("Quadro P400", "Quadro", None, 1998, 0, "0x1CB310DE")],
    ),
    "telegraf__rtx-3060__570.124.04.xml": (
        "570.124.04",
        "12.8",
        "linux",
        [("NVIDIA GeForce RTX 3060", "GeForce", "Ampere", 12288, 116, "0x248710DE")],
    ),
    "telegraf__rtx-3080__536.40__windows-wddm.xml": (
        "536.40",
        "12.2",
        "windows",
        [("NVIDIA GeForce RTX 3080", "GeForce", "Ampere", 10240, 1128, "0x221610DE")],
    ),
    # pci_device_id is "[REDACTED]" in this file.
    "telegraf__rtx-3090__525.147.05.xml": (
        "525.147.05",
        "12.0",
        "linux",
        [("NVIDIA GeForce RTX 3090", "GeForce", "Ampere", 24576, 1, None)],
    ),
    "telegraf__rtx-4000-sff-ada__595.84__v13.xml": (
        "595.84",
        "13.2",
        "linux",
        [("NVIDIA RTX 4000 SFF Ada Generation", "NVIDIA RTX", "Ada Lovelace", 20475, 3534, "0x27B010DE")],
    ),
    "telegraf__rtx-pro-6000-blackwell-maxq__590.44.01__v13.xml": (
        "590.44.01",
        "13.1",
        "linux",
        [
            (
                "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition",
                "NVIDIA RTX",
                "Blackwell",
                97887,
                65720,
                "0x2BB410DE",
            )
        ],
    ),
    # A Tesla T4 in WDDM mode (Windows); brand is "NVIDIA" on 512+ drivers.
    "telegraf__tesla-t4__512.78.xml": (
        "512.78",
        "11.6",
        "windows",
        [("Tesla T4", "NVIDIA", "Turing", 15360, 276, "0x1EB810DE")],
    ),
    "telegraf__tesla-t4__515.105.01.xml": (
        "515.105.01",
        "11.7",
        "linux",
        [("Tesla T4", "NVIDIA", "Turing", 15360, 1032, "0x1EB810DE")],
    ),
    "tony__2x-tesla-p100-pcie-12gb__375.66__v8-no-cuda-version.xml": (
        "375.66",
        None,
        "linux",
        [("Tesla P100-PCIE-12GB", "Tesla", None, 12193, 0, "0x15F710DE")] * 2,
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exact_values(real_dir: Path, name: str) -> None:
    driver, cuda, platform, gpus = EXPECTED[name]
    host = parse_smi_xml((real_dir / XML / name).read_bytes())
    assert (host.driver.version, host.driver.cuda, host.driver.platform) == (driver, cuda, platform)
    got = [(g.name, g.brand, g.architecture, g.memory_total_mib, g.memory_used_mib, g.pci_device_id) for g in host.gpus]
    assert got == gpus


def test_k80_keeps_document_order_and_bus_ids(real_dir: Path) -> None:
    host = parse_smi_xml((real_dir / XML / "pai__4x-tesla-k80__430.26__cuda-version-not-found.xml").read_bytes())
    assert [(g.index, g.pci_bus_id, g.uuid) for g in host.gpus] == [
        (0, "00001580:00:00.0", "GPU-c3b26f7a-8dcb-619c-fa1b-8029265a4db0"),
        (1, "00002DF7:00:00.0", "GPU-b01b80eb-0f18-1df0-cf88-0725bd90f1e1"),
        (2, "00004968:00:00.0", "GPU-30bc2701-3bc2-5f35-0ebd-9867a077e138"),
        (3, "0000F8D6:00:00.0", "GPU-3341aba2-f01d-2c1f-7dd4-e389779faec2"),
    ]


def test_a100_40gb_mig_devices(real_dir: Path) -> None:
    gpu = parse_smi_xml((real_dir / XML / "netdata__a100-sxm4-40gb__510.47.03__mig.xml").read_bytes()).gpus[0]
    assert gpu.mig_mode == "Enabled"
    assert gpu.uuid == "GPU-27b94a00-ed54-5c24-b1fd-1054085de32a"
    assert gpu.mig_devices == [
        MigDevice(index=0, gpu_instance_id=1, compute_instance_id=0, memory_total_mib=19968),
        MigDevice(index=1, gpu_instance_id=2, compute_instance_id=0, memory_total_mib=19968),
    ]


def test_a100_80gb_mig_devices_and_trimmed_attached_gpus(real_dir: Path) -> None:
    host = parse_smi_xml((real_dir / XML / "telegraf__a100-sxm4-80gb__535.54.03__mig.xml").read_bytes(), "a100.xml")
    gpu = host.gpus[0]
    assert [(m.index, m.gpu_instance_id, m.compute_instance_id, m.memory_total_mib) for m in gpu.mig_devices] == [
        (0, 3, 0, 19968),
        (1, 4, 0, 19968),
        (2, 5, 0, 19968),
        (3, 6, 0, 19968),
    ]
    # attached_gpus=4 but one <gpu>: noted, not fatal.
    assert [e.probe for e in host.errors] == ["nvidia-smi-xml"]
    assert "attached_gpus is 4" in host.errors[0].message and "1 <gpu>" in host.errors[0].message


@pytest.mark.parametrize(
    ("name", "mig_mode"),
    [
        ("netdata__rtx-4090__535.86.05.xml", None),  # N/A: not MIG capable
        ("pai__2x-rtx-2080ti__410.73__ecc-unsupported.xml", None),  # no <mig_mode> before 450
        ("netdata__a100-sxm4-40gb__510.47.03__mig.xml", "Enabled"),
    ],
)
def test_mig_mode(real_dir: Path, name: str, mig_mode: str | None) -> None:
    assert {g.mig_mode for g in parse_smi_xml((real_dir / XML / name).read_bytes()).gpus} == {mig_mode}


@pytest.mark.parametrize(
    ("name", "driver_model"),
    [
        ("netdata__rtx-2080__516.59__windows-wddm.xml", "WDDM"),
        ("telegraf__rtx-3080__536.40__windows-wddm.xml", "WDDM"),
        ("telegraf__rtx-3080__595.58.03__v13.xml", None),  # the same card on Linux: N/A
    ],
)
def test_driver_model(real_dir: Path, name: str, driver_model: str | None) -> None:
    assert parse_smi_xml((real_dir / XML / name).read_bytes()).gpus[0].driver_model == driver_model


def test_trimmed_documents_are_noted_only_when_gpus_are_missing(real_dir: Path) -> None:
    noted = {path.name for path in (real_dir / XML).glob("*.xml") if parse_smi_xml(path.read_bytes()).errors}
    assert noted == {
        "pai__gtx-1070__384.66__no-cuda-version.xml",
        "pai__v100-sxm3-32gb__410.104__retired-pages.xml",
        "telegraf__a100-sxm4-80gb__535.54.03__mig.xml",
    }


# --- synthetic documents ----------------------------------------------------------------------

MINIMAL = """<?xml version="1.0" ?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">
<nvidia_smi_log>
  <driver_version>550.54.15</driver_version>
  <cuda_version>12.4</cuda_version>
  <attached_gpus>1</attached_gpus>
  <gpu id="00000000:01:00.0">
    <product_name>NVIDIA H100 80GB HBM3</product_name>
    <product_brand>[N/A]</product_brand>
    <uuid>Unknown Error</uuid>
    <mig_mode><current_mig>Disabled</current_mig></mig_mode>
    <driver_model><current_dm>Requested functionality has been deprecated</current_dm></driver_model>
    <fb_memory_usage><total>81559 MiB</total><used>N/A</used></fb_memory_usage>
    <pci><pci_device_id>0x233010de</pci_device_id></pci>
  </gpu>
</nvidia_smi_log>
"""


def test_minimal_document_and_not_available_spellings() -> None:
    host = parse_smi_xml(MINIMAL)
    assert (host.driver.version, host.driver.cuda, host.driver.platform) == ("550.54.15", "12.4", "linux")
    gpu = host.gpus[0]
    assert (gpu.name, gpu.brand, gpu.uuid, gpu.driver_model) == ("NVIDIA H100 80GB HBM3", None, None, None)
    assert (gpu.memory_total_mib, gpu.memory_used_mib, gpu.mig_mode) == (81559, None, "Disabled")
    assert gpu.pci_device_id == "0x233010DE"
    assert host.errors == []


def test_bom_and_external_dtd_reference_are_accepted_without_fetching() -> None:
    # ElementTree never fetches an external DTD; an unreachable address must not matter.
    doc = MINIMAL.replace('"nvsmi_device_v12.dtd"', '"http://127.0.0.1:9/nvsmi_device_v12.dtd"')
    assert parse_smi_xml(b"\xef\xbb\xbf" + doc.encode()).gpus[0].name == "NVIDIA H100 80GB HBM3"


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE nvidia_smi_log [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<nvidia_smi_log><driver_version>&lol9;</driver_version></nvidia_smi_log>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE nvidia_smi_log [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<nvidia_smi_log><driver_version>&secret;</driver_version></nvidia_smi_log>
"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE nvidia_smi_log [ <!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote; ]>
<nvidia_smi_log/>
"""

# No <!ENTITY at all, but a subset: refused too, nvidia-smi never writes one.
EMPTY_SUBSET = '<?xml version="1.0"?>\n<!DOCTYPE nvidia_smi_log [ ]>\n<nvidia_smi_log/>'


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(BILLION_LAUGHS, "entity declarations", id="billion-laughs"),
        pytest.param(BILLION_LAUGHS.encode(), "entity declarations", id="billion-laughs-bytes"),
        pytest.param(EXTERNAL_ENTITY, "entity declarations", id="external-entity"),
        pytest.param(PARAMETER_ENTITY, "entity declarations", id="parameter-entity"),
        pytest.param(EMPTY_SUBSET, "internal subset", id="empty-internal-subset"),
        # The same bomb in UTF-16 must not slip past a byte-level screen.
        pytest.param(BILLION_LAUGHS.encode("utf-16"), "binary", id="billion-laughs-utf16"),
        pytest.param(b"", "empty document", id="empty-bytes"),
        pytest.param("", "empty document", id="empty-text"),
        pytest.param(" \n\t\r\n", "empty document", id="whitespace"),
        pytest.param(bytes(range(256)) * 4, "binary", id="binary-with-nul"),
        pytest.param(b"\x89PNG\r\n\x1a\n\xff\xfe\xfd", "binary", id="binary-not-utf8"),
        pytest.param("Failed to initialize NVML: Driver/library version mismatch\n", "not an XML", id="smi-error"),
        pytest.param('{"driver": "550.54.15"}', "not an XML document", id="json"),
        pytest.param(MINIMAL[: len(MINIMAL) // 2], "truncated or malformed XML at line", id="truncated"),
        pytest.param("<nvidia_smi_log><gpu></nvidia_smi_log>", "malformed XML at line 1", id="mismatched-tag"),
        pytest.param("<nvidia_smi_log>&undefined;</nvidia_smi_log>", "malformed XML at line 1", id="undefined-entity"),
        pytest.param("<html><body>nvidia</body></html>", "root element is <html>", id="wrong-root"),
        pytest.param('<?xml version="1.0"?><nvidia_smi_log/><nvidia_smi_log/>', "malformed XML", id="two-roots"),
        pytest.param(12345, "expected bytes or text", id="not-text"),
    ],
)
def test_bad_input_is_refused_with_one_line(data: object, expected: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_smi_xml(data, "dump.xml")  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith("dump.xml: ")
    assert expected in message
    assert "\n" not in message and len(message) < 200


def test_truncated_message_names_the_line() -> None:
    lines = MINIMAL.splitlines()
    with pytest.raises(UsageError, match=r"truncated or malformed XML at line 9$"):
        parse_smi_xml("\n".join(lines[:8]) + "\n<mig_mode><curr")


def test_truncated_real_document_is_refused(real_dir: Path) -> None:
    data = (real_dir / XML / "netdata__rtx-4090__535.86.05.xml").read_bytes()
    with pytest.raises(UsageError, match="truncated or malformed XML at line"):
        parse_smi_xml(data[: len(data) * 2 // 3])


def test_over_64_mib_is_refused_before_parsing() -> None:
    oversize = b"<nvidia_smi_log>" + b" " * MAX_BYTES + b"</nvidia_smi_log>"
    with pytest.raises(UsageError, match="larger than 64 MiB"):
        parse_smi_xml(oversize)
    with pytest.raises(UsageError, match="larger than 64 MiB"):
        parse_smi_xml(oversize.decode())


def test_huge_but_allowed_document_parses() -> None:
    # 256 GPUs and a ~16 MiB comment: big, legal, and read in full.
    gpu = MINIMAL[MINIMAL.index("<gpu ") : MINIMAL.index("</gpu>") + len("</gpu>")]
    body = "\n".join(gpu.replace("01:00.0", f"{i:02X}:00.0") for i in range(256))
    doc = MINIMAL.replace(MINIMAL[MINIMAL.index("<gpu ") : MINIMAL.index("</gpu>") + len("</gpu>")], body)
    doc = doc.replace("<nvidia_smi_log>", "<!-- " + "x" * (16 << 20) + " -->\n<nvidia_smi_log>", 1)
    host = parse_smi_xml(doc.encode())
    assert len(host.gpus) == 256
    assert host.gpus[255].pci_bus_id == "00000000:FF:00.0"
    # attached_gpus says 1, the document has more: only fewer is worth a note.
    assert host.errors == []


def test_many_doctype_openings_are_screened_in_linear_time() -> None:
    # A quadratic screen would take minutes here; the linear one takes milliseconds.
    hostile = "<!DOCTYPE " * 2_000_000 + "<nvidia_smi_log/>"
    with pytest.raises(UsageError):
        parse_smi_xml(hostile)
