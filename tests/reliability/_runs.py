"""Real ``sciflow run`` processes for the reliability tests: start, wait, kill."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SCIFLOW = str(Path(sys.executable).parent / "sciflow")


def sciflow(cwd, *args, timeout=180):
    return subprocess.run([SCIFLOW, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def start(cwd, *args):
    """A run in its own process group (so the test can kill it and its workers)."""
    return subprocess.Popen([SCIFLOW, *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def wait_for(predicate, timeout=90.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def lock_files(wd):
    return sorted((Path(wd) / ".sciflow" / "lock").glob("*.json"))


def read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def kill_run(proc, *pid_files):
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
