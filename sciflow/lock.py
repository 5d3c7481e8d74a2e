"""The run lock: two runs in one directory must not write the same outputs at once.

Each running ``sciflow run`` leaves a small JSON file in ``.sciflow/lock/`` naming its host,
pid, the process's start time, its run id and the outputs it will write; a heartbeat thread
touches the file every ``HEARTBEAT_S`` seconds. A new run refuses to start when another live
run's outputs overlap its own, listing the overlapping paths (runs on disjoint outputs may
share a directory, as in Snakemake). The check-and-write is serialised by an ``flock`` on
``.sciflow/lock/.mutex`` so two runs starting together cannot both win.

Whether a lock's owner is alive (``owner_state``):

* same host: alive iff a process with that pid exists *and* started at the recorded time
  (a pid reused by an unrelated process is not the owner);
* another host: unknown, unless the heartbeat stopped more than ``SCIFLOW_LOCK_TTL``
  seconds ago (default 600): then the lock has expired and its owner counts as dead.

The lock of a dead run is not deleted but moved to ``.sciflow/lock/dead/``: the planner reads
it to prove that the run which left incomplete markers is dead, and reruns those jobs itself.
``--unlock`` removes locks, but refuses one whose owner is provably alive unless ``force``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with RunLock(d, "run1", ["a.txt"]):
    ...         try:
    ...             RunLock(d, "run2", ["a.txt"]).acquire()
    ...         except LockError as e:
    ...             print("refused")
    refused
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from sciflow import layout
from sciflow.errors import LockError

HEARTBEAT_S = 30.0
ALIVE, DEAD, UNKNOWN = "alive", "dead", "unknown"
START_SLACK_S = 1.0  # psutil's create_time is rounded to clock ticks


def lock_ttl() -> float:
    """Seconds after the last heartbeat at which any lock counts as expired."""
    try:
        return float(os.environ.get("SCIFLOW_LOCK_TTL", "600"))
    except ValueError:
        return 600.0


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None if there is none."""
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # NoSuchProcess, AccessDenied, ZombieProcess, no psutil
        return None


def _pid_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass(frozen=True, slots=True)
class LockInfo:
    """What a lock file says about its run, and where it is."""

    path: Path
    run_id: str
    host: str
    pid: int
    start: float | None
    outputs: tuple[str, ...]
    heartbeat: float  # the file's mtime

    def describe(self) -> str:
        return f"pid {self.pid}, host {self.host}"


def read_lock(path: Path) -> LockInfo | None:
    try:
        data = json.loads(path.read_text())
        mtime = path.stat().st_mtime
        return LockInfo(path, str(data.get("run_id", path.stem)), str(data.get("host", "")),
                        int(data.get("pid", 0)), data.get("start"),
                        tuple(data.get("outputs", ())), mtime)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def owner_state(info: LockInfo) -> str:
    """``ALIVE``, ``DEAD`` or ``UNKNOWN`` (another host, lock not expired)."""
    if info.host != socket.gethostname():  # cannot look at its processes: trust the heartbeat
        return DEAD if time.time() - info.heartbeat > lock_ttl() else UNKNOWN
    if not _pid_exists(info.pid):
        return DEAD
    if info.start is not None:
        started = process_start_time(info.pid)
        if started is not None and abs(started - float(info.start)) > START_SLACK_S:
            return DEAD  # the pid now belongs to another process
    return ALIVE


def find_run(workdir: str | os.PathLike[str], run_id: str) -> LockInfo | None:
    """The lock (live or kept after its owner died) of run ``run_id``, if any."""
    base = layout.lock_dir(workdir)
    for path in (base / f"{run_id}.json", base / "dead" / f"{run_id}.json"):
        if path.exists():
            return read_lock(path)
    return None


DEAD_KEEP_S = 30 * 86400  # buried locks whose last heartbeat is older are pruned


def _bury(path: Path) -> None:
    """Keep a dead run's lock as evidence for crash recovery (see the module docstring)."""
    dead = path.parent / "dead"
    try:
        dead.mkdir(exist_ok=True)
        os.replace(path, dead / path.name)  # keeps its mtime: the last heartbeat
    except OSError:
        path.unlink(missing_ok=True)
    try:
        cutoff = time.time() - DEAD_KEEP_S
        for old in dead.glob("*.json"):
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
    except OSError:
        pass


class RunLock:
    """A lock on ``outputs`` in ``workdir`` for the run ``run_id``."""

    def __init__(self, workdir: str | os.PathLike[str], run_id: str, outputs: Iterable[str]) -> None:
        self.dir = layout.lock_dir(workdir)
        self.run_id = run_id
        self.outputs = sorted(set(map(str, outputs)))
        self.path = self.dir / f"{run_id}.json"
        self.held = False
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the lock or raise ``LockError`` naming the other run and the shared paths."""
        self.dir.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname()
        with open(self.dir / ".mutex", "a+") as mutex:
            fcntl.flock(mutex, fcntl.LOCK_EX)
            try:
                mine = set(self.outputs)
                for other in sorted(self.dir.glob("*.json")):
                    info = read_lock(other)
                    if info is None:
                        continue
                    if owner_state(info) == DEAD:
                        _bury(other)  # its run died without unlocking
                        continue
                    overlap = sorted(mine.intersection(info.outputs))
                    if overlap:
                        shown = "\n    ".join(overlap[:20]) + (
                            f"\n    ... and {len(overlap) - 20} more" if len(overlap) > 20 else "")
                        raise LockError(
                            f"another sciflow run ({info.describe()}, run {info.run_id}) is "
                            f"writing {len(overlap)} of this run's outputs in "
                            f"{self.dir.parent.parent}:\n    {shown}",
                            hint="Wait for that run to finish, or choose targets that do not "
                                 "overlap. If it is no longer running (its machine went down), "
                                 "run `sciflow run --unlock` and start again.")
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"pid": os.getpid(), "host": host,
                                           "start": process_start_time(os.getpid()),
                                           "run_id": self.run_id, "outputs": self.outputs}))
                os.replace(tmp, self.path)
                self.held = True
            finally:
                fcntl.flock(mutex, fcntl.LOCK_UN)
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, name="sciflow-lock-heartbeat",
                                      daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        if self.held:
            self._stop.set()
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def unlock(workdir: str | os.PathLike[str], force: bool = False) -> int:
    """Remove the run locks of ``workdir`` (``--unlock``); returns how many were removed.

    A lock whose owner is provably alive (this host, same pid and start time) is kept and
    reported with ``LockError`` unless ``force``: removing it would let an overlapping run
    write the same files at the same time."""
    lockdir = layout.lock_dir(workdir)
    removed = 0
    alive: list[LockInfo] = []
    for path in sorted(lockdir.glob("*.json")):
        info = read_lock(path)
        state = owner_state(info) if info is not None else DEAD
        if state == ALIVE and not force:
            alive.append(info)
            continue
        if state == ALIVE:
            path.unlink(missing_ok=True)  # forced: the user vouches that it is not running
        else:
            _bury(path)  # kept for crash recovery, which judges it again from its content
        removed += 1
    if alive:
        who = "; ".join(f"{i.describe()}, run {i.run_id}" for i in alive)
        raise LockError(f"not removing the lock of a run that is still running ({who})"
                        + (f"; removed {removed} stale lock(s)" if removed else ""),
                        hint="Wait for it to finish or stop it. To remove the lock anyway, "
                             "add --force (only if you are sure that process is not sciflow "
                             "writing here).")
    return removed
