"""``snakemake.settings.types``: the settings enums that workflow code compares against
(``DeploymentMethod``, ``ExecMode``, ``SharedFSUsage``), with Snakemake's members and
choice spelling (``str(DeploymentMethod.ENV_MODULES) == "env-modules"``)."""
from __future__ import annotations

from enum import Enum


class _Choice(Enum):
    def __str__(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse_choice(cls, choice: str) -> "_Choice":
        return cls[choice.replace("-", "_").upper()]


class DeploymentMethod(_Choice):
    CONDA = 0
    APPTAINER = 1
    ENV_MODULES = 2


class ExecMode(_Choice):
    DEFAULT = 0
    SUBPROCESS = 1
    REMOTE = 2


class SharedFSUsage(_Choice):
    PERSISTENCE = 0
    INPUT_OUTPUT = 1
    SOFTWARE_DEPLOYMENT = 2
    SOURCES = 3
    STORAGE_LOCAL_COPIES = 4
    SOURCE_CACHE = 5
    SOFTWARE_DEPLOYMENT_CACHE = 6


__all__ = ["DeploymentMethod", "ExecMode", "SharedFSUsage"]
