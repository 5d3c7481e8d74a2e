"""Persistent planning metadata: what made each output, kept in ONE SQLite database.

Snakemake writes one JSON file per output under ``.snakemake/metadata`` (10,005 files for a
10k-job workflow), which overloads shared cluster filesystems. sciflow keeps the same facts in a
single embedded SQLite file, ``.sciflow/meta.sqlite``, in WAL mode (readers never block the one
writer), written in batched transactions and read back with one SELECT into a dict.

Per output path we keep: the rule, the job key, a hash of the params, a hash of the code (shell
text, ``run:`` source or script file content), the sorted input set, the declared software
(conda/container), the output's mtime at completion and the run id. An *incomplete marker* is
set for each output before its job starts and cleared when it finishes: a marker still present
on the next run means the job was interrupted or failed with ``--keep-incomplete``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     store = MetadataStore(d)
    ...     store.record([OutputRecord("a.txt", "r", "k", "p", "c", ("in.txt",), "", 1.0, "run1")])
    ...     store.load()["a.txt"].inputs
    ('in.txt',)
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from sciflow import layout
from sciflow.hashing import checksum
from sciflow.errors import MetadataError

if TYPE_CHECKING:  # pragma: no cover
    from sciflow.jobs import Job

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outputs (
    path TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    job_key TEXT NOT NULL,
    params_hash TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    inputs TEXT NOT NULL,          -- sorted input paths, one per line
    software TEXT NOT NULL,
    mtime REAL,
    run_id TEXT NOT NULL,
    input_checksums TEXT NOT NULL DEFAULT ''  -- "path\tsha256" lines, small inputs only
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS incomplete (
    path TEXT PRIMARY KEY,
    run_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """What is known about how one output file was made."""

    path: str
    rule: str
    job_key: str
    params_hash: str
    code_hash: str
    inputs: tuple[str, ...]
    software: str
    mtime: float | None
    run_id: str
    input_checksums: tuple[tuple[str, str], ...] = ()  # (input path, sha256) of small inputs

    def _row(self) -> tuple[Any, ...]:
        return (self.path, self.rule, self.job_key, self.params_hash, self.code_hash,
                "\n".join(self.inputs), self.software, self.mtime, self.run_id,
                "\n".join(f"{p}\t{h}" for p, h in self.input_checksums))

    def checksum_of(self, path: str) -> str | None:
        for p, h in self.input_checksums:
            if p == path:
                return h
        return None


@dataclass(frozen=True, slots=True)
class JobFingerprint:
    """The current values of everything that, when changed, makes a job rerun."""

    job_key: str
    params_hash: str
    code_hash: str
    inputs: tuple[str, ...]
    software: str


SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 120.0  # concurrent runs wait this long for each other's short transactions
CORRUPT_HINT = "Move .sciflow/meta.sqlite aside (e.g. to meta.sqlite.bad) and run again; " \
               "outputs are untouched, but jobs may rerun because their history is gone."


class MetadataStore:
    """The metadata database of one working directory (``<workdir>/.sciflow/meta.sqlite``).

    ``readonly`` (dry runs): nothing is created or written; a database that does not exist
    reads as empty, and one in a read-only directory is read as it is.

    Damage is reported, never papered over: a file without SQLite's header, or one SQLite
    calls malformed, raises ``MetadataError`` ("metadata database is corrupt: move ... aside").
    A 0-byte file is what a crash leaves between creating the file and its first commit: it
    is taken as an empty database, with a warning saying so (``warnings`` names it), unless
    a non-empty write-ahead log beside it shows that records were committed (then corrupt)."""

    def __init__(self, workdir: str | os.PathLike[str], readonly: bool = False) -> None:
        self.workdir = Path(workdir)
        self.path = layout.metadata_db(self.workdir)
        self.readonly = readonly
        self.warnings: list[str] = []
        self._cache: dict[str, OutputRecord] | None = None
        self._incomplete: dict[str, str] | None = None
        self._check_file()
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None
        except OSError as exc:
            raise self._error(exc) from None

    def _check_file(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(len(SQLITE_HEADER))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._error(exc) from None
        if head == SQLITE_HEADER:
            return
        if head == b"":
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise MetadataError(
                    f"metadata database is corrupt: {self.path} is empty but its write-ahead "
                    "log is not (records were committed, then the file was truncated)",
                    hint=CORRUPT_HINT)
            msg = (f"{self.path} was an empty (0-byte) file, as a crash before its first "
                   "commit leaves it; it is used as a new, empty metadata database (earlier "
                   "runs' params/code history, if any, is not known)")
            self.warnings.append(msg)
            import logging
            logging.getLogger("sciflow").warning("%s", msg)
            return
        raise MetadataError(f"metadata database is corrupt: {self.path} is not an SQLite "
                            "database (bad header)", hint=CORRUPT_HINT)

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            return self._connect_readonly()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error(exc) from None
        # isolation_level=None: we open transactions ourselves (BEGIN ... COMMIT) in batches.
        db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_S,
                             check_same_thread=False)
        # Two runs starting together in a fresh directory both switch it to WAL and create the
        # tables; a journal-mode switch can meet "database is locked" without SQLite's busy
        # wait, so it is retried here for as long as any other wait.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                self._init_schema(db)
                return db
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise self._error(exc) from None
                time.sleep(0.05)

    def _connect_readonly(self) -> sqlite3.Connection:
        if not self.path.exists() or self.path.stat().st_size == 0:
            db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            self._init_schema(db)
            return db
        uri = self.path.resolve().as_uri()
        last: Exception | None = None
        # mode=ro reads the write-ahead log too; immutable=1 is the fallback when the
        # directory is read-only and SQLite cannot create the -shm index beside the file.
        for query in ("?mode=ro", "?immutable=1"):
            try:
                db = sqlite3.connect(uri + query, uri=True, isolation_level=None,
                                     timeout=BUSY_TIMEOUT_S, check_same_thread=False)
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                columns = {row[1] for row in db.execute("PRAGMA table_info(outputs)")}
                if not columns:
                    db.close()
                    db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                    self._init_schema(db)
                elif "input_checksums" not in columns:
                    raise MetadataError(f"{self.path} was written by an older sciflow",
                                        hint="Run without -n once to upgrade it.")
                return db
            except sqlite3.OperationalError as exc:
                last = exc
        raise self._error(last or OSError("cannot open"))

    @staticmethod
    def _init_schema(db: sqlite3.Connection) -> None:
        db.executescript(_SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(outputs)")}
        if "input_checksums" not in columns:  # a database from an older sciflow
            db.execute("ALTER TABLE outputs ADD COLUMN input_checksums TEXT NOT NULL DEFAULT ''")
        db.execute("INSERT OR IGNORE INTO info VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _error(self, exc: BaseException) -> MetadataError:
        """A clean error, with what to do, for an SQLite or OS failure."""
        text = str(exc)
        if isinstance(exc, MetadataError):
            return exc
        if isinstance(exc, sqlite3.DatabaseError) and (
                "not a database" in text or "malformed" in text or "corrupt" in text):
            return MetadataError(f"metadata database is corrupt: {self.path}: {text}",
                                 hint=CORRUPT_HINT)
        if "locked" in text or "busy" in text:  # not damage: another run held it too long
            return MetadataError(
                f"the metadata database {self.path} stayed locked by another process for "
                f"{BUSY_TIMEOUT_S:g} s: {text}",
                hint="Another sciflow run in this directory is writing it; wait for it, or run "
                     "again. Nothing is damaged.")
        if ("readonly" in text or "read-only" in text or "unable to open" in text
                or isinstance(exc, PermissionError) or "Permission denied" in text
                or "not permitted" in text):
            return MetadataError(
                f"cannot write the metadata database {self.path}: {text}",
                hint=f"Make {self.path.parent} writable (e.g. chmod -R u+w {self.path.parent}), "
                     "or use -d to run in a directory you can write; a dry run (-n) only reads it.")
        return MetadataError(f"the metadata database {self.path} failed: {text}",
                             hint=CORRUPT_HINT if isinstance(exc, sqlite3.DatabaseError) else None)

    # ----------------------------------------------------------------------------- reading
    def load(self) -> dict[str, OutputRecord]:
        """Every output record, by path, read with one query (cached until the next write)."""
        if self._cache is None:
            try:
                rows = self._db.execute(
                    "SELECT path, rule, job_key, params_hash, code_hash, inputs, software, "
                    "mtime, run_id, input_checksums FROM outputs").fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._error(exc) from None
            self._cache = {r[0]: OutputRecord(r[0], r[1], r[2], r[3], r[4],
                                              tuple(r[5].split("\n")) if r[5] else (),
                                              r[6], r[7], r[8], _pairs(r[9])) for r in rows}
        return self._cache

    def get(self, path: str) -> OutputRecord | None:
        return self.load().get(path)

    def incomplete(self) -> dict[str, str]:
        """Paths with an incomplete marker, mapped to the run that set it."""
        if self._incomplete is None:
            try:
                rows = self._db.execute("SELECT path, run_id FROM incomplete").fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._error(exc) from None
            self._incomplete = dict(rows)
        return self._incomplete

    # ----------------------------------------------------------------------------- writing
    def record(self, records: Iterable[OutputRecord]) -> None:
        """Store (replace) records for finished outputs and clear their incomplete markers."""
        rows = [r._row() for r in records]
        if not rows:
            return
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO outputs VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            db.executemany("DELETE FROM incomplete WHERE path = ?", [(r[0],) for r in rows])
        self._invalidate()

    def apply(self, records: Iterable[OutputRecord] = (), mark: Iterable[str] = (),
              run_id: str = "") -> None:
        """One transaction for a scheduler batch: store finished outputs' records (clearing
        their markers) and set markers on outputs of jobs just submitted."""
        rows = [r._row() for r in records]
        marks = [(p, run_id) for p in mark]
        if not rows and not marks:
            return
        with self._transaction() as db:
            if rows:
                db.executemany("INSERT OR REPLACE INTO outputs VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
                db.executemany("DELETE FROM incomplete WHERE path = ?", [(r[0],) for r in rows])
            if marks:
                db.executemany("INSERT OR REPLACE INTO incomplete VALUES (?, ?)", marks)
        self._invalidate()

    def forget(self, paths: Iterable[str]) -> None:
        """Drop the records of outputs that were removed."""
        keys = [(p,) for p in paths]
        with self._transaction() as db:
            db.executemany("DELETE FROM outputs WHERE path = ?", keys)
        self._invalidate()

    def mark_incomplete(self, paths: Iterable[str], run_id: str) -> None:
        """Set markers before a job starts: its outputs are not trustworthy until it finishes."""
        rows = [(p, run_id) for p in paths]
        if not rows:
            return
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO incomplete VALUES (?, ?)", rows)
        self._invalidate()

    def clear_incomplete(self, paths: Iterable[str]) -> None:
        keys = [(p,) for p in paths]
        if not keys:
            return
        with self._transaction() as db:
            db.executemany("DELETE FROM incomplete WHERE path = ?", keys)
        self._invalidate()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "MetadataStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _invalidate(self) -> None:
        self._cache = None
        self._incomplete = None

    def _transaction(self) -> "_Transaction":
        if self.readonly:
            raise MetadataError("internal: a dry run tried to write the metadata database")
        return _Transaction(self._db, self._error)


class _Transaction:
    """``BEGIN IMMEDIATE ... COMMIT`` (rolled back on error): one fsync per batch, not per row.
    SQLite failures leave as ``MetadataError`` with what to do."""

    def __init__(self, db: sqlite3.Connection, error: Any) -> None:
        self.db = db
        self.error = error

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise self.error(exc) from None
        return self.db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        except sqlite3.DatabaseError as err:
            raise self.error(err) from None
        if isinstance(exc, sqlite3.DatabaseError):
            raise self.error(exc) from None
        return False


# ------------------------------------------------------------------------------ fingerprints
def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=12).hexdigest()


def params_hash(params: Any) -> str:
    """A stable hash of a job's params (names and values, in order)."""
    named = params.items() if hasattr(params, "items") else ()
    return _digest(repr((list(params or ()), list(named))))


_script_cache: dict[tuple[str, float], str] = {}


def code_hash(rule: Any, workflow_dir: str | os.PathLike[str] | None = None) -> str:
    """A hash of what the rule runs: shell text, ``run:`` source, or the script's content."""
    action = getattr(rule, "action", None)
    if action is None:
        return ""
    if action.kind in ("script", "notebook"):
        script = Path(action.source)
        if not script.is_absolute() and workflow_dir is not None:
            script = Path(workflow_dir) / script
        try:
            st = script.stat()
            key = (str(script), st.st_mtime)
            if key not in _script_cache:
                _script_cache[key] = _digest(script.read_text(encoding="utf-8", errors="replace"))
            return _script_cache[key]
        except OSError:  # a script path with wildcards or not there yet: hash what was written
            return _digest(action.kind + ":" + action.source)
    return _digest(action.kind + ":" + action.source)


def software_of(rule: Any) -> str:
    """The declared software environment of a rule (conda file/name, container image)."""
    conda = getattr(rule, "conda", None) or ""
    container = getattr(rule, "container", None) or ""
    if not conda and not container:
        return ""
    return json.dumps({"conda": str(conda), "container": str(container)}, sort_keys=True)


def job_key(job: "Job") -> str:
    """Identifies a job across runs: rule name plus wildcard values."""
    wc = job.wildcards.items()
    return job.rule.name + ("[" + ",".join(f"{k}={v}" for k, v in wc) + "]" if wc else "")


def fingerprint(job: "Job", workflow_dir: str | os.PathLike[str] | None = None,
                _code: dict[str, str] | None = None) -> JobFingerprint:
    """The current fingerprint of ``job``; ``_code`` caches code hashes per rule name."""
    rule = job.rule
    if _code is not None:
        code = _code.get(rule.name)
        if code is None:
            code = _code[rule.name] = code_hash(rule, workflow_dir)
    else:
        code = code_hash(rule, workflow_dir)
    return JobFingerprint(job_key(job), params_hash(job.params), code,
                          tuple(sorted(set(map(str, job.input)))), software_of(rule))


def records_for(job: "Job", fp: JobFingerprint, mtimes: Mapping[str, float | None],
                run_id: str, input_checksums: Iterable[tuple[str, str]] = ()) -> list[OutputRecord]:
    """Records for each output of a finished job."""
    sums = tuple(input_checksums)
    return [OutputRecord(str(o), job.rule.name, fp.job_key, fp.params_hash, fp.code_hash,
                         fp.inputs, fp.software, mtimes.get(str(o)), run_id, sums)
            for o in job.output]


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    return tuple(tuple(line.rsplit("\t", 1)) for line in text.split("\n"))  # type: ignore[misc]


def input_checksums(job: "Job", workdir: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Checksums of the job's inputs (any size: cached per file version by ``sciflow.hashing``),
    recorded so that a touched but unchanged input does not rerun the job."""
    out = []
    for f in dict.fromkeys(map(str, job.input)):
        h = checksum(os.path.join(workdir, f))
        if h is not None:
            out.append((f, h))
    return out
