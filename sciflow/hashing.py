"""Content checksums of files, computed once per file version: the one hashing module of
planning (is a newer input's content unchanged?), execution (the worker hashes what it wrote;
the scheduler records input checksums) and provenance (every entity's sha256).

A file version is identified by ``(path, size, mtime_ns, inode)``: while those four are
unchanged the recorded sha256 is reused; any rewrite (new inode via ``os.replace``, new size or
mtime) triggers a fresh, streamed hash with no size cap. The cache is a small SQLite file
(``.sciflow/prov-hash.sqlite``, WAL) so a later run or ``sciflow prov verify`` reuses it.
Within one process every cache shares one in-memory table (keyed by absolute path and
version), so a digest computed by the worker, the planner, the scheduler or the recorder is
computed once.
Directories (``directory()`` outputs) hash as a tree: sorted relative paths with their hashes.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20

# absolute path -> (size, mtime_ns, inode, sha256): shared by every HashCache of this process
_MEMORY: dict[str, tuple[int, int, int, str]] = {}


@dataclass(frozen=True, slots=True)
class FileDigest:
    sha256: str
    size: int
    is_dir: bool = False


def sha256_file(path: str | os.PathLike) -> str:
    """Streamed sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: str | os.PathLike, algorithm: str) -> str:
    """Hex digest of a file by any ``hashlib`` algorithm (Snakemake's ``ensure(sha256=...)``
    names its own; sciflow's checksums are ``sha256_file``/``HashCache``)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest()


def sha256_text(text: str) -> str:
    """sha256 of a text's UTF-8 bytes (a rule's code, a command)."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def sha256_fd(fd: int) -> str:
    """Streamed sha256 of an open file descriptor's bytes (read from its current offset)."""
    h = hashlib.sha256()
    while chunk := os.read(fd, CHUNK):
        h.update(chunk)
    return h.hexdigest()


def version_of(st: os.stat_result) -> tuple[int, int, int]:
    """What identifies a file version: ``(size, mtime_ns, inode)``."""
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class HashCache:
    """sha256 per file version, memoized in memory and in SQLite."""

    def __init__(self, db_path: str | os.PathLike | None) -> None:
        self._mem = _MEMORY
        self._pending: list[tuple[str, int, int, int, str]] = []  # written to SQLite in batches
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if db_path is not None:
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(db_path), timeout=30, check_same_thread=False,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS digest (path TEXT PRIMARY KEY, size INTEGER,"
                             " mtime_ns INTEGER, inode INTEGER, sha256 TEXT)")

    def close(self) -> None:
        if self._db is not None:
            self.flush()
            self._db.close()
            self._db = None

    def flush(self) -> None:
        """Persist the hashes computed since the last flush (the cache is an optimisation: a
        crash only costs re-hashing those files next time)."""
        with self._lock:
            if self._db is not None and self._pending:
                self._db.executemany("INSERT OR REPLACE INTO digest VALUES (?,?,?,?,?)", self._pending)
            self._pending.clear()

    def digest(self, path: str | os.PathLike) -> FileDigest:
        """The checksum and size of ``path`` (file or directory); raises OSError if missing."""
        p = os.path.abspath(path)
        st = os.stat(p)
        if stat.S_ISDIR(st.st_mode):
            return self._digest_dir(p)
        key = version_of(st)
        with self._lock:
            hit = self._mem.get(p)
            if hit is None and self._db is not None:
                row = self._db.execute("SELECT size, mtime_ns, inode, sha256 FROM digest WHERE path=?",
                                       (p,)).fetchone()
                hit = tuple(row) if row else None
        if hit is not None and tuple(hit[:3]) == key:
            return FileDigest(hit[3], st.st_size)
        sha = sha256_file(p)
        st2 = os.stat(p)
        if (st2.st_size, st2.st_mtime_ns, st2.st_ino) == key:  # unchanged while hashing
            self._remember(p, (*key, sha))
        return FileDigest(sha, st.st_size)

    def prime(self, path: str | os.PathLike, version: tuple[int, int, int], sha256: str) -> None:
        """Take a checksum computed elsewhere (the worker that wrote the file) for the file
        version ``(size, mtime_ns, inode)``. It is used only while ``path`` still has exactly
        that version, so a file changed since is hashed again, as any cache miss."""
        p = os.path.abspath(path)
        entry = (*(int(v) for v in version), str(sha256))
        with self._lock:
            if self._mem.get(p) == entry:
                return
        self._remember(p, entry)

    def forget(self, path: str | os.PathLike) -> None:
        p = os.path.abspath(path)
        with self._lock:
            self._mem.pop(p, None)
            self._pending = [row for row in self._pending if row[0] != p]
            if self._db is not None:
                self._db.execute("DELETE FROM digest WHERE path=?", (p,))

    def _remember(self, p: str, entry: tuple[int, int, int, str]) -> None:
        with self._lock:
            self._mem[p] = entry
            self._pending.append((p, *entry))
            flush = len(self._pending) >= 256
        if flush:
            self.flush()

    def _digest_dir(self, root: str) -> FileDigest:
        h = hashlib.sha256()
        total = 0
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                d = self.digest(full)
                total += d.size
                h.update(f"{os.path.relpath(full, root)}\0{d.sha256}\n".encode())
        return FileDigest(h.hexdigest(), total, is_dir=True)


_PLAIN = HashCache(None)


def checksum(path: str | os.PathLike) -> str | None:
    """sha256 of a regular file (any size; cached per version in this process), or None when
    it is missing or not a regular file. What the planner compares and the scheduler records."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        return _PLAIN.digest(path).sha256
    except OSError:
        return None
