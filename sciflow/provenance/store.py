"""The embedded provenance store: Oxigraph (RocksDB) at ``.sciflow/prov/``.

Writes come from the recorder's journal (journal.py): finished jobs' quads are appended to it
as N-Quads text — the durability point — and the writer thread (``JournalWriter``) loads it
into the store with ``Store.bulk_load`` every ~25,000 quads or 5 s and at the run's end. A
SIGKILLed run leaves its unloaded segments behind; the next run, a live run's writer thread,
or a reader that can take the write lock (``open_readonly``) loads them, so every finished
job of a crashed run is in the store before anyone reads it, and the store opens again (the
OS releases the RocksDB lock with the process). Readers open the store read-only, which works
even while a run holds the write lock, and see a snapshot taken when they opened it (a live
run's last few seconds of jobs may still be in its journal). rdflib users get the same data
through oxrdflib.

RocksDB admits one writer process. Runs on disjoint outputs may share a directory, so the
write side is a ``SharedStore``: a run keeps the store open while nobody else asks for it (no
cost for the usual single run), and a run that finds it locked leaves a *want* file in
``.sciflow/prov-want/`` and retries; the holder sees the file after its current load (or
within ``POLL_S`` when idle), closes the store, and reopens it (waiting its turn) for its next
load. Opening the store costs 70-110 ms (a 200k-quad store), so it is not opened per load.
Each run's journal is its own (a lock file per writer), so waiting for the store never holds
up the jobs: only the loading waits.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from sciflow import layout
from sciflow.provenance import journal as J
from sciflow.errors import ProvenanceError

if TYPE_CHECKING:
    from sciflow.provenance.journal import Journal


def store_path(workdir: str | os.PathLike) -> Path:
    return layout.prov_store(workdir)


def hash_db_path(workdir: str | os.PathLike) -> Path:
    return layout.prov_hash_db(workdir)


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


def has_store(workdir: str | os.PathLike) -> bool:
    """Something was recorded in ``workdir`` (its RocksDB store exists)."""
    return (store_path(workdir) / "CURRENT").exists()


def open_readonly(workdir: str | os.PathLike) -> ox.Store:
    """A read-only snapshot of the store; error if nothing was ever recorded.

    Finished jobs of a run that died before loading its journal are loaded first when the
    store's write lock is free (journal.py): readers see every job a crashed run finished. If
    a live run holds the lock, its writer thread loads them within ``RECOVER_EVERY_S``."""
    path = store_path(workdir)
    _recover_dead_journals(workdir)
    if not has_store(workdir):
        raise ProvenanceError(f"no provenance recorded in {Path(workdir).resolve()} "
                              f"(no store at {path})",
                              hint="Run the workflow with `sciflow run` first (without "
                                   "--no-provenance), or pass -d DIR.")
    last: Exception | None = None
    for attempt in range(5):  # a run writing at this instant can make one open attempt fail
        try:
            return ox.Store.read_only(str(path))
        except (OSError, RuntimeError) as exc:  # RuntimeError: a store still being created
            last = exc
            time.sleep(0.1 * (attempt + 1))
    raise ProvenanceError(f"cannot open the provenance store {path}: {last}") from last


def _recover_dead_journals(workdir: str | os.PathLike) -> None:
    try:
        if not J.has_dead(workdir):
            return
        store = ox.Store(str(store_path(workdir)))  # fails at once if a run holds it
    except (OSError, RuntimeError):  # a live writer, a read-only directory: read what is there
        return
    try:
        J.recover(store, workdir)
        store.flush()
    except Exception:  # noqa: BLE001 - a reader shows what the store holds, whatever happens
        pass
    finally:
        del store


def rdflib_dataset(store: ox.Store):
    """An ``rdflib.Dataset`` over the Oxigraph store (oxrdflib), default graph = union."""
    from oxrdflib import OxigraphStore
    from rdflib import Dataset, Namespace

    from sciflow.provenance.vocab import PREFIXES

    ds = Dataset(store=OxigraphStore(store=store), default_union=True)
    for prefix, ns in PREFIXES.items():
        ds.bind(prefix, Namespace(ns))
    return ds


# Compaction after a big run. Each flush of the write buffers leaves small RocksDB files that
# every read of a later query probes; a store compacted into one file per index answers the
# 10,000-job chain's lineage with ~30% less CPU (0.53-0.84 -> 0.36-0.53 s, first query of a
# fresh process) and opens its caches faster. ``Store.optimize`` rewrites the whole store
# (~100 MB/s here: 284 MB, 890,000 quads in 3.0 s wall), so it is done only for a store big
# enough to gain from it, and only when its estimated time stays within COMPACT_SHARE of the
# run's own wall time (a small run on a huge store never pays for the whole store), or when the
# run's journal was at least COMPACT_OWN_PART of the store: bulk loading (journal.py) made runs
# ~3x faster, so the time rule alone no longer compacted the 10,000-job chain, whose store, left
# in the ~80 files of its 4 MB loads, answered the lineage in 0.88-1.0 s (0.21-0.35 s compacted;
# measured 2026-12-03, load 2.5-4). The cost stays proportional to what the run wrote.
COMPACT_MIN_BYTES = 64 << 20
COMPACT_BYTES_PER_S = 100 << 20
COMPACT_SHARE = 0.1
COMPACT_OWN_PART = 0.25  # journal bytes loaded by the run / the store's bytes on disk


def compact_after_run(shared: "SharedStore", started: datetime, ended: datetime | None) -> bool:
    """Compact the store at the end of a run when it pays (see COMPACT_*); True if done."""
    try:
        run_seconds = ((ended or datetime.now(timezone.utc)) - started).total_seconds()
        size = _sst_bytes(store_path(shared.workdir))
    except (OSError, TypeError):  # TypeError: naive and aware times (a caller's mistake)
        return False
    if size < COMPACT_MIN_BYTES or (size / COMPACT_BYTES_PER_S > COMPACT_SHARE * run_seconds
                                    and shared.loaded_bytes < COMPACT_OWN_PART * size):
        return False
    try:
        with shared._mutex:
            shared._open().optimize()
    except OSError:  # a full disk, say: the run's record is complete without it
        return False
    return True


def _sst_bytes(path: Path) -> int:
    """The store's table files' size; a file RocksDB deletes meanwhile (its background
    compaction of the last loads) counts as nothing."""
    size = 0
    for entry in os.scandir(path):
        if entry.name.endswith(".sst"):
            try:
                size += entry.stat().st_size
            except FileNotFoundError:
                pass
    return size


POLL_S = 0.2            # an idle holder looks for waiting runs this often
OPEN_TIMEOUT_S = 600.0  # give up waiting for the store after this long


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def release_native_memory() -> None:
    """Give the memory RocksDB freed back to the OS (glibc's ``malloc_trim``).

    Freed memtables and write batches stay in glibc's arenas otherwise, one per thread that
    allocated them (the writer thread, RocksDB's flush threads), and the driver's RSS keeps
    the high-water mark of each: measured on a 3,000-job store-only write, 184 MB before and
    35 MB after a trim. A no-op where glibc is not the allocator."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_TRIM: list = []


def _malloc_trim():
    if not _TRIM:
        fn = None
        try:
            import ctypes
            import ctypes.util

            name = ctypes.util.find_library("c")
            if name and "libc" in name:
                fn = getattr(ctypes.CDLL(name), "malloc_trim", None)
                if fn is not None:
                    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
            fn = None
        _TRIM.append(fn)
    return _TRIM[0]


class SharedStore:
    """The writable store, shared between concurrent runs by hand-over (module docstring)."""

    def __init__(self, workdir: str | os.PathLike) -> None:
        self.workdir = Path(workdir)
        self.want_dir = layout.prov_want_dir(self.workdir)
        self.want_file = self.want_dir / str(os.getpid())
        self._store: ox.Store | None = None
        self.opens = 0     # how many times the store was opened (measured in the tests)
        self.loaded_bytes = 0  # journal text loaded by this run (see compact_after_run)
        import threading

        self._mutex = threading.RLock()  # the writer thread and the run's thread share it

    # ----------------------------------------------------------------- open / hand over
    def _open(self) -> ox.Store:
        if self._store is not None:
            return self._store
        deadline = time.monotonic() + OPEN_TIMEOUT_S
        delay = 0.01
        while True:
            try:
                self._store = open_writable(self.workdir)
                self.opens += 1
                self.want_file.unlink(missing_ok=True)
                return self._store
            except ProvenanceError as exc:
                if "lock" not in str(exc).lower():  # damaged, unwritable...: not a turn to wait
                    raise
                if time.monotonic() > deadline:
                    self.want_file.unlink(missing_ok=True)
                    raise
                try:
                    self.want_dir.mkdir(parents=True, exist_ok=True)
                    self.want_file.touch()
                except OSError:
                    pass
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    def others_waiting(self) -> bool:
        """Another live process left a want file (dead ones' files are removed)."""
        try:
            names = os.listdir(self.want_dir)
        except OSError:
            return False
        for name in names:
            if name == self.want_file.name:
                continue
            if name.isdigit() and not _pid_alive(int(name)):
                (self.want_dir / name).unlink(missing_ok=True)
                continue
            return True
        return False

    def release(self) -> None:
        """Close the store (its RocksDB lock goes with the last reference)."""
        with self._mutex:
            if self._store is not None:
                self._store.flush()
                self._store = None

    def yield_if_wanted(self) -> None:
        with self._mutex:
            if self._store is not None and self.others_waiting():
                self.release()

    # ----------------------------------------------------------------- writing
    def load_ready(self, journal: "Journal") -> int:
        """Load the journal's closed segments (journal.py), then hand the store over if another
        run waits. Taking the segments under the mutex makes ``drain`` wait for a load the
        writer thread has started. Returns how many were loaded."""
        with self._mutex:
            ready = journal.take_ready()
            if not ready:
                return 0
            store = self._open()
            loaded = 0
            try:
                while ready:
                    self.loaded_bytes += J.load(store, ready[0], after_piece=release_native_memory)
                    ready.pop(0).unlink(missing_ok=True)
                    loaded += 1
            finally:
                journal.give_back(ready)  # a failed load is retried by the next one
            self.yield_if_wanted()
            return loaded

    def recover(self) -> int:
        """Load what runs that died left in the journal (journal.recover)."""
        if not J.has_dead(self.workdir):
            return 0
        with self._mutex:
            return J.recover(self._open(), self.workdir, after_piece=release_native_memory)

    def select(self, sparql: str) -> list[tuple]:
        """A SELECT over the union of every run's graph, as tuples of term values (the
        recorder asks which version of each path is the latest before a run writes)."""
        with self._mutex:
            result = self._open().query(sparql, use_default_graph_as_union=True)
            return [tuple(None if t is None else t.value for t in sol) for sol in result]

    def flush(self) -> None:
        with self._mutex:
            if self._store is not None:
                self._store.flush()

    def close(self) -> None:
        self.release()
        self.want_file.unlink(missing_ok=True)


class JournalWriter:
    """Loads the journal's segments into the store from a thread (journal.py).

    pyoxigraph releases the GIL while it loads, so the scheduler thread goes on while
    finished jobs' quads are indexed. Every POLL_S the thread closes a segment older than
    LOAD_AFTER_S, loads closed ones, hands the store over if another run waits for it and, now
    and then, loads what dead runs left. ``drain()`` returns when everything appended so far
    is in the store."""

    RECOVER_EVERY_S = 10.0

    def __init__(self, store: SharedStore, journal: "Journal") -> None:
        import threading

        self.store = store
        self.journal = journal
        self.error: BaseException | None = None
        self._wake = threading.Event()
        self._stop = False
        self._next_recover = time.monotonic() + self.RECOVER_EVERY_S
        self._thread = threading.Thread(target=self._loop, name="sciflow-provenance-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(POLL_S)
            self._wake.clear()
            try:
                self.journal.rotate(J.LOAD_AFTER_S)
                self.store.load_ready(self.journal)
                if time.monotonic() > self._next_recover:
                    self._next_recover = time.monotonic() + self.RECOVER_EVERY_S
                    self.store.recover()
                self.store.yield_if_wanted()
            except BaseException as exc:  # kept and reported by drain(); never kills the run
                self.error = exc

    def wake(self) -> None:
        self._wake.set()

    def drain(self) -> None:
        self.journal.rotate()
        try:
            self.store.load_ready(self.journal)
        except Exception as exc:  # noqa: BLE001 - reported as the recorder's error
            self.error = self.error or exc
        if self.error is not None:
            err, self.error = self.error, None
            raise ProvenanceError(f"recording provenance failed: {err}") from err

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join()
