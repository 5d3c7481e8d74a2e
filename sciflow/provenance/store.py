"""The embedded provenance store: Oxigraph (RocksDB) at ``.sciflow/prov/``.

Writes go through pyoxigraph directly: one ``Store.extend`` per job is one atomic, durable
transaction (RocksDB write-ahead log), so a SIGKILLed run leaves every finished job in the
store and the store opens again (the OS releases the RocksDB lock with the process). Readers
open the store read-only, which works even while a run holds the write lock, and see a
snapshot taken when they opened it. rdflib users get the same data through oxrdflib.
"""
from __future__ import annotations

import os
import time
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
    last: Exception | None = None
    for attempt in range(5):  # a run writing at this instant can make one open attempt fail
        try:
            return ox.Store.read_only(str(path))
        except OSError as exc:
            last = exc
            time.sleep(0.1 * (attempt + 1))
    raise ProvenanceError(f"cannot open the provenance store {path}: {last}") from last


def rdflib_dataset(store: ox.Store):
    """An ``rdflib.Dataset`` over the Oxigraph store (oxrdflib), default graph = union."""
    from oxrdflib import OxigraphStore
    from rdflib import Dataset, Namespace

    from sciflow.provenance.vocab import PREFIXES

    ds = Dataset(store=OxigraphStore(store=store), default_union=True)
    for prefix, ns in PREFIXES.items():
        ds.bind(prefix, Namespace(ns))
    return ds


class BackgroundWriter:
    """Commits quad batches in a thread, in order, ONE transaction per batch.

    pyoxigraph releases the GIL while it writes, so the scheduler thread goes on submitting
    jobs while a finished job's triples are indexed (measured: recording per job drops off the
    scheduler's critical path). ``drain()`` waits until everything queued is committed."""

    def __init__(self, store: ox.Store) -> None:
        import queue
        import threading

        self.store = store
        self.error: BaseException | None = None
        self._queue: "queue.Queue[list | None]" = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="sciflow-provenance-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                if self.error is None:
                    self.store.extend(batch)
            except BaseException as exc:  # kept and reported by drain(); never kills the run
                self.error = exc
            finally:
                self._queue.task_done()

    def submit(self, quads: list) -> None:
        self._queue.put(quads)

    def drain(self) -> None:
        self._queue.join()
        if self.error is not None:
            err, self.error = self.error, None
            raise ProvenanceError(f"recording provenance failed: {err}") from err

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
