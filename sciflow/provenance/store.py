"""The embedded provenance store: Oxigraph (RocksDB) at ``.sciflow/prov/``.

Writes go through pyoxigraph directly: one ``Store.extend`` per job is one atomic, durable
transaction (RocksDB write-ahead log), so a SIGKILLed run leaves every finished job in the
store and the store opens again (the OS releases the RocksDB lock with the process). Readers
open the store read-only, which works even while a run holds the write lock, and see a
snapshot taken when they opened it. rdflib users get the same data through oxrdflib.
"""
from __future__ import annotations

import os
from pathlib import Path

import pyoxigraph as ox

from sciflow.errors import ProvenanceError


def store_path(workdir: str | os.PathLike) -> Path:
    return Path(workdir) / ".sciflow" / "prov"


def hash_db_path(workdir: str | os.PathLike) -> Path:
    return Path(workdir) / ".sciflow" / "prov-hash.sqlite"


def open_writable(workdir: str | os.PathLike) -> ox.Store:
    """The store for recording (created if needed); one writer process at a time."""
    path = store_path(workdir)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return ox.Store(str(path))
    except OSError as exc:
        raise ProvenanceError(f"cannot open the provenance store {path} for writing: {exc}",
                              hint="Another sciflow process is recording into it; wait for it "
                                   "to finish, or run with --no-provenance.") from exc


def open_readonly(workdir: str | os.PathLike) -> ox.Store:
    """A read-only snapshot of the store; error if nothing was ever recorded."""
    path = store_path(workdir)
    if not (path / "CURRENT").exists():
        raise ProvenanceError(f"no provenance recorded in {Path(workdir).resolve()} "
                              f"(no store at {path})",
                              hint="Run the workflow with `sciflow run` first (without "
                                   "--no-provenance), or pass -d DIR.")
    try:
        return ox.Store.read_only(str(path))
    except OSError as exc:
        raise ProvenanceError(f"cannot open the provenance store {path}: {exc}") from exc


def rdflib_dataset(store: ox.Store):
    """An ``rdflib.Dataset`` over the Oxigraph store (oxrdflib), default graph = union."""
    from oxrdflib import OxigraphStore
    from rdflib import Dataset, Namespace

    from sciflow.provenance.vocab import PREFIXES

    ds = Dataset(store=OxigraphStore(store=store), default_union=True)
    for prefix, ns in PREFIXES.items():
        ds.bind(prefix, Namespace(ns))
    return ds
