"""The terminal while a run works (issue 10, deliverable 4): "running" counts jobs whose action
began on a worker (not jobs handed to Dask), per-rule counts and an estimate from finished
jobs, ``-p`` when a job starts (also without a terminal), a closed output pipe that leaves
the run and its provenance whole, ``--log-format json`` for log collectors, and the Dask
dashboard's Prometheus ``/metrics`` served by a real local cluster."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import SCIFLOW
from sciflow.events import JobResult, Listener

SLEEPERS = """\
rule all:
    input: expand("out/{i}.txt", i=range(6))

rule make:
    output: "out/{i}.txt"
    shell: "sleep 0.3; echo {wildcards.i} > {output}"
"""

WITH_FAILURE = SLEEPERS.replace('input: expand("out/{i}.txt", i=range(6))',
                                'input: expand("out/{i}.txt", i=range(3)), "bad.txt"') + """
rule bad:
    output: "bad.txt"
    shell: "echo broken-detail-line >&2; exit 4"
"""


def _sciflow(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCIFLOW), "run", "-c", "1", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=240)


class Probe(Listener):
    """Records the events, and what the progress display counted as running at each."""

    def __init__(self, progress) -> None:
        self.progress = progress
        self.events: list[tuple[str, int, str]] = []
        self.running_seen: list[int] = []

    def job_started(self, run, job):
        self.events.append(("submitted", job.jobid, ""))
        self.running_seen.append(self.progress.running)

    def job_executing(self, run, job, worker):
        self.events.append(("executing", job.jobid, worker))
        self.running_seen.append(self.progress.running)

    def job_finished(self, run, job, result):
        self.events.append(("finished", job.jobid, result.worker))
        self.running_seen.append(self.progress.running)


def test_running_counts_jobs_executing_not_jobs_submitted(tmp_path):
    from rich.console import Console
    from sciflow.engine import RunOptions, run
    from sciflow.progress import ConsoleProgress

    (tmp_path / "Snakefile").write_text(SLEEPERS)
    console = Console(record=True, force_terminal=True, width=120)
    progress = ConsoleProgress(console, printshellcmds=True)
    probe = Probe(progress)
    run(RunOptions(directory=str(tmp_path), cores=1), listeners=[progress, probe])
    kinds = [k for k, _, _ in probe.events]
    # one worker with one core: all six jobs are handed to Dask at once, one executes at a
    # time (the next job's start can be told before the last one's result is fetched: 2)
    assert kinds[:6] == ["submitted"] * 6
    assert max(probe.running_seen) <= 2
    made = [j for k, j, _ in probe.events if k == "submitted" and j in
            {j2 for k2, j2, _ in probe.events if k2 == "finished"}]
    for jobid in made:
        order = [k for k, j, _ in probe.events if j == jobid]
        assert order == ["submitted", "executing", "finished"], order
    workers = {w for k, _, w in probe.events if k == "executing" and w}
    assert workers and all(w.startswith(("tls://", "tcp://")) for w in workers)
    out = console.export_text()
    assert "sleep 0.3; echo 2 > out/2.txt" in out  # -p: the command, when the job started
    assert "dashboard: http://127.0.0.1:" in out and "/metrics" in out


def test_estimate_comes_from_finished_jobs_of_the_same_rule():
    from sciflow.progress import Tally

    def job(jobid, rule):
        return SimpleNamespace(jobid=jobid, rule=SimpleNamespace(name=rule))

    def took(jobid, seconds):
        t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
        return JobResult(jobid, True, t0, t0 + timedelta(seconds=seconds))

    a = [job(i, "a") for i in range(4)]
    b = [job(10, "b")]
    tally = Tally()
    tally.add(a + b)
    assert tally.eta() is None  # no evidence yet
    tally.started(a[0])
    tally.started(a[1])
    tally.finished(a[0], took(0, 10))
    tally.finished(a[1], took(1, 30))
    # a: 2 waiting x 20 s (a's mean); b: 1 x 20 s (no b yet: the mean of all); 2 at once
    assert tally.eta() == pytest.approx(30.0)
    assert (tally.done, tally.running, tally.total) == (2, 0, 5)
    assert tally.rules["a"].done == 2 and tally.rules["b"].total == 1


def test_plain_output_json_log_and_failed_job_tail(tmp_path):
    (tmp_path / "Snakefile").write_text(WITH_FAILURE)
    done = _sciflow(tmp_path, "-k", "-p", "--log-format", "json", "--log-file", "events.jsonl")
    assert done.returncode == 1, done.stderr
    err = done.stderr  # not a terminal: plain lines, the command when its job starts
    start = err.index("start rule make (i=1): sleep 0.3; echo 1 > out/1.txt")
    assert start < err.index("rule make (i=1)", start + 10)  # ... before it is done
    assert "broken-detail-line" in err.split("FAILED", 1)[1]  # the failed job's log tail
    assert "[make 3/3]" in err and ", ETA " in err  # per-rule count and estimate, plain
    run_log = next((tmp_path / ".sciflow" / "logs").glob("*.log")).read_text()
    assert "on tls://127.0.0.1:" in run_log and ": sleep 0.3; echo 2 > out/2.txt" in run_log
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    first, last = events[0], events[-1]
    assert first["event"] == "run_started" and first["metrics"].endswith("/metrics")
    assert last["event"] == "run_finished" and last["ok"] is False and last["status"] == "failed"
    assert {e["run_id"] for e in events} == {first["run_id"]}
    per_job: dict[int, list[str]] = {}
    for e in events:
        if "jobid" in e:
            per_job.setdefault(e["jobid"], []).append(e["event"])
    assert sorted(per_job.values()) == sorted(
        [["job_submitted", "job_executing", "job_finished"]] * 3
        + [["job_submitted", "job_executing", "job_failed"]])
    finished = [e for e in events if e["event"] == "job_finished"]
    assert all(e["rule"] == "make" and e["worker"] and e["duration_s"] >= 0.3 for e in finished)
    assert {e["wildcards"]["i"] for e in finished} == {"0", "1", "2"}
    failed = next(e for e in events if e["event"] == "job_failed")
    assert failed["rule"] == "bad" and failed["exit_code"] == 4
    assert "broken-detail-line" in failed["log_tail"]
    executing = next(e for e in events if e["event"] == "job_executing" and e["rule"] == "bad")
    assert executing["command"].startswith("echo broken-detail-line")


def test_closed_output_pipe_does_not_stop_the_run(tmp_path):
    from sciflow.provenance.query import Provenance

    (tmp_path / "Snakefile").write_text(SLEEPERS)
    shell = f"'{SCIFLOW}' run -c 1 -p 2>&1 | head -1; echo status=${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", shell], cwd=tmp_path, capture_output=True, text=True,
                          timeout=240)
    assert done.stdout.count("\n") == 2 and "status=0" in done.stdout, done.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i}.txt" for i in range(6)]
    runs = Provenance(tmp_path).runs()
    assert len(runs) == 1 and runs["status"].iloc[0] == "succeeded"
    assert runs["ended"].notna().all()


def test_dashboard_serves_prometheus_metrics_from_a_real_cluster():
    pytest.importorskip("prometheus_client")
    from sciflow.execute.dask import DaskExecutor

    executor = DaskExecutor(cores=1)
    executor.start()
    try:
        link = executor.dashboard_link
        assert link and link.startswith("http://127.0.0.1:") and link.endswith("/status")
        base = link[:-len("/status")]
        with urllib.request.urlopen(base + "/metrics", timeout=30) as response:
            body = response.read().decode()
        assert "dask_scheduler_workers" in body
        if "bokeh" in sys.modules or _has("bokeh"):
            with urllib.request.urlopen(link, timeout=30) as response:
                assert response.status == 200 and b"<html" in response.read().lower()
    finally:
        executor.shutdown()


def _has(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None
