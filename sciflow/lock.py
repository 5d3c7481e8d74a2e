"""The run lock: two runs in one directory must not write the same outputs at once.

Each running ``sciflow run`` leaves a small JSON file in ``.sciflow/lock/`` naming its pid,
host, run id and the outputs it will write. A new run refuses to start when another live run's
outputs overlap its own (runs on disjoint outputs may share a directory, as in Snakemake).
A lock whose pid is dead on this host is stale and taken over; ``sciflow run --unlock``
removes every lock after a crash on another host. The check-and-write is serialised by an
``flock`` on ``.sciflow/lock/.mutex`` so two runs starting together cannot both win.

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
from pathlib import Path
from typing import Iterable

from sciflow.errors import LockError


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunLock:
    """A lock on ``outputs`` in ``workdir`` for the run ``run_id``."""

    def __init__(self, workdir: str | os.PathLike[str], run_id: str, outputs: Iterable[str]) -> None:
        self.dir = Path(workdir) / ".sciflow" / "lock"
        self.run_id = run_id
        self.outputs = sorted(set(map(str, outputs)))
        self.path = self.dir / f"{run_id}.json"
        self.held = False

    def acquire(self) -> None:
        """Take the lock or raise ``LockError`` naming the other run."""
        self.dir.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname()
        with open(self.dir / ".mutex", "a+") as mutex:
            fcntl.flock(mutex, fcntl.LOCK_EX)
            try:
                mine = set(self.outputs)
                for other in sorted(self.dir.glob("*.json")):
                    info = _read(other)
                    if info is None:
                        continue
                    if info.get("host") == host and not _pid_alive(int(info.get("pid", 0))):
                        other.unlink(missing_ok=True)  # stale: its run died without unlocking
                        continue
                    overlap = mine.intersection(info.get("outputs", ()))
                    if overlap:
                        example = sorted(overlap)[0]
                        raise LockError(
                            f"the directory {self.dir.parent.parent} is locked by another sciflow "
                            f"run (pid {info.get('pid')} on host {info.get('host')}, run "
                            f"{info.get('run_id')}) that writes {len(overlap)} of the same outputs, "
                            f"e.g. {example}",
                            hint="Wait for that run to finish. If it is no longer running (it "
                                 "crashed or its machine went down), run `sciflow run --unlock` "
                                 "and start again.")
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"pid": os.getpid(), "host": host, "run_id": self.run_id,
                                           "outputs": self.outputs}))
                os.replace(tmp, self.path)
                self.held = True
            finally:
                fcntl.flock(mutex, fcntl.LOCK_UN)

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def unlock(workdir: str | os.PathLike[str]) -> int:
    """Remove every run lock of ``workdir`` (``--unlock``); returns how many were removed."""
    lockdir = Path(workdir) / ".sciflow" / "lock"
    removed = 0
    for path in lockdir.glob("*.json"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
