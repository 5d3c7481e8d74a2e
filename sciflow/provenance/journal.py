"""The provenance journal: finished jobs' quads as N-Quads text, loaded into the store in chunks.

Why: writing each job's ~89 quads to Oxigraph as one transaction cost ~2.4 ms CPU per job
(making pyoxigraph terms, RocksDB indexing them in its write batch, flushing memtables), a
+10-23% wall-time overhead on 1,000 trivial jobs; and a job reading 20,000 files was one
transaction of ~180,000 quads held in memory, the driver's peak. Measured 2026-12-03 on a
2,000-job chain: ``Store.bulk_load`` of N-Quads costs ~9 us CPU per quad in chunks of 18,000
quads against ~14 us through ``extend`` + flush, plus ~20 ms per call (so chunks, not jobs).

How: each recording run appends every finished job's lines to its current *segment*
(``<writer>.<seq>.nq`` in ``.sciflow/prov-journal/``), followed by an end marker (an N-Quads
comment), written to the OS unbuffered — that write is the job's durability point, as the
RocksDB commit was (neither calls fsync: a SIGKILLed process keeps what it wrote, a power cut
may not). A segment is closed after SEGMENT_BYTES or LOAD_AFTER_S and loaded by the writer
thread (``SharedStore.load_ready``) with ``Store.bulk_load`` in pieces of at most LOAD_BYTES,
then deleted. A big job's lines are handed over every few thousand quads (``Quads`` spills
them here) without its end marker, so memory stays flat and a job still counts whole or not
at all.

Crash safety: a run holds ``<writer>.lock`` with ``flock`` for as long as it lives; the OS
drops the lock with the process, even on SIGKILL. Segments whose lock can be taken (or that
have no lock file) belong to a dead run: ``recover`` loads them up to their last end marker
(a job cut off mid-write is dropped whole) and deletes them. It runs when a run starts (before
it reads the latest file versions), in the writer thread of a live run now and then, and when
a reader opens the store (``store.open_readonly``: a reader that can take the write lock loads
them first, so ``sciflow prov`` shows every finished job of a crashed run). Loading is
idempotent (the store is a set of quads), so a segment loaded twice after a crash in between
does no harm.
"""
from __future__ import annotations

import fcntl
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Callable

import pyoxigraph as ox

from sciflow import layout
from sciflow.provenance import vocab as V

END = b"# end\n"          # after each job's lines: the job is complete
SEGMENT_BYTES = 4 << 20   # ~25,000 quads (~280 trivial jobs) per segment
LOAD_AFTER_S = 5.0        # a segment older than this is closed and loaded (readers see jobs)
LOAD_BYTES = 4 << 20      # bulk_load input per call, at most (its memory grows with it)


def _try_lock(path: Path) -> int | None:
    """An fd holding ``path``'s flock, or None if a live writer holds it (or it is gone)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


class Journal:
    """One recording run's journal (module docstring). ``append`` is called by the recorder,
    ``rotate_if_due``/``take_ready`` by the writer thread: a mutex keeps them apart."""

    def __init__(self, workdir: str | os.PathLike, run: tuple[str, str] | None = None) -> None:
        """``run``: (run IRI, its graph IRI), written into the lock file so that whoever
        recovers this journal after a crash can say the run died (``recover``)."""
        self.dir = layout.prov_journal_dir(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.token = f"{os.getpid()}-{secrets.token_hex(4)}"
        # locked before it gets its name: a recoverer never sees this writer's lock file free
        tmp = self.dir / f".{self.token}.lock.tmp"
        self._lock_fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        if run is not None:
            os.write(self._lock_fd, f"{run[0]} {run[1]}\n".encode("utf-8", "replace"))
        self.lock_path = self.dir / f"{self.token}.lock"
        os.rename(tmp, self.lock_path)
        self._seq = 0
        self._fh = None
        self._path: Path | None = None
        self._size = 0
        self._opened = 0.0
        self._in_job = False   # a job's lines were spilled, its end marker not written yet
        self._job_start = 0    # where that job's lines start in the segment
        self._ready: list[Path] = []   # closed segments, oldest first
        self._mutex = threading.Lock()

    def append(self, text: str, *, end: bool) -> bool:
        """Append one job's lines (``end``: the rest of them and its end marker). True when a
        segment was closed by it (the writer should load it)."""
        data = text.encode("utf-8", "replace")  # a lone surrogate (odd file name) becomes "?"
        if end:
            data += END
        with self._mutex:
            if self._fh is None:
                self._seq += 1
                self._path = self.dir / f"{self.token}.{self._seq:06d}.nq"
                self._fh = open(self._path, "ab", buffering=0)
                self._size, self._opened = 0, time.monotonic()
            if not self._in_job:
                self._job_start = self._size
            view = memoryview(data)
            while view:
                view = view[self._fh.write(view):]
            self._size += len(data)
            self._in_job = not end
            if end and self._size >= SEGMENT_BYTES:
                self._close()
                return True
            return False

    def _close(self) -> None:
        self._fh.close()
        self._ready.append(self._path)
        self._fh, self._path = None, None

    def rotate(self, max_age_s: float = 0.0) -> bool:
        """Close the current segment if it holds complete jobs and is ``max_age_s`` old."""
        with self._mutex:
            if self._fh is None or self._in_job or self._size == 0 \
                    or time.monotonic() - self._opened < max_age_s:
                return False
            self._close()
            return True

    def take_ready(self) -> list[Path]:
        with self._mutex:
            ready, self._ready = self._ready, []
            return ready

    def abort(self) -> None:
        """Drop the lines of a job whose recording failed after some were spilled."""
        with self._mutex:
            if self._in_job and self._fh is not None:
                self._fh.truncate(self._job_start)
                self._size = self._job_start
            self._in_job = False

    def give_back(self, paths: list[Path]) -> None:
        """Segments taken but not loaded (an error): first in line again."""
        if paths:
            with self._mutex:
                self._ready[:0] = paths

    def pending(self) -> bool:
        with self._mutex:
            return bool(self._ready) or (self._fh is not None and self._size > 0)

    def close(self) -> None:
        """Give up the journal: what was not loaded stays as a dead writer's segments, which
        the next run or reader loads."""
        with self._mutex:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            if self._lock_fd is not None:
                self.lock_path.unlink(missing_ok=True)
                os.close(self._lock_fd)
                self._lock_fd = None


def load(store: ox.Store, path: Path, *, complete_only: bool = False,
         after_piece: Callable[[], None] | None = None) -> int:
    """Bulk-load one segment in pieces of at most LOAD_BYTES, cut at line ends; with
    ``complete_only`` (a dead writer's segment) only up to its last end marker. ``after_piece``
    runs after each piece (the store gives freed memory back). Returns the bytes loaded."""
    with open(path, "rb") as fh:
        limit = _complete_length(fh) if complete_only else os.fstat(fh.fileno()).st_size
        done, carry = 0, b""
        while done < limit:
            piece = fh.read(min(LOAD_BYTES, limit - done))
            if not piece:
                break
            done += len(piece)
            piece = carry + piece
            cut = piece.rfind(b"\n") + 1 if done < limit else len(piece)
            piece, carry = piece[:cut], piece[cut:]
            if piece:
                store.bulk_load(input=piece, format=ox.RdfFormat.N_QUADS, lenient=True)
                if after_piece is not None:
                    after_piece()
        return limit


def _complete_length(fh) -> int:
    """The length of a segment up to (and including) its last end marker. A marker is a whole
    line (a quad line ends in " ." and a literal's newlines are escaped)."""
    pos, block = os.fstat(fh.fileno()).st_size, 1 << 16
    try:
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            at = chunk.rfind(b"\n" + END)
            if at >= 0:
                return start + at + 1 + len(END)
            if start == 0:
                return len(END) if chunk.startswith(END) else 0
            pos = start + len(END)  # overlap: a marker across two blocks is still found
        return 0
    finally:
        fh.seek(0)


def _dead(journal_dir: Path) -> list[tuple[int | None, Path | None, list[Path]]]:
    """(lock fd held now, lock path, segments) of every writer that is gone."""
    try:
        names = sorted(os.listdir(journal_dir))
    except OSError:
        return []
    segments: dict[str, list[Path]] = {}
    locks: set[str] = set()
    for name in names:
        if name.endswith(".nq"):
            segments.setdefault(name[:-3].rsplit(".", 1)[0], []).append(journal_dir / name)
        elif name.endswith(".lock") and not name.startswith("."):
            locks.add(name[:-len(".lock")])
        elif name.endswith(".lock.tmp"):  # died before naming its lock: nothing was written
            fd = _try_lock(journal_dir / name)
            if fd is not None:
                (journal_dir / name).unlink(missing_ok=True)
                os.close(fd)
    found = []
    for token in sorted(set(segments) | locks):
        fd, lock = None, None
        if token in locks:
            lock = journal_dir / f"{token}.lock"
            fd = _try_lock(lock)
            if fd is None:
                continue  # a live writer's
        found.append((fd, lock, segments.get(token, [])))
    return found


def has_dead(workdir: str | os.PathLike) -> bool:
    """Are there segments of dead writers to load (cheap when the journal is empty)?"""
    found = _dead(layout.prov_journal_dir(workdir))
    for fd, _, _ in found:
        if fd is not None:
            os.close(fd)
    return any(segs for _, _, segs in found) or any(lock for _, lock, _ in found)


DIED = "died"
"""The status of a run whose process ended without closing it (SIGKILL, a crash, a power
cut), given by whoever loads what it left: its finished jobs are all there, its end time is
not known."""


def _mark_died(store: ox.Store, lock: Path) -> None:
    """A dead writer's run gets ``sf:status "died"`` unless it was closed (its lock file names
    the run, see ``Journal``; an older lock file names nothing)."""
    try:
        words = lock.read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return
    if len(words) != 2 or not all(w.startswith(("urn:", "http")) for w in words):
        return
    run, graph = (ox.NamedNode(w) for w in words)
    status = ox.NamedNode(V.SF + "status")
    for _ in store.quads_for_pattern(run, status, None, None):
        return  # closed: succeeded, failed or interrupted
    if next(iter(store.quads_for_pattern(run, None, None, None)), None) is None:
        return  # the run recorded nothing (died before its first write)
    store.add(ox.Quad(run, status, ox.Literal(DIED), graph))


def recover(store: ox.Store, workdir: str | os.PathLike,
            after_piece: Callable[[], None] | None = None) -> int:
    """Load every dead writer's segments into ``store`` (held writable), oldest first, and
    delete them; returns how many segments were loaded."""
    loaded = 0
    for fd, lock, segments in _dead(layout.prov_journal_dir(workdir)):
        try:
            for path in segments:
                try:
                    load(store, path, complete_only=True, after_piece=after_piece)
                except FileNotFoundError:  # loaded by someone else meanwhile
                    continue
                except SyntaxError:  # unreadable (not ours to fix): kept aside, not retried
                    path.rename(path.with_suffix(".bad"))
                    continue
                path.unlink(missing_ok=True)
                loaded += 1
            if lock is not None:
                _mark_died(store, lock)
                lock.unlink(missing_ok=True)
        finally:
            if fd is not None:
                os.close(fd)
    return loaded
