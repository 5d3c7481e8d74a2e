"""Helpers for the process tests: a real ``sciflow run`` subprocess, and psutil look-ups of
the job processes it starts (found by a unique token in their command line)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil


def token(seconds: int = 300) -> str:
    """``seconds`` with a fraction unique to one test, for ``sleep <token>``: psutil finds
    exactly those processes."""
    return f"{seconds}.{uuid.uuid4().int % 1_000_000:06d}1"


def start_run(workdir: Path, *args: str, session: bool = True,
              env: dict[str, str] | None = None) -> subprocess.Popen:
    """``sciflow run ARGS`` in ``workdir``, output in ``workdir/run.out``; ``env`` adds to
    the environment."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(workdir / "run.out", "wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-m", "sciflow", "run", *args], cwd=workdir,
                                stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=session)


def matching(tok: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(tok in part for part in p.info["cmdline"] or ()):
                found.append(p)
        except (psutil.Error, TypeError):
            continue
    return found


def sleepers(tok: str) -> list[psutil.Process]:
    """The ``sleep TOKEN`` processes (not the shells whose command mentions it)."""
    return [p for p in matching(tok) if _cmd(p)[:1] == ["sleep"]]


def _cmd(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def wait_for(predicate, timeout: float = 60.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


def worker_of(proc: psutil.Process) -> psutil.Process:
    """The Dask worker process that (transitively) started ``proc``."""
    for parent in proc.parents():
        if any("multiprocessing" in part or "distributed" in part for part in _cmd(parent)):
            return parent
    raise AssertionError(f"no Dask worker above {proc}")


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            pass
    return out


def finish(proc: subprocess.Popen, timeout: float = 90) -> int:
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
