"""Plain nvidia-smi output: banner, table, `--version`, one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.host import Host, MigDevice
from gpu_preflight.probe.smi_text import (
    SMI_ERRORS,
    SmiBanner,
    classify_smi_error,
    parse_smi_banner,
    parse_smi_table,
    parse_smi_version_output,
)

TEXT = "nvidia-smi-text"
# Files that are not the default table: `-L`, `-q`, `--version`, whole captures, error outputs.
NOT_TABLES = ("-L.txt", "-q.txt", "--version.txt")


def read(path: Path) -> str:
    # newline="" keeps CRLF files' line endings, so the parsers see them as published.
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


# --- every real file --------------------------------------------------------------------------


@pytest.mark.real_files(TEXT, "*.txt", exclude=NOT_TABLES)
def test_every_table_gives_banner_and_gpus(real_file: Path) -> None:
    text = read(real_file)
    banner = parse_smi_banner(text)
    # The file names carry the driver version (WSL2 files: "driver555.85"); they must agree.
    assert banner.driver_version
    assert f"__{banner.driver_version}__" in real_file.name or f"driver{banner.driver_version}__" in real_file.name
    host = parse_smi_table(text)
    assert host.source == "nvidia-smi" and host.driver.source == "nvidia-smi"
    assert (host.driver.version, host.driver.cuda) == (banner.driver_version, banner.cuda_version)
    if "banner-only" not in real_file.name:
        assert host.gpus
    for gpu in host.gpus:
        assert gpu.name and gpu.pci_bus_id and gpu.memory_total_mib
        assert 0 <= gpu.memory_used_mib <= gpu.memory_total_mib
    assert Host.from_dict(host.to_dict()) == host
    assert classify_smi_error(text) is None


@pytest.mark.real_files(TEXT, "**/*.txt")
def test_only_error_outputs_are_classified(real_file: Path) -> None:
    """No false alarms anywhere: tables, -L, -q, --version and whole captures give None."""
    expected = (
        {
            "device-handle-unknown-error": "gpu-lost",
            "driver-library-mismatch": "driver-library-mismatch",
            "no-driver": "no-driver",
        }.get(real_file.name.split("__")[0])
        if real_file.parent.name == "errors"
        else None
    )
    assert classify_smi_error(read(real_file)) == expected


@pytest.mark.real_files(TEXT, "*--version.txt")
def test_every_version_output(real_file: Path) -> None:
    info = parse_smi_version_output(read(real_file))
    assert info.driver_version and f"__{info.driver_version}__" in real_file.name
    assert info.cuda_version and re.fullmatch(r"\d+\.\d+", info.cuda_version)


# --- exact values -----------------------------------------------------------------------------

# file: (smi version, driver, cuda, platform, [(index, name, used MiB, total MiB, bus id)])
TABLES = {
    "gpu-exporter__linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04__idle.txt": (
        "610.57.04",
        "610.57.04",
        "13.3",
        "linux",
        [(0, "NVIDIA GeForce RTX 2080 ...", 211, 8192, "00000000:0C:00.0")],
    ),
    "gpu-exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.txt": (
        "590.48.01",
        "590.48.01",
        "13.1",
        "linux",
        [(0, "NVIDIA H100 80GB HBM3", 0, 81559, "00000000:00:09.0")],
    ),
    "gpu-exporter__linux-x86_64__nvidia-l40s__595.80__idle.txt": (
        "595.80",
        "595.80",
        "13.2",
        "linux",
        [(0, "NVIDIA L40S", 0, 46068, "00000000:01:00.0")],
    ),
    "gpu-exporter__windows-x86_64__nvidia-geforce-rtx-2080-super__610.62__load.txt": (
        "610.62",
        "610.62",
        "13.3",
        "windows",
        [(0, "NVIDIA GeForce RTX 2080 ...", 1366, 8192, "00000000:0C:00.0")],
    ),
    "hello-ai__windows__555.97__rtx-4060-laptop__wddm-no-processes-section.txt": (
        "555.97",
        "555.97",
        "12.5",
        "windows",
        [(0, "NVIDIA GeForce RTX 4060 ...", 5896, 8188, "00000000:01:00.0")],
    ),
    # WSL2: the Linux nvidia-smi (555.42.06) talks to the Windows driver (555.85).
    "hello-ai__wsl2__smi555.42.06-driver555.85__rtx-4060-laptop.txt": (
        "555.42.06",
        "555.85",
        "12.5",
        "windows",
        [(0, "NVIDIA GeForce RTX 4060 ...", 41, 8188, "00000000:01:00.0")],
    ),
    "hello-ai__wsl2__smi555.42.06-driver555.97__banner-only.txt": ("555.42.06", "555.97", "12.5", "windows", []),
    "mxochicale__440.100__cuda10.2__no-mig-row.txt": (
        "440.100",
        "440.100",
        "10.2",
        "linux",
        [(0, "GeForce RTX 207...", 246, 7973, "00000000:01:00.0")],
    ),
    "mxochicale__550.120__cuda12.4__rtx-2000-ada__bogus-588W.txt": (
        "550.120",
        "550.120",
        "12.4",
        "linux",
        [(0, "NVIDIA RTX 2000 Ada Gene...", 9, 8188, "00000000:01:00.0")],
    ),
    "mxochicale__580.95.05__cuda13.0__rtx-2000-ada-laptop.txt": (
        "580.95.05",
        "580.95.05",
        "13.0",
        "linux",
        [(0, "NVIDIA RTX 2000 Ada Gene...", 15, 8188, "00000000:01:00.0")],
    ),
    "neuropoly__440.33.01__cuda10.2__8x-tesla-p100-sxm2.txt": (
        "440.33.01",
        "440.33.01",
        "10.2",
        "linux",
        [
            (i, "Tesla P100-SXM2...", used, 16280, f"00000000:{bus}:00.0")
            for i, (used, bus) in enumerate(
                [
                    (10, "04"),
                    (10, "05"),
                    (10, "09"),
                    (10, "0A"),
                    (10253, "85"),
                    (10253, "86"),
                    (10245, "89"),
                    (13684, "8A"),
                ]
            )
        ],
    ),
    "neuropoly__510.73.05__cuda11.6__4x-rtx-a6000__ecc-off.txt": (
        "510.73.05",
        "510.73.05",
        "11.6",
        "linux",
        [
            (0, "NVIDIA RTX A6000", 47502, 49140, "00000000:01:00.0"),
            (1, "NVIDIA RTX A6000", 428, 49140, "00000000:41:00.0"),
            (2, "NVIDIA RTX A6000", 428, 49140, "00000000:81:00.0"),
            (3, "NVIDIA RTX A6000", 428, 49140, "00000000:C1:00.0"),
        ],
    ),
    # No "CUDA Version" in 390's banner.
    "nvidia-htop__390.25__8x-gtx-1080ti__no-cuda-version.txt": (
        "390.25",
        "390.25",
        None,
        "linux",
        [
            (i, "GeForce GTX 108...", used, 11178, f"00000000:{bus}:00.0")
            for i, (used, bus) in enumerate(
                [
                    (10807, "04"),
                    (10783, "05"),
                    (10793, "08"),
                    (7996, "09"),
                    (5964, "84"),
                    (10785, "85"),
                    (10823, "88"),
                    (7773, "89"),
                ]
            )
        ],
    ),
    "nvidia-htop__450.57__rtx-2070+gtx-750ti.txt": (
        "450.57",
        "450.57",
        "11.0",
        "linux",
        [
            (0, "GeForce RTX 2070", 749, 7981, "00000000:01:00.0"),
            (1, "GeForce GTX 750 Ti", 871, 2002, "00000000:04:00.0"),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_exact_values(real_dir: Path, name: str) -> None:
    smi, driver, cuda, platform, gpus = TABLES[name]
    text = read(real_dir / TEXT / name)
    banner = parse_smi_banner(text)
    assert (banner.smi_version, banner.driver_version, banner.cuda_version) == (smi, driver, cuda)
    host = parse_smi_table(text)
    assert (host.driver.version, host.driver.cuda, host.driver.platform) == (driver, cuda, platform)
    got = [(g.index, g.name, g.memory_used_mib, g.memory_total_mib, g.pci_bus_id) for g in host.gpus]
    assert got == gpus


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "gpu-exporter__linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__idle.txt",
            SmiBanner("595.71.05", "595.71.05", "13.2"),
        ),
        # 610 renamed the fields: the KMD version is the driver version.
        (
            "gpu-exporter__linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04__idle.txt",
            SmiBanner("610.57.04", "610.57.04", "13.3", kmd_version="610.57.04"),
        ),
        (
            "gpu-exporter__windows-x86_64__nvidia-geforce-rtx-2080-super__610.62__idle.txt",
            SmiBanner("610.62", "610.62", "13.3", kmd_version="610.62"),
        ),
        (
            "hello-ai__wsl2__smi555.42.06-driver555.85__rtx-4060-laptop.txt",
            SmiBanner("555.42.06", "555.85", "12.5", platform_hint="wsl"),
        ),
        ("nvidia-htop__390.25__8x-gtx-1080ti__no-cuda-version.txt", SmiBanner("390.25", "390.25", None)),
    ],
)
def test_banner_exact(real_dir: Path, name: str, expected: SmiBanner) -> None:
    assert parse_smi_banner(read(real_dir / TEXT / name)) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "gpu-exporter__linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__nvidia-smi--version.txt",
            SmiBanner("595.71.05", "595.71.05", "13.2", nvml_version="595.71"),
        ),
        (
            "gpu-exporter__linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04__nvidia-smi--version.txt",
            SmiBanner("610.57.04", "610.57.04", "13.3", kmd_version="610.57.04", nvml_version="610.57"),
        ),
        (
            "gpu-exporter__windows-x86_64__nvidia-geforce-rtx-2080-super__610.62__nvidia-smi--version.txt",
            SmiBanner("610.62", "610.62", "13.3", kmd_version="610.62", nvml_version="610.62"),
        ),
    ],
)
def test_version_output_exact(real_dir: Path, name: str, expected: SmiBanner) -> None:
    assert parse_smi_version_output(read(real_dir / TEXT / name)) == expected


def test_windows_driver_model_column(real_dir: Path) -> None:
    name = "gpu-exporter__windows-x86_64__nvidia-geforce-rtx-2080-super__591.86__idle.txt"
    host = parse_smi_table(read(real_dir / TEXT / name))
    assert host.driver.platform == "windows"
    assert [g.driver_model for g in host.gpus] == ["WDDM"]
    assert parse_smi_banner(read(real_dir / TEXT / name)).platform_hint is None  # the banner alone can't tell


@pytest.mark.parametrize(
    ("name", "mig_mode"),
    [
        ("gpu-exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.txt", "Disabled"),
        ("gpu-exporter__linux-x86_64__nvidia-h200__590.48.01__idle.txt", "Disabled"),
        ("gpu-exporter__linux-x86_64__nvidia-l40s__595.80__idle.txt", None),  # N/A
        ("mxochicale__440.100__cuda10.2__no-mig-row.txt", None),  # no MIG M. row before 450
    ],
)
def test_mig_mode_row(real_dir: Path, name: str, mig_mode: str | None) -> None:
    assert [g.mig_mode for g in parse_smi_table(read(real_dir / TEXT / name)).gpus] == [mig_mode]


def test_h100_mig_device_table(real_dir: Path) -> None:
    for state in ("idle", "load"):
        name = f"gpu-exporter__linux-x86_64__nvidia-h100-mig__590.48.01__{state}.txt"
        host = parse_smi_table(read(real_dir / TEXT / name))
        (gpu,) = host.gpus
        assert gpu.mig_mode == "Enabled"
        assert gpu.mig_devices == [
            MigDevice(index=0, gpu_instance_id=2, compute_instance_id=0, memory_total_mib=40448),
            MigDevice(index=1, gpu_instance_id=3, compute_instance_id=0, memory_total_mib=20096),
            MigDevice(index=2, gpu_instance_id=9, compute_instance_id=0, memory_total_mib=9984),
            MigDevice(index=3, gpu_instance_id=10, compute_instance_id=0, memory_total_mib=9984),
        ]
    assert gpu.memory_used_mib == 11125  # the load capture


def test_h200_mig_two_compute_instances_in_one_gpu_instance(real_dir: Path) -> None:
    host = parse_smi_table(read(real_dir / TEXT / "gpu-exporter__linux-x86_64__nvidia-h200-mig__590.48.01__idle.txt"))
    migs = host.gpus[0].mig_devices
    assert [(m.index, m.gpu_instance_id, m.compute_instance_id, m.memory_total_mib) for m in migs] == [
        (0, 2, 0, 71424),
        (1, 2, 1, 71424),
        (2, 3, 0, 33280),
        (3, 9, 0, 16384),
        (4, 10, 0, 16384),
    ]


def test_fragment_without_banner_still_gives_its_gpu(real_dir: Path) -> None:
    text = read(real_dir / TEXT / "errors" / "err-power-fragment__v100__azhpc-diagnostics-77.txt")
    host = parse_smi_table(text)
    assert host.driver.version is None
    assert [(g.index, g.name, g.memory_used_mib, g.memory_total_mib, g.pci_bus_id) for g in host.gpus] == [
        (1, "Tesla V100-PCIE...", 593, 16160, "00008ED0:00:00.0")
    ]
    with pytest.raises(UsageError):
        parse_smi_banner(text)


# --- the same outputs inside the nvidia_gpu_exporter captures ---------------------------------

RULE = "#" * 80


def capture_section(text: str, command: str) -> str:
    """The output of the first ``# $ <command>`` section of a capture file."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip() == f"# $ {command}".rstrip()) + 2
    end = next((i for i in range(start, len(lines)) if lines[i] == RULE), len(lines))
    return "\n".join(lines[start:end])


@pytest.mark.real_files(f"{TEXT}/nvidia_gpu_exporter-captures", "*.txt")
def test_capture_sections(real_file: Path) -> None:
    driver = real_file.stem.rsplit("__", 1)[1]
    text = read(real_file)
    assert parse_smi_version_output(capture_section(text, "nvidia-smi --version")).driver_version == driver
    host = parse_smi_table(capture_section(text, "nvidia-smi"))
    assert host.driver.version == driver
    assert len(host.gpus) == 1
    assert host.driver.platform == ("windows" if real_file.name.startswith("windows") else "linux")
    assert ("mig" in real_file.name) == bool(host.gpus[0].mig_devices)


# --- synthetic variants -----------------------------------------------------------------------

TABLE_450 = (
    "Sun Aug  2 13:44:21 2020       \n"
    "+-----------------------------------------------------------------------------+\n"
    "| NVIDIA-SMI 450.57       Driver Version: 450.57       CUDA Version: 11.0     |\n"
    "|-------------------------------+----------------------+----------------------+\n"
    "| GPU  Name        Persistence-M| Bus-Id        Disp.A | Volatile Uncorr. ECC |\n"
    "| Fan  Temp  Perf  Pwr:Usage/Cap|         Memory-Usage | GPU-Util  Compute M. |\n"
    "|                               |                      |               MIG M. |\n"
    "|===============================+======================+======================|\n"
    "|   0  A100-SXM4-40GB      On   | 00000000:07:00.0 Off |                   On |\n"
    "| N/A   29C    P0    45W / 400W |     11MiB / 40537MiB |     N/A      Default |\n"
    "|                               |                      |              Enabled |\n"
    "+-------------------------------+----------------------+----------------------+\n"
    "\n"
    "+-----------------------------------------------------------------------------+\n"
    "| MIG devices:                                                                |\n"
    "+------------------+----------------------+-----------+-----------------------+\n"
    "| GPU  GI  CI  MIG |         Memory-Usage |        Vol|         Shared        |\n"
    "|      ID  ID  Dev |           BAR1-Usage | SM     Unc| CE  ENC  DEC  OFA  JPG|\n"
    "|                  |                      |        ECC|                       |\n"
    "|==================+======================+===========+=======================|\n"
    "|  0    1   0   0  |      3MiB / 20224MiB | 42      0 |  3   0    2    0    0 |\n"
    "|                  |      0MiB / 32767MiB |           |                       |\n"
    "+------------------+----------------------+-----------+-----------------------+\n"
)


def test_old_mig_layout() -> None:
    host = parse_smi_table(TABLE_450)
    assert host.gpus[0].mig_mode == "Enabled"
    assert host.gpus[0].mig_devices == [
        MigDevice(index=0, gpu_instance_id=1, compute_instance_id=0, memory_total_mib=20224)
    ]


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda t: t.replace("\n", "\r\n"), id="crlf"),
        pytest.param(lambda t: t.replace("\n", "   \n"), id="trailing-blanks"),
        pytest.param(
            lambda t: t.replace("NVIDIA-SMI", "\x1b[1mNVIDIA-SMI\x1b[0m").replace("|", "\x1b[32m|\x1b[0m"), id="ansi"
        ),
        pytest.param(lambda t: t.encode(), id="bytes"),
    ],
)
def test_line_endings_blanks_and_colour_codes_do_not_matter(transform) -> None:
    assert parse_smi_table(transform(TABLE_450)) == parse_smi_table(TABLE_450)
    assert parse_smi_banner(transform(TABLE_450)) == SmiBanner("450.57", "450.57", "11.0")


def test_cuda_version_na() -> None:
    banner = parse_smi_banner("| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   CUDA Version: N/A      |")
    assert (banner.driver_version, banner.cuda_version) == ("535.104.05", None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
        "+-----+\n|  |\n+-----+",
    ],
)
def test_not_a_table_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="nvidia-smi output"):
        parse_smi_table(text)
    with pytest.raises(UsageError, match="no 'NVIDIA-SMI ... Driver Version' banner"):
        parse_smi_banner(text)


def test_version_output_without_driver_is_refused() -> None:
    with pytest.raises(UsageError, match="no driver version"):
        parse_smi_version_output("NVIDIA-SMI version  : 595.71.05\nDRIVER version      : Deprecated\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Failed to initialize NVML: Driver/library version mismatch\r\n", "driver-library-mismatch"),
        ("\x1b[31mFailed to initialize NVML: Driver/library version mismatch\x1b[0m\n", "driver-library-mismatch"),
        (
            "NVIDIA-SMI couldn't find libnvidia-ml.so library in your system. Please make sure that the NVIDIA"
            " Display Driver is properly installed and present in your system.\n",
            "no-driver",
        ),
        ("No devices were found\n", "no-devices"),
        (
            "Unable to determine the device handle for GPU 0000:3B:00.0: GPU is lost.  Reboot the system to recover"
            " this GPU\n",
            "gpu-lost",
        ),
        ("Failed to initialize NVML: Unknown Error\n", "nvml-init-failed"),
        ("Failed to initialize NVML: Insufficient Permissions\n", "nvml-init-failed"),
        ("everything is fine\n", None),
        ("", None),
    ],
)
def test_classify_synthetic(text: str, expected: str | None) -> None:
    assert classify_smi_error(text) == expected


def test_error_classes_are_documented() -> None:
    names = {name for name, _ in SMI_ERRORS}
    assert names == {"driver-library-mismatch", "no-driver", "no-devices", "gpu-lost", "nvml-init-failed"}
