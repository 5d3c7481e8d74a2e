"""Crash recovery without a flag (issue 8, deliverable 4): when the run that left incomplete
markers is provably dead, the next run redoes those jobs itself and says why."""
import json
import os
import socket
import subprocess
import time

import psutil

from sciflow.metadata import MetadataStore

from .proctools import kill_run, sciflow, start, wait_for

SLOW = '''
rule all:
    input: "a.txt"

rule a:
    output: "a.txt"
    shell: "echo $$ > job.pid; echo partial > {output}; if [ -e slow ]; then sleep 60; fi; echo done > {output}"
'''


def test_driver_killed_mid_job_next_run_redoes_it_without_flag(tmp_path):
    (tmp_path / "Snakefile").write_text(SLOW)
    (tmp_path / "slow").touch()
    proc = start(tmp_path, "run", "-c1")
    try:
        wait_for(lambda: (tmp_path / "job.pid").exists() and (tmp_path / "a.txt").exists(),
                 what="the job to start")
        lock = json.loads(next((tmp_path / ".sciflow" / "lock").glob("*.json")).read_text())
        assert lock["host"] == socket.gethostname() and lock["pid"] == proc.pid
        assert abs(lock["start"] - psutil.Process(proc.pid).create_time()) < 1.0
    finally:
        kill_run(proc, tmp_path / "job.pid")
    (tmp_path / "slow").unlink()
    assert (tmp_path / "a.txt").read_text() == "partial\n"

    dry = sciflow(tmp_path, "run", "-n")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"the run that wrote it (pid {proc.pid}, host {socket.gethostname()}) is dead" \
        in dry.stdout, dry.stdout
    real = sciflow(tmp_path, "run", "-c1")
    assert real.returncode == 0, real.stdout + real.stderr
    assert (tmp_path / "a.txt").read_text() == "done\n"
    assert "Nothing to be done" in sciflow(tmp_path, "run", "-n").stdout + \
        sciflow(tmp_path, "run", "-n").stderr


def _crashed_state(wd, run_id, host, pid, start, heartbeat_age=0.0):
    """What a killed run leaves: an output, its incomplete marker, and its lock."""
    (wd / "Snakefile").write_text(SLOW)
    (wd / "a.txt").write_text("partial\n")
    with MetadataStore(wd) as meta:
        meta.mark_incomplete(["a.txt"], run_id)
    lock = wd / ".sciflow" / "lock" / f"{run_id}.json"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({"pid": pid, "host": host, "start": start, "run_id": run_id,
                                "outputs": ["a.txt"]}))
    past = time.time() - heartbeat_age
    os.utime(lock, (past, past))


def test_reused_pid_does_not_pass_for_the_dead_run(tmp_path):
    other = subprocess.Popen(["sleep", "60"])  # alive, but not the run that wrote the lock
    try:
        started = psutil.Process(other.pid).create_time()
        _crashed_state(tmp_path, "r1", socket.gethostname(), other.pid, started - 3600)
        dry = sciflow(tmp_path, "run", "-n")
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert f"pid {other.pid}" in dry.stdout and "is dead" in dry.stdout

        # The same pid with its real start time: that run is alive and making a.txt now.
        _crashed_state(tmp_path, "r1", socket.gethostname(), other.pid, started)
        busy = sciflow(tmp_path, "run", "-n")
        assert busy.returncode != 0
        text = busy.stdout + busy.stderr
        assert "right now" in text and "a.txt" in text and f"pid {other.pid}" in text
        assert "seem to be incomplete" not in text and "Traceback" not in text
    finally:
        other.kill()
        other.wait()


def test_other_host_needs_the_flag_unless_its_lock_expired(tmp_path):
    _crashed_state(tmp_path, "r2", "node-elsewhere", 4242, 1.0)
    asked = sciflow(tmp_path, "run", "-n")
    assert asked.returncode != 0
    assert "node-elsewhere" in asked.stderr and "--rerun-incomplete" in asked.stderr
    assert sciflow(tmp_path, "run", "-n", "--rerun-incomplete").returncode == 0

    _crashed_state(tmp_path, "r2", "node-elsewhere", 4242, 1.0, heartbeat_age=3600)
    dry = sciflow(tmp_path, "run", "-n")
    assert dry.returncode == 0, dry.stderr
    assert "(pid 4242, host node-elsewhere) is dead" in dry.stdout
    run = sciflow(tmp_path, "run", "-c1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "a.txt").read_text() == "done\n"
    # The lock of the dead run was kept aside (not deleted) and no live lock remains.
    assert not list((tmp_path / ".sciflow" / "lock").glob("*.json"))
