"""The engine entry point: lock, options, and end-to-end runs on the real Dask executor."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sciflow.errors import LockError, RunFailedError, UsageError, WorkflowError
from sciflow.lock import RunLock, unlock


# ------------------------------------------------------------------------------ lock
def test_second_run_on_overlapping_outputs_is_refused_with_pid_host_and_unlock_hint(tmp_path):
    with RunLock(tmp_path, "run-1", ["a.txt", "b.txt"]):
        with pytest.raises(LockError) as info:
            RunLock(tmp_path, "run-2", ["b.txt", "c.txt"]).acquire()
        err = info.value
        assert f"pid {os.getpid()}" in err.message and "run-1" in err.message and "b.txt" in err.message
        assert "--unlock" in err.hint
        with RunLock(tmp_path, "run-3", ["other.txt"]):  # disjoint outputs may share the directory
            pass
    with RunLock(tmp_path, "run-4", ["a.txt"]):  # released: free again
        pass


def test_stale_lock_of_dead_process_is_taken_over(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    lockdir = tmp_path / ".sciflow" / "lock"
    lockdir.mkdir(parents=True)
    import socket
    (lockdir / "dead.json").write_text(json.dumps(
        {"pid": proc.pid, "host": socket.gethostname(), "run_id": "dead", "outputs": ["a.txt"]}))
    with RunLock(tmp_path, "run-2", ["a.txt"]):
        assert not (lockdir / "dead.json").exists()


def test_unlock_removes_locks_of_other_hosts(tmp_path):
    lockdir = tmp_path / ".sciflow" / "lock"
    lockdir.mkdir(parents=True)
    (lockdir / "x.json").write_text(json.dumps(
        {"pid": 1, "host": "elsewhere.example", "run_id": "x", "outputs": ["a.txt"]}))
    with pytest.raises(LockError, match="elsewhere.example"):
        RunLock(tmp_path, "mine", ["a.txt"]).acquire()
    assert unlock(tmp_path) == 1
    RunLock(tmp_path, "mine", ["a.txt"]).acquire()


# ------------------------------------------------------------------------------ options
def test_run_options_aliases_and_profile(tmp_path):
    from sciflow.engine import RunOptions, apply_profile, new_run_id

    opts = RunOptions(workdir=str(tmp_path), config_overrides={"k": 1})
    assert opts.directory == str(tmp_path) and opts.config == {"k": 1}
    profile = tmp_path / "profile.yaml"
    profile.write_text("cores: 3\nkeep-going: true\nconfig:\n  k: 0\n  other: 2\n")
    opts = apply_profile(RunOptions(profile=str(profile), config={"k": 1}, cores=1))
    assert opts.cores == 1 and opts.keep_going is True  # explicit values win over the profile
    assert opts.config == {"k": 1, "other": 2}
    with pytest.raises(UsageError):
        RunOptions(cluster="condor")
    import re
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", new_run_id())
