"""Plain nvidia-smi output: the banner and the one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpu_preflight.core.errors import UsageError
from gpu_preflight.probe.smi_text import (
    SMI_ERRORS,
    SmiBanner,
    classify_smi_error,
    parse_smi_banner,
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
def test_every_table_gives_its_banner(real_file: Path) -> None:
    text = read(real_file)
    banner = parse_smi_banner(text)
    # The file names carry the driver version (WSL2 files: "driver555.85"); they must agree.
    assert banner.driver_version
    assert f"__{banner.driver_version}__" in real_file.name or f"driver{banner.driver_version}__" in real_file.name
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


# --- exact values -----------------------------------------------------------------------------

# file: (smi version, driver, cuda)
BANNERS = {
    "gpu-exporter__linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04__idle.txt": (
        "610.57.04",
        "610.57.04",
        "13.3",
    ),
    "gpu-exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.txt": ("590.48.01", "590.48.01", "13.1"),
    "gpu-exporter__linux-x86_64__nvidia-l40s__595.80__idle.txt": ("595.80", "595.80", "13.2"),
    "gpu-exporter__windows-x86_64__nvidia-geforce-rtx-2080-super__610.62__load.txt": ("610.62", "610.62", "13.3"),
    "hello-ai__windows__555.97__rtx-4060-laptop__wddm-no-processes-section.txt": ("555.97", "555.97", "12.5"),
    # WSL2: the Linux nvidia-smi (555.42.06) talks to the Windows driver (555.85).
    "hello-ai__wsl2__smi555.42.06-driver555.85__rtx-4060-laptop.txt": ("555.42.06", "555.85", "12.5"),
    "hello-ai__wsl2__smi555.42.06-driver555.97__banner-only.txt": ("555.42.06", "555.97", "12.5"),
    "mxochicale__440.100__cuda10.2__no-mig-row.txt": ("440.100", "440.100", "10.2"),
    "mxochicale__550.120__cuda12.4__rtx-2000-ada__bogus-588W.txt": ("550.120", "550.120", "12.4"),
    "mxochicale__580.95.05__cuda13.0__rtx-2000-ada-laptop.txt": ("580.95.05", "580.95.05", "13.0"),
    "neuropoly__440.33.01__cuda10.2__8x-tesla-p100-sxm2.txt": ("440.33.01", "440.33.01", "10.2"),
    "neuropoly__510.73.05__cuda11.6__4x-rtx-a6000__ecc-off.txt": ("510.73.05", "510.73.05", "11.6"),
    # No "CUDA Version" in 390's banner.
    "nvidia-htop__390.25__8x-gtx-1080ti__no-cuda-version.txt": ("390.25", "390.25", None),
    "nvidia-htop__450.57__rtx-2070+gtx-750ti.txt": ("450.57", "450.57", "11.0"),
}


@pytest.mark.parametrize("name", sorted(BANNERS))
def test_banner_versions(real_dir: Path, name: str) -> None:
    banner = parse_smi_banner(read(real_dir / TEXT / name))
    assert (banner.smi_version, banner.driver_version, banner.cuda_version) == BANNERS[name]


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


def test_native_windows_banner_has_no_platform_hint(real_dir: Path) -> None:
    name = "gpu-exporter__windows-x86_64__nvidia-geforce-rtx-2080-super__591.86__idle.txt"
    assert parse_smi_banner(read(real_dir / TEXT / name)).platform_hint is None  # the banner alone can't tell


def test_fragment_without_banner_is_refused(real_dir: Path) -> None:
    text = read(real_dir / TEXT / "errors" / "err-power-fragment__v100__azhpc-diagnostics-77.txt")
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
    assert parse_smi_banner(capture_section(text, "nvidia-smi")).driver_version == driver
    assert classify_smi_error(text) is None


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
def test_text_without_a_banner_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="no 'NVIDIA-SMI ... Driver Version' banner"):
        parse_smi_banner(text)


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
