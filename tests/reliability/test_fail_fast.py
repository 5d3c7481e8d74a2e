"""Fail fast means fast (issue 8, deliverable 9): after the first failure without -k, jobs
not yet started are cancelled, running ones finish (or are killed with --kill-on-failure),
and the error says which."""
from __future__ import annotations

import sys
import time

import pytest

from .proctools import alive, sleepers, token
from sciflow.engine import RunOptions, run
from sciflow.errors import RunFailedError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux processes")


def _run(tmp_path, **kw):
    return run(RunOptions(directory=str(tmp_path), command_line=["sciflow", "run"], **kw))


def test_jobs_already_handed_to_dask_do_not_start_after_a_failure(tmp_path):
    """One worker, one thread: every job is queued in Dask at once (the scheduler hands out a
    window of jobs ahead); the first one fails, none of the others may start after it."""
    (tmp_path / "Snakefile").write_text('''
rule all:
    input: "fail.txt", expand("later{i}.txt", i=range(6))

rule fail:
    output: "fail.txt"
    priority: 10
    shell: "sleep 0.5; exit 3"

rule later:
    output: "later{i}.txt"
    shell: "date +%s.%N >> started.log; touch {output}"
''')
    with pytest.raises(RunFailedError) as info:
        _run(tmp_path, cores=1)
    assert not (tmp_path / "started.log").exists(), "jobs started after the failure"
    text = info.value.format()
    assert "cancelled (not started): 7" in text, text
    assert "exit status: 3" in text


def test_running_jobs_finish_or_are_killed_with_kill_on_failure(tmp_path):
    tok = token(60)
    (tmp_path / "Snakefile").write_text(f'''
rule all:
    input: "fail.txt", "long.txt"

rule fail:
    output: "fail.txt"
    shell: "sleep 2; exit 1"

rule long:
    output: "long.txt"
    shell: "sleep {tok}; touch {{output}}"
''')
    t0 = time.monotonic()
    with pytest.raises(RunFailedError) as info:
        _run(tmp_path, cores=2, kill_on_failure=True)
    took = time.monotonic() - t0
    text = info.value.format()
    assert took < 45, took  # not the 60 s the long job wanted
    assert "killed (--kill-on-failure): 1: Job" in text and "long" in text, text
    assert [f.rule for f in info.value.failures] == ["fail"]  # the killed job is no failure
    assert not alive(sleepers(tok)) and not (tmp_path / "long.txt").exists()

    short = token(3)
    (tmp_path / "Snakefile").write_text((tmp_path / "Snakefile").read_text().replace(tok, short))
    with pytest.raises(RunFailedError) as info:
        _run(tmp_path, cores=2)
    text = info.value.format()
    assert "allowed to finish: 1: Job" in text, text
    assert (tmp_path / "long.txt").exists()
