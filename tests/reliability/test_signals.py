"""SIGTERM and SIGINT stop a run cleanly (issue 8, deliverable 4, the signal part): jobs
killed, outputs removed and marked incomplete, provenance closed as "interrupted", lock
released, exit status 128+signal with one line, no traceback from the workers."""
from __future__ import annotations

import os
import signal
import sys
import time

import pytest

import sciflow.provenance as sp
from .proctools import alive, finish, matching, sleepers, start_run, token, wait_for
from sciflow.metadata import MetadataStore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process tree")


def _workflow(tmp_path, tok):
    (tmp_path / "Snakefile").write_text(f'''
rule all:
    input: "a.txt", "b.txt", "c.txt"

rule slow:
    output: "{{x}}.txt"
    shell: "echo partial > {{output}}; sleep {tok}; echo done > {{output}}"
''')


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_cleanly(tmp_path, sig):
    tok = token()
    _workflow(tmp_path, tok)
    proc = start_run(tmp_path, "-c", "2")
    try:
        jobs = wait_for(lambda: len(sleepers(tok)) == 2 and sleepers(tok), timeout=60)
        workers = [p for p in matching("multiprocessing.spawn") if proc.pid in _parents(p)]
        if sig == signal.SIGINT:  # as a terminal's Ctrl-C: the whole foreground group
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        code = finish(proc, timeout=60)
    finally:
        for p in alive(sleepers(tok)):
            p.kill()
    out = (tmp_path / "run.out").read_text()
    assert code == 128 + sig, out
    assert f"interrupted by {'SIGTERM' if sig == signal.SIGTERM else 'SIGINT'}" in out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    assert not alive(jobs), "job processes survived the interrupted run"
    assert not alive(workers), "worker processes survived the interrupted run"
    # the outputs of the jobs that had started are gone and marked incomplete
    started = {f for f in ("a.txt", "b.txt", "c.txt")
               if f in MetadataStore(tmp_path).incomplete()}
    assert len(started) == 2 and not any((tmp_path / f).exists() for f in started)
    # the lock is released: the next run may start (and is told about the markers)
    assert not [p for p in (tmp_path / ".sciflow" / "lock").glob("*") if p.name != ".mutex"]
    p = sp.open(tmp_path)
    assert p.query("ASK { ?r a sf:Run ; sf:status 'interrupted' ; prov:endedAtTime ?t }")
    assert not (tmp_path / ".sciflow" / "procs").exists() or not any(
        (tmp_path / ".sciflow" / "procs").iterdir())


def _parents(process) -> list[int]:
    """PIDs of ``process``'s ancestors ([] if it ended meanwhile: other runs on the machine
    spawn and end processes too)."""
    import psutil

    try:
        return [q.pid for q in process.parents()]
    except psutil.Error:
        return []


def test_a_signal_while_the_cluster_starts_is_clean(tmp_path):
    """SIGTERM while ``LocalCluster`` is still starting (its worker processes exist but have
    not joined; a sitecustomize slows their start by 4 s so the signal surely lands there):
    the one "interrupted" line, no traceback from Dask's atexit hook or its unfinished start,
    no worker left behind."""
    import psutil

    slow = tmp_path / "slowstart"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(
        "import sys, time\n"
        "if any('multiprocessing.spawn' in a for a in getattr(sys, 'orig_argv', ())):\n"
        "    time.sleep(4)\n")
    tok = token()
    _workflow(tmp_path, tok)
    path = os.pathsep.join(p for p in (str(slow), os.environ.get("PYTHONPATH")) if p)
    proc = start_run(tmp_path, "-c", "2", env={"PYTHONPATH": path})
    try:
        wait_for(lambda: [c for c in psutil.Process(proc.pid).children(recursive=True)
                          if "multiprocessing.spawn" in " ".join(_cmdline(c))],
                 timeout=60, every=0.02)
        time.sleep(1)  # inside the 4 s the workers take to start
        workers = [p for p in matching("multiprocessing.spawn") if proc.pid in _parents(p)]
        proc.send_signal(signal.SIGTERM)
        code = finish(proc, timeout=60)
    finally:
        for p in alive(sleepers(tok)):
            p.kill()
    out = (tmp_path / "run.out").read_text()
    assert code == 128 + signal.SIGTERM, out
    assert "interrupted by SIGTERM" in out, out
    assert "Traceback" not in out and "Task exception" not in out, out
    assert not alive(workers), "worker processes survived the interrupted run"


def _cmdline(process) -> list[str]:
    import psutil

    try:
        return process.cmdline()
    except psutil.Error:
        return []
