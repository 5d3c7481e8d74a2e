"""Helpers for the reliability tests: real ``sciflow run`` subprocesses (started, waited for,
killed), psutil look-ups of the job processes they start (found by a unique token in their
command line), and the lock files a run leaves."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil

from sciflow import layout

SCIFLOW = str(Path(sys.executable).parent / "sciflow")


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


def wait_for(predicate, timeout: float = 90.0, what: str | None = None, every: float = 0.1):
    """``predicate()``'s first true value, polled every ``every`` s for ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


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


def sciflow(cwd, *args, timeout=180) -> subprocess.CompletedProcess:
    """``sciflow ARGS`` in ``cwd``, run to its end, output captured as text."""
    return subprocess.run([SCIFLOW, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def start(cwd, *args) -> subprocess.Popen:
    """``sciflow ARGS`` in its own process group (so the test can kill it and its workers),
    output in ``proc.stdout``."""
    return subprocess.Popen([SCIFLOW, *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def lock_files(wd) -> list[Path]:
    return sorted(layout.lock_dir(wd).glob("*.json"))


def read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def kill_run(proc, *pid_files) -> None:
    """SIGKILL the run's process group and the job processes named in ``pid_files`` (jobs
    run in their own sessions)."""
    for group in [proc.pid] + [_pid(f) for f in pid_files]:
        if group:
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    if proc.stdout:
        proc.stdout.close()


def _pid(path):
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
