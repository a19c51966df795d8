"""PyTorch releases: variants, default PyPI CUDA, compiled architectures per variant and platform."""

from __future__ import annotations

import re

import pytest

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge import ArchList, KnowledgeBase

from support.knowledge import load_facts, params

V = Version.parse
FACTS = load_facts()


def compiled(archs: ArchList, kind: str) -> tuple[Version, ...]:
    """The compute capabilities an architecture list has ``kind`` ("sass" or "ptx") code for."""
    return tuple(t.cc for t in archs.targets if t.kind == kind)


RELEASES = FACTS.get("pytorch_builds", {}).get("releases", [])
# "cu124 x86_64", "cu124/cu121", "cu126 x86_64 {cc}", "cu128 measured (Docker image)",
# "cu116/cu117 (pip, builder release/1.13)"
ARCH_KEY = re.compile(r"(?P<variants>cu\d+(?:/cu\d+)*)(?:\s+(?P<platform>x86_64|aarch64))?(?P<rest>.*)")


def _arch_cases() -> list[tuple[str, str, str, str, str]]:
    cases = []
    for release in RELEASES:
        for key, value in release["arch"].items():
            m = ARCH_KEY.fullmatch(key)
            if not m:
                # conda builds, extra cubins of the PyPI wheel, the PTX remark: not wheel lists
                assert re.search(r"conda|cuobjdump|^PTX$", key), key
                continue
            platform = f"linux-{m['platform'] or 'x86_64'}"
            for variant in m["variants"].split("/"):
                cases.append((release["version"], variant, platform, value, key))
    return cases


ARCH_CASES = _arch_cases()


@pytest.mark.parametrize("case", params(ARCH_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}"))
def test_arch_lists_match_the_reference(kb: KnowledgeBase, case) -> None:
    torch, variant, platform, value, key = case
    wheel = kb.torch_wheel(torch, variant, platform)
    assert wheel is not None and wheel.archs is not None, (torch, key)
    expected = ArchList.parse(value)
    if wheel.provenance.conflict:
        # the conservative side never claims more than the reference
        assert set(compiled(wheel.archs, "sass")) <= set(compiled(expected, "sass"))
        assert set(compiled(wheel.archs, "ptx")) <= set(compiled(expected, "ptx"))
        assert wheel.provenance.chosen
    else:
        assert compiled(wheel.archs, "sass") == compiled(expected, "sass"), key
        assert compiled(wheel.archs, "ptx") == compiled(expected, "ptx"), key


def test_every_linux_wheel_row_comes_from_the_reference(kb: KnowledgeBase) -> None:
    if not ARCH_CASES:
        pytest.skip("shared reference facts are absent")
    reference = {(t, v, p) for t, v, p, _, _ in ARCH_CASES}
    for wheel in kb.torch_wheels:
        if wheel.platform.startswith("linux"):
            assert (wheel.torch_version, wheel.variant, wheel.platform) in reference


def test_windows_arch_lists_match_the_reference(kb: KnowledgeBase, facts: dict) -> None:
    table = facts["pytorch_builds"]["windows_arch_lists"]
    expected = {v: ArchList.parse(value) for key, value in table.items() if key != "source" for v in key.split("/")}
    windows = [w for w in kb.torch_wheels if w.platform == "windows-x86_64"]
    assert windows
    for wheel in windows:
        assert wheel.archs == expected[wheel.variant], (wheel.torch_version, wheel.variant)


@pytest.mark.parametrize("release", params(RELEASES, ids=lambda r: r["version"]))
def test_variants_and_default_match_the_reference(kb: KnowledgeBase, release: dict) -> None:
    ours = kb.torch_release(release["version"])
    assert set(release["source"]) <= set(ours.provenance.sources)
    assert set(ours.variants) == {re.match(r"cu\d+", v).group(0) for v in release["wheel_variants"]}
    assert ours.stable_cuda == tuple(V(v) for v in release["stable_cuda"])
    assert ours.experimental_cuda == tuple(V(v) for v in release["experimental_cuda"])
    default = re.search(r"(\d+\.\d+)", release["pypi_default"])
    assert ours.default_pypi_cuda == V(default.group(1))
    if release["pypi_default"].startswith("unconfirmed"):
        assert ours.default_pypi_status == "unconfirmed"


@pytest.mark.parametrize(
    "torch, cuda, variant",
    [
        ("1.13", "11.7", "cu117"),
        ("2.0.1", "11.7", "cu117"),
        ("2.1.2", "12.1", "cu121"),
        ("2.4.1", "12.1", "cu121"),
        ("2.5.1", "12.4", "cu124"),
        ("2.6.0", "12.4", "cu124"),
        ("2.7.0", "12.6", "cu126"),
        ("2.8.0", "12.8", "cu128"),
        ("2.11.0", "13.0", "cu130"),
    ],
)
def test_default_pypi_wheel(kb: KnowledgeBase, torch: str, cuda: str, variant: str) -> None:
    wheel = kb.torch_wheel(torch)
    assert (wheel.variant, wheel.cuda, wheel.default_pypi) == (variant, V(cuda), True)
    assert wheel.torch_version == torch
    assert wheel.index_url == f"https://download.pytorch.org/whl/{variant}"


def test_default_of_2_14_is_marked_unconfirmed(kb: KnowledgeBase) -> None:
    wheel = kb.torch_wheel("2.14.0")
    assert wheel.cuda == V("13.0") and wheel.provenance.status == "unconfirmed"


def test_local_version_selects_the_variant(kb: KnowledgeBase) -> None:
    wheel = kb.torch_wheel("2.1.0+cu118")
    assert wheel.variant == "cu118" and not wheel.default_pypi
    assert V("3.7") in compiled(wheel.archs, "sass")  # sm_37 only kept in the 11.x builds
    assert V("3.7") not in compiled(kb.torch_wheel("2.1.0+cu121").archs, "sass")


def test_cpu_and_unknown(kb: KnowledgeBase) -> None:
    cpu = kb.torch_wheel("2.4.1+cpu")
    assert cpu.cuda is None and cpu.archs.targets == () and cpu.index_url.endswith("/cpu")
    assert kb.torch_wheel("2.6", "cu128") is None  # no stable cu128 wheels for 2.6
    assert kb.torch_wheel("1.12.1") is None
    assert kb.torch_wheel("2.6", platform="windows") is None  # only Linux x86_64 default known


def test_variant_without_known_archs_says_so(kb: KnowledgeBase) -> None:
    wheel = kb.torch_wheel("2.12.1", "cu129")
    assert wheel.archs is None and wheel.provenance.status == "unconfirmed"
    assert "2.12.1 only" in wheel.provenance.note


@pytest.mark.parametrize(
    "torch, variant, platform, cc, kind",
    [
        ("2.4", "cu121", "linux", "8.9", "sass"),  # sm_86 runs on Ada
        ("2.4", "cu121", "linux", "12.0", None),  # no PTX: an RTX 5090 has no kernel image
        ("2.7", "cu128", "linux", "12.0", "sass"),
        ("2.7", "cu128", "linux", "6.1", None),  # cu128 has no Pascal
        ("2.9", "cu130", "linux", "12.1", "sass"),
        ("2.10", "cu130", "linux", "10.3", "sass"),
        ("2.13", "cu130", "linux", "7.0", None),  # CUDA 13 wheels: no Volta
        ("2.13", "cu126", "linux", "7.0", "sass"),
        ("2.13", "cu130", "linux-aarch64", "11.0", "sass"),
        ("2.12", "cu130", "windows", "8.6", "sass"),
        ("2.8", "cu128", "linux", "7.0", "sass"),  # conflict: the shipped wheel has sm_70
    ],
)
def test_wheel_covers(kb, torch, variant, platform, cc, kind) -> None:
    assert kb.torch_wheel(torch, variant, platform).archs.covers(V(cc)).kind == kind


def test_ptx(kb: KnowledgeBase) -> None:
    assert compiled(kb.torch_wheel("2.9", "cu130").archs, "ptx") == (V("12.0"),)
    assert compiled(kb.torch_wheel("2.12", "cu130").archs, "ptx") == ()  # conflict: no PTX (conservative)
    assert "RELEASE.md" in kb.torch_wheel("2.12", "cu130").provenance.conflict
    assert compiled(kb.torch_wheel("2.5", "cu124").archs, "ptx") == ()


def test_variants_for(kb: KnowledgeBase) -> None:
    wheels = kb.torch_variants_for("2.9.1")
    assert [w.variant for w in wheels] == ["cu126", "cu128", "cu129", "cu130"]
    assert [w.default_pypi for w in wheels] == [False, True, False, False]
    assert kb.torch_variants_for("3.0") == ()


# --- the default PyPI wheel on Linux aarch64 ([[default_wheel]], issue 14) ----------------------------


@pytest.mark.parametrize("torch", ["2.11.0", "2.12.1", "2.13.0", "2.14.0"])
def test_default_aarch64_wheel_is_the_cu130_build_from_2_11(kb: KnowledgeBase, torch: str) -> None:
    """GH200 / GB200 / DGX Spark / Jetson Thor: a plain `pip install torch` of 2.11-2.14 gets CUDA 13.0,
    with the aarch64 cu130 architecture list (sm_110 for Thor, sm_120 SASS that a GB10's 12.1 runs)."""
    wheel = kb.torch_wheel(torch, None, "linux-aarch64")
    assert (wheel.variant, wheel.cuda, wheel.default_pypi) == ("cu130", V("13.0"), True)
    assert {V("9.0"), V("11.0"), V("12.0")} <= set(compiled(wheel.archs, "sass"))
    assert wheel.provenance.status in ("derived", "third-party", "unconfirmed")  # never "confirmed": inferred
    assert "default PyPI wheel on linux-aarch64" in wheel.provenance.note


def test_aarch64_cuda_variants_are_not_the_default(kb: KnowledgeBase) -> None:
    """Up to 2.10 PyPI's aarch64 wheel was CPU-only; its CUDA variants came from download.pytorch.org."""
    assert kb.torch_wheel("2.10.0", "cu130", "linux-aarch64").default_pypi is False
    assert kb.torch_wheel("2.11.0", "cu126", "linux-aarch64").default_pypi is False


def test_default_wheel_row_must_name_a_published_variant(tmp_path, fresh_loader) -> None:
    from gpu_preflight.core.errors import UsageError
    from gpu_preflight.knowledge import packaged_data_dir

    text = (packaged_data_dir() / "torch.toml").read_text(encoding="utf-8")
    row = 'torch = "2.12"\nplatform = "linux-aarch64"\ncuda = "13.0"'
    assert row in text
    (tmp_path / "torch.toml").write_text(text.replace(row, row.replace('"13.0"', '"12.8"'), 1), encoding="utf-8")
    for other in packaged_data_dir().glob("*.toml"):
        if other.name != "torch.toml":
            (tmp_path / other.name).write_text(other.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(UsageError, match=r"torch\.toml.*CUDA 12\.8 is not a published variant of torch 2\.12"):
        fresh_loader(tmp_path)


@pytest.mark.parametrize("torch", ["2.4.1", "2.8.0", "2.10.0"])
def test_default_aarch64_wheel_up_to_2_10_is_cpu_only(kb: KnowledgeBase, torch: str) -> None:
    """#160162 / #168065: before 2.11 a plain `pip install torch` on GH200 / GB200 is the CPU build."""
    wheel = kb.torch_wheel(torch, None, "linux-aarch64")
    assert (wheel.variant, wheel.cuda, wheel.default_pypi) == ("cpu", None, True)
    assert wheel.provenance.status == "third-party"
