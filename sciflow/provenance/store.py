"""The embedded provenance store: Oxigraph (RocksDB) at ``.sciflow/prov/``.

Writes go through pyoxigraph directly: one ``Store.extend`` per job is one atomic, durable
transaction (RocksDB write-ahead log), so a SIGKILLed run leaves every finished job in the
store and the store opens again (the OS releases the RocksDB lock with the process). Readers
open the store read-only, which works even while a run holds the write lock, and see a
snapshot taken when they opened it. rdflib users get the same data through oxrdflib.

RocksDB admits one writer process. Runs on disjoint outputs may share a directory, so the
write side is a ``SharedStore``: a run keeps the store open while nobody else asks for it (no
cost for the usual single run), and a run that finds it locked leaves a *want* file in
``.sciflow/prov-want/`` and retries; the holder sees the file after its current transaction
(or within ``POLL_S`` when idle), closes the store, and reopens it (waiting its turn) for its
next transaction. Measured: opening the store costs 70-110 ms (a 200k-quad store), a 64-quad
transaction 0.6 ms, so opening per transaction would cost a fast workflow ~100x its recording
time; a store file per run merged at the end would leave a crashed run's jobs outside the
store that ``sciflow prov`` reads until some later merge. Hand-over keeps every job's triples
in one transaction in the one store.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pyoxigraph as ox

from sciflow import layout
from sciflow.errors import ProvenanceError


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
    """A read-only snapshot of the store; error if nothing was ever recorded."""
    path = store_path(workdir)
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
# run's own wall time (a small run on a huge store never pays for the whole store).
COMPACT_MIN_BYTES = 64 << 20
COMPACT_BYTES_PER_S = 100 << 20
COMPACT_SHARE = 0.1


def compact_after_run(shared: "SharedStore", started: datetime, ended: datetime | None) -> bool:
    """Compact the store at the end of a run when it pays (see COMPACT_*); True if done."""
    try:
        run_seconds = ((ended or datetime.now(timezone.utc)) - started).total_seconds()
        size = sum(e.stat().st_size for e in os.scandir(store_path(shared.workdir))
                   if e.name.endswith(".sst"))
    except (OSError, TypeError):  # TypeError: naive and aware times (a caller's mistake)
        return False
    if size < COMPACT_MIN_BYTES or size / COMPACT_BYTES_PER_S > COMPACT_SHARE * run_seconds:
        return False
    try:
        with shared._mutex:
            shared._open().optimize()
    except OSError:  # a full disk, say: the run's record is complete without it
        return False
    return True


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


MAX_QUEUED_BATCHES = 256   # finished jobs' provenance waiting to be written, at most
FLUSH_EVERY_QUADS = 10_000  # ~200 jobs' provenance between flushes of the write buffers
BULK_QUADS = 10_000  # a transaction this large is written as ingested files (see extend)


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
        self._unflushed = 0  # quads written since the last flush (see extend)
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
    def extend(self, quads: list) -> None:
        """One transaction; the store is handed over afterwards if another run waits.

        Every FLUSH_EVERY_QUADS the store's write buffers are flushed to disk: RocksDB keeps
        them in memory until then, and a long run grew the driver by ~60 KB per recorded job
        (1.4 GB at 20,000 jobs); flushed every ~1,000 jobs it stays near 100 MB, and writing
        is faster too (measured 35 s against 82 s for 20,000 jobs of 57 quads). After each flush
        the freed buffers are handed back to the OS (``release_native_memory``); flushing every
        ~200 jobs (10,000 quads) cut the saw-tooth of the buffers from ~30 MB to ~6 MB at no
        measurable cost in writing time.

        A batch of BULK_QUADS or more (a job reading thousands of files, such as an ``all``
        rule over 20,000 outputs: ~150,000 quads) goes through ``bulk_extend``: written as
        sorted files and ingested in one step, which pyoxigraph (>= 0.5.9) commits atomically
        as ``extend`` does, without RocksDB's indexed in-memory write batch (measured for
        140,000 quads: +50 MB and 2.3 s against +124 MB and 13 s; that one transaction was the
        driver's peak of a 20,000-job run)."""
        with self._mutex:
            store = self._open()
            if len(quads) >= BULK_QUADS:
                store.bulk_extend(quads)
                self._unflushed += FLUSH_EVERY_QUADS  # trim now: the batch's buffers are freed
            else:
                store.extend(quads)
                self._unflushed += len(quads)
            if self._unflushed >= FLUSH_EVERY_QUADS:
                store.flush()
                self._unflushed = 0
                release_native_memory()
            self.yield_if_wanted()

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


class BackgroundWriter:
    """Commits quad batches in a thread, in order, ONE transaction per batch.

    pyoxigraph releases the GIL while it writes, so the scheduler thread goes on submitting
    jobs while a finished job's triples are indexed (measured: recording per job drops off the
    scheduler's critical path). ``drain()`` waits until everything queued is committed."""

    def __init__(self, store: "ox.Store | SharedStore") -> None:
        import queue
        import threading

        self.store = store
        self.error: BaseException | None = None
        # Bounded: when recording lags behind the jobs (a loaded disk, thousands of trivial
        # jobs), the scheduler waits here instead of the driver holding every finished job's
        # quads in memory (~17 KB per job of pyoxigraph terms).
        self._queue: "queue.Queue[list | None]" = queue.Queue(maxsize=MAX_QUEUED_BATCHES)
        self._thread = threading.Thread(target=self._loop, name="sciflow-provenance-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import queue

        while True:
            try:
                batch = self._queue.get(timeout=POLL_S)
            except queue.Empty:  # idle: hand the store over if another run waits for it
                if isinstance(self.store, SharedStore):
                    try:
                        self.store.yield_if_wanted()
                    except Exception:  # noqa: BLE001 - a flush error shows on the next write
                        pass
                continue
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
