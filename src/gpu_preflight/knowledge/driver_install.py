"""driver_install.toml: how to install a driver of a branch on each operating system."""

from __future__ import annotations

from dataclasses import dataclass

from gpu_preflight.core.versions import Version
from gpu_preflight.knowledge.files import DataFiles
from gpu_preflight.knowledge.provenance import Provenance

DRIVER_INSTALL_FILE = "driver_install.toml"


@dataclass(frozen=True)
class DriverInstall:
    """The commands that install branch {branch} on one family of operating systems."""

    name: str  # "Ubuntu", "RHEL 8/9 family", "WSL"
    ids: tuple[str, ...]  # os-release ID / ID_LIKE values
    open: tuple[str, ...]  # templates with {branch}: open GPU kernel modules (Turing and newer)
    proprietary: tuple[str, ...]  # templates: the proprietary flavour (Maxwell, Pascal, Volta)
    guide: str  # where to read on when no command is known
    hint: str  # what to do when no command is known ("install it on Windows, never inside WSL")
    version_at_least: Version | None
    version_below: Version | None
    provenance: Provenance

    def applies(self, os_ids: tuple[str, ...], version_id: str | None) -> bool:
        if not set(os_ids) & set(self.ids):
            return False
        version = Version.parse_or_none(version_id) if version_id else None
        if version is None:
            return self.version_at_least is None  # an unknown release gets the older family's row
        if self.version_at_least is not None and version < self.version_at_least:
            return False
        return not (self.version_below is not None and version >= self.version_below)

    def commands(self, branch: int, open_modules: bool) -> tuple[str, ...]:
        templates = self.open if open_modules else self.proprietary
        return tuple(template.format(branch=branch) for template in templates)


def read_driver_installs(files: DataFiles) -> tuple[DriverInstall, ...]:
    result = []
    for row in files.rows(DRIVER_INSTALL_FILE, "install"):
        result.append(
            DriverInstall(
                name=row.string("name"),
                ids=row.texts("ids"),
                open=row.texts("open"),
                proprietary=row.texts("proprietary"),
                guide=row.string("guide"),
                hint=row.text("hint", ""),
                version_at_least=row.version("version_at_least", None),
                version_below=row.version("version_below", None),
                provenance=row.provenance(),
            )
        )
        row.finish()
    return tuple(result)


def find_driver_install(
    installs: tuple[DriverInstall, ...], os_ids: tuple[str, ...], version_id: str | None
) -> DriverInstall | None:
    """The row for an OS named by its os-release ID first, then its ID_LIKE values."""
    for os_id in os_ids:
        for install in installs:
            if install.applies((os_id,), version_id):
                return install
    return None
