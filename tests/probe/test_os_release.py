"""/etc/os-release, read into the host document so that advice names this OS's commands."""

from __future__ import annotations

from gpu_preflight.core.host import Host
from gpu_preflight.probe.os_release import MAX_OS_RELEASE_BYTES, parse_os_release, read_os_release

UBUNTU = """PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
ID=ubuntu
ID_LIKE=debian
"""
ROCKY = 'NAME="Rocky Linux"\nVERSION_ID="9.4"\nID="rocky"\nID_LIKE="rhel centos fedora"\n'


def test_ubuntu_and_its_family() -> None:
    fields = parse_os_release(UBUNTU)
    assert fields == {"os_name": "Ubuntu 24.04.1 LTS", "os_version": "24.04", "os_id": "ubuntu", "os_like": "debian"}
    assert Host(platform={"system": "Linux", **fields}).os_ids() == ("ubuntu", "debian")


def test_quoted_family_list_and_case() -> None:
    fields = parse_os_release(ROCKY.replace('ID="rocky"', 'ID="Rocky"'))
    assert Host(platform=fields).os_ids() == ("rocky", "rhel", "centos", "fedora")


def test_wsl_and_windows_come_first() -> None:
    assert Host(platform={"wsl": "true", **parse_os_release(UBUNTU)}).os_ids() == ("wsl",)
    assert Host(platform={"system": "Windows"}).os_ids() == ("windows",)


def test_garbage_and_unbalanced_quotes_never_raise() -> None:
    assert parse_os_release("\x00\xff=\nID='unterminated\n=\nNO_EQUALS\n") == {"os_id": "unterminated"}
    assert parse_os_release("") == {}


def test_reads_etc_then_usr_lib_and_bounds_the_read(tmp_path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text(UBUNTU)
    assert read_os_release(str(tmp_path))["os_id"] == "ubuntu"
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(ROCKY + "X=" + "y" * (2 * MAX_OS_RELEASE_BYTES))
    assert read_os_release(str(tmp_path))["os_id"] == "rocky"
    assert read_os_release(str(tmp_path / "absent")) == {}
