"""``snakemake.remote``: Snakemake 7's remote providers (``from snakemake.remote import FTP``,
``from snakemake.remote.HTTP import RemoteProvider``).

As in Snakemake 9, every provider module imports — published pipelines import them at the top
of a rules file and often never use them — and making a provider (``FTP.RemoteProvider()``)
stops the workflow. sciflow's error says what to do instead (the wording of the ``storage``
error, :data:`sciflow.directives.STORAGE_HINT`) and where: the workflow file and line that made
the provider.

The provider modules are made here rather than as one file each: they are all the same
(one ``RemoteProvider`` class), and a module object per name keeps ``import
snakemake.remote.S3`` and ``from snakemake.remote import S3`` working alike.
"""
from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

from sciflow.compat.workflow_object import caller_loc
from sciflow.errors import WorkflowError

# The provider modules of Snakemake 7 (all still importable in Snakemake 9).
PROVIDERS = ("AzBlob", "EGA", "FTP", "GS", "HTTP", "NCBI", "S3", "S3Mocked", "SFTP", "XRootD",
             "dropbox", "gfal", "gridftp", "iRODS", "webdav", "zenodo")


def remote_error(what: str) -> WorkflowError:
    """The error for using a remote provider: where (the calling workflow line) and what to
    do (download the file first)."""
    from sciflow.directives import STORAGE_HINT

    return WorkflowError(f"{what}: remote providers (snakemake.remote) are not supported by "
                         "sciflow (Snakemake 8 removed them too)", caller_loc(),
                         hint=STORAGE_HINT)


class RemoteProviderBase:
    """Every provider: making one is the error (as Snakemake 9's ``NotImplementedError``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        module = type(self).__module__.rsplit(".", 1)[-1]
        raise remote_error(f"snakemake.remote.{module}.RemoteProvider()")


def _provider_module(name: str) -> ModuleType:
    full = f"{__name__}.{name}"
    module = ModuleType(full, f"``snakemake.remote.{name}`` (not supported: see "
                              "sciflow.compat.snakemake.remote)")
    module.RemoteProvider = type("RemoteProvider", (RemoteProviderBase,),  # type: ignore
                                 {"__module__": full, "__qualname__": "RemoteProvider"})
    module.__all__ = ["RemoteProvider"]  # type: ignore[attr-defined]
    sys.modules[full] = module
    return module


for _name in PROVIDERS:
    globals()[_name] = _provider_module(_name)


def __getattr__(name: str) -> Any:
    """``from snakemake.remote import AUTO`` (Snakemake 7's automatic provider) and any other
    name: the same clear error as making a provider."""
    if name.startswith("_"):
        raise AttributeError(name)
    raise remote_error(f"snakemake.remote.{name}")


__all__ = ["RemoteProviderBase", "PROVIDERS", *PROVIDERS]
