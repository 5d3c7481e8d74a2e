"""Worker death survived (issue 8, deliverable 3): a SIGKILLed Dask worker's running job is
retried elsewhere, only that job is affected, the run finishes, provenance has both attempts
and Dask's own log lines stay off the console."""
from __future__ import annotations

import signal
import sys

import pytest

import sciflow.provenance as sp
from .proctools import alive, finish, sleepers, start_run, token, wait_for, worker_of

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process tree")


def test_a_killed_worker_s_job_is_retried_and_the_run_finishes(tmp_path):
    tok = token(3)
    (tmp_path / "Snakefile").write_text(f'''
rule all:
    input: "victim.txt", expand("o{{i}}.txt", i=range(5))

rule victim:
    output: "victim.txt"
    shell: "echo attempt >> attempts.log; echo partial > {{output}}; sleep {tok}; echo full > {{output}}"

rule other:
    output: "o{{i}}.txt"
    shell: "echo {{wildcards.i}} >> runs.log; sleep 1; echo {{wildcards.i}} > {{output}}"
''')
    proc = start_run(tmp_path, "-c", "2")
    try:
        (first,) = wait_for(lambda: sleepers(tok), timeout=60)
        worker_of(first).send_signal(signal.SIGKILL)
        wait_for(lambda: not alive([first]), timeout=10)  # its job died with it
        code = finish(proc, timeout=120)
    finally:
        for p in alive(sleepers(tok)):
            p.kill()
    out = (tmp_path / "run.out").read_text()
    assert code == 0, out
    assert (tmp_path / "victim.txt").read_text() == "full\n"
    assert (tmp_path / "attempts.log").read_text().count("attempt") == 2
    # only the job that ran on the dead worker ran twice
    runs = (tmp_path / "runs.log").read_text().split()
    assert sorted(runs) == [str(i) for i in range(5)], runs
    assert "retrying rule victim (attempt 2)" in out and "died" in out
    # Dask's own log lines are not on the console (no --verbose)
    assert "distributed." not in out and "ERROR" not in out and "Traceback" not in out, out
    p = sp.open(tmp_path)
    assert p.query("ASK { ?a a sf:JobAttempt ; sf:ruleName 'victim' ; sf:attempt 1 ; "
                   "sf:status 'failed' ; sf:error ?e . FILTER(CONTAINS(?e, 'died')) }")
    assert p.query("ASK { ?j a sf:Job ; sf:ruleName 'victim' ; sf:status 'succeeded' ; "
                   "sf:attempt 2 . ?a sf:attemptOf ?j }")


def test_a_lost_batch_of_short_jobs_affects_only_that_batch(tmp_path, monkeypatch):
    """Short jobs go to Dask in batches (one task, several jobs): a worker killed while it
    runs a batch reruns that batch's jobs only, the one that was running as a retry."""
    import threading

    import sciflow.execute.dask as sdask
    from sciflow.engine import RunOptions, run

    monkeypatch.setattr(sdask, "FAST_EVIDENCE", 0)  # batch every job of the rule at once
    tok = token(4)
    (tmp_path / "Snakefile").write_text(f'''
rule all:
    input: expand("o{{i}}.txt", i=range(16))

rule short:
    output: "o{{i}}.txt"
    shell: "echo {{wildcards.i}} >> runs.log; if [ {{wildcards.i}} = 3 ]; then sleep {tok}; fi; touch {{output}}"
''')
    killed = []

    def kill_the_victim_s_worker():
        (victim,) = wait_for(lambda: sleepers(tok), timeout=60)
        worker = worker_of(victim)
        worker.send_signal(signal.SIGKILL)
        killed.append(worker.pid)

    killer = threading.Thread(target=kill_the_victim_s_worker, daemon=True)
    killer.start()
    summary = run(RunOptions(directory=str(tmp_path), cores=2, command_line=["sciflow", "run"]))
    killer.join(5)
    assert killed and summary.ok
    runs = (tmp_path / "runs.log").read_text().split()
    counts = {i: runs.count(str(i)) for i in range(16)}
    assert counts[3] == 2, counts              # the running job: one lost attempt, one retry
    assert all(1 <= c <= 2 for c in counts.values()), counts
    # only jobs of the lost batch (8 jobs) ran again: those that had finished in it
    assert len([i for i, c in counts.items() if c == 2]) <= sdask.BATCH_MAX, counts
