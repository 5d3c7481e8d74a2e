"""A process that records ONE job reading N files with the real recorder and store, and prints
how much its resident memory rose while that job was recorded and loaded (KB) as JSON.

    python _record_wide.py WORKDIR N

The inputs are real files, hashed when the job starts (before the measurement: a job's input
digests are part of the job, as its input list is). What is measured is the recording of the
job (its quads, usages, roles) and loading them into the store: an ``all`` rule over 20,000
outputs made this the driver's peak of a 20,000-job run (test_driver_memory.py).
"""
from __future__ import annotations

import json
import os
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from sciflow.events import JobResult, RunInfo
from sciflow.jobs import Job
from sciflow.model import NamedList, SourceLoc, Wildcards, Workflow, WorkflowBuilder
from sciflow.provenance.record import ProvenanceRecorder

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def main(workdir: Path, n: int) -> dict:
    workdir = workdir.resolve()
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    (workdir / "Snakefile").write_text('rule all:\n    input: expand("data/{i}.txt", i=IDS)\n')
    files = [f"data/{i:06d}.txt" for i in range(n)]
    for i, f in enumerate(files):
        (workdir / f).write_text(f"{i}\n")
    wf = Workflow(path="Snakefile")
    WorkflowBuilder(wf).add_rule("all", SourceLoc("Snakefile", 1, 1), input=(("data/{i}.txt",), {}))
    job = Job(1, wf.rules["all"], Wildcards(), NamedList(files), NamedList())
    run = RunInfo(run_id="wide", workdir=str(workdir), workflow_path="Snakefile",
                  started=datetime.now(timezone.utc), command_line=["sciflow", "run"],
                  user="alice", host="node1", workflow=wf)
    rec = ProvenanceRecorder(workdir)
    rec.run_started(run, [job])
    rec.job_started(run, job)  # hashes the inputs
    rec.drain()
    base = rss()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            done.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = datetime.now(timezone.utc)
    rec.job_finished(run, job, JobResult(jobid=1, ok=True, started=started,
                                         ended=datetime.now(timezone.utc), host="node1"))
    rec.drain()
    done.set()
    sampler.join()
    peak[0] = max(peak[0], rss())
    run.ended = datetime.now(timezone.utc)
    rec.run_finished(run, True)
    return {"inputs": n, "recorded": rec.jobs_recorded, "rise_kb": (peak[0] - base) // 1024}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]))), flush=True)
