"""Job processes die with their run (issue 8, deliverable 2): real ``sciflow run``
subprocesses, real Dask worker processes, real SIGKILLs, psutil to look for survivors."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from .proctools import alive, finish, sleepers, start_run, token, wait_for, worker_of

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process tree")


def test_sigkill_of_the_driver_kills_every_job_process_and_no_late_write(tmp_path):
    tok, late = token(), token(3)
    (tmp_path / "Snakefile").write_text(f'''
rule all:
    input: "a.txt", "b.txt"

rule slow:
    output: "{{x}}.txt"
    shell: "(sleep {late}; echo late > late_{{wildcards.x}}.txt) & sleep {tok}; echo done > {{output}}"
''')
    proc = start_run(tmp_path, "-c", "2")
    try:
        jobs = wait_for(lambda: len(sleepers(tok) + sleepers(late)) == 4
                        and sleepers(tok) + sleepers(late), timeout=60)
        started = time.monotonic()
        proc.send_signal(signal.SIGKILL)  # the driver only, not its process group
        proc.wait(10)
        wait_for(lambda: not alive(jobs), timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in alive(sleepers(tok) + sleepers(late)):  # do not leave them to the next test
            p.kill()
    assert not alive(jobs), f"job processes survived the driver: {alive(jobs)}"
    time.sleep(max(0.0, float(late) + 1 - (time.monotonic() - started)))
    assert not list(tmp_path.glob("late_*.txt")) and not (tmp_path / "a.txt").exists()


def test_sigkill_of_a_worker_kills_its_job_and_the_late_write_never_counts(tmp_path):
    """The issue's case: a worker killed during ``sleep 3; echo partial > {output}; exit 1``
    must not leave out.txt for the next run to take as done."""
    tok = token(3)
    (tmp_path / "Snakefile").write_text(f'''
rule bad:
    output: "out.txt"
    shell: "sleep {tok}; echo partial > {{output}}; exit 1"
''')
    started = time.monotonic()
    proc = start_run(tmp_path, "-c", "2")
    try:
        (first,) = wait_for(lambda: sleepers(tok), timeout=60)
        worker = worker_of(first)
        worker.send_signal(signal.SIGKILL)
        # the job's own processes die with their worker
        wait_for(lambda: not alive([first]), timeout=10)
        code = finish(proc, timeout=120)
    finally:
        for p in alive(sleepers(tok)):
            p.kill()
    assert code == 1
    time.sleep(max(0.0, 2 * float(tok) + 1.5 - (time.monotonic() - started)))  # any late write
    assert not (tmp_path / "out.txt").exists()
    again = subprocess.run([sys.executable, "-m", "sciflow", "run", "-n"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert "Nothing to be done" not in again.stdout + again.stderr
    assert "rule bad" in again.stdout


def test_a_job_s_leftover_background_processes_die_when_it_ends(tmp_path):
    """A job is its process group: what it left running in the background is killed when
    the job's main process ends (it could otherwise write into outputs later)."""
    tok = token(2)
    (tmp_path / "Snakefile").write_text(f'''
rule bg:
    output: "bg.txt"
    shell: "(sleep {tok}; echo late > late.txt) & echo ok > {{output}}"
''')
    proc = start_run(tmp_path, "-c", "1")
    assert finish(proc) == 0, (tmp_path / "run.out").read_text()
    assert not alive(sleepers(tok))
    assert (tmp_path / "bg.txt").read_text() == "ok\n" and not (tmp_path / "late.txt").exists()


def test_the_watcher_kills_tracked_groups_when_its_owner_is_sigkilled(tmp_path):
    """procguard's watcher on its own: a process tracks a job group, then dies by SIGKILL."""
    tok = token()
    owner = subprocess.Popen([sys.executable, "-c", f'''
import subprocess, time
from sciflow.execute import procguard
p = subprocess.Popen(["bash", "-c", "sleep {tok} & sleep {tok}; wait"],
                     start_new_session=True)
procguard.JobRecord(None, "k").process_started(p.pid)
print("ready", flush=True)
time.sleep(600)
'''], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "ready"
        jobs = wait_for(lambda: len(sleepers(tok)) == 2 and sleepers(tok), timeout=20)
        owner.kill()
        owner.wait()
        wait_for(lambda: not alive(jobs), timeout=10)
    finally:
        if owner.poll() is None:
            owner.kill()
        for p in alive(sleepers(tok)):
            p.kill()


def test_an_output_written_after_its_job_failed_is_removed_and_marked(tmp_path):
    """A process that escaped every guard (its own new session, ``setsid``) writes the
    output of a job already declared failed: the run removes that late file at its end and
    marks it incomplete, so no later run takes it as done."""
    from sciflow.engine import RunOptions, run
    from sciflow.errors import RunFailedError
    from sciflow.metadata import MetadataStore

    tok = token(1)
    (tmp_path / "Snakefile").write_text(f'''
rule all:
    input: "out.txt", "other.txt"

rule escapes:  # exits only once the escapee is in its own session (else the guard kills it)
    output: "out.txt"
    shell: "setsid bash -c 'echo $$ > escaped.pid; sleep {tok}; echo late > out.txt' < /dev/null > /dev/null 2>&1 & while [ ! -s escaped.pid ]; do sleep 0.05; done; exit 1"

rule other:  # the run ends only after the late write (no race with a loaded machine)
    output: "other.txt"
    shell: "for i in $(seq 1 600); do [ -e out.txt ] && break; sleep 0.05; done; sleep 0.5; touch {{output}}"
''')
    with pytest.raises(RunFailedError):
        run(RunOptions(directory=str(tmp_path), cores=2, keep_going=True,
                       command_line=["sciflow", "run"]))
    assert (tmp_path / "other.txt").exists()
    assert not (tmp_path / "out.txt").exists()
    assert "out.txt" in MetadataStore(tmp_path).incomplete()
