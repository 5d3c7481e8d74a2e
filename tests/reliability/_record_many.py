"""A process that records N trivial jobs and one ``all`` job over their N outputs with the
real provenance recorder and store, then prints its peak RSS (``ru_maxrss``, KB) as JSON.

    python _record_many.py WORKDIR N

The jobs' files are real (written here, hashed by the recorder); only the scheduler is left
out, so the driver memory measured is the recorder's and the store's (test_driver_memory.py).
"""
from __future__ import annotations

import json
import os
import resource
import sys
from datetime import datetime, timezone
from pathlib import Path

from sciflow.events import JobResult, RunInfo
from sciflow.jobs import Job
from sciflow.model import Action, NamedList, SourceLoc, Wildcards, Workflow, WorkflowBuilder
from sciflow.provenance.record import ProvenanceRecorder

SOURCE = '''rule all:
    input: expand("out/{id}.txt", id=IDS)

rule job:
    output: "out/{id}.txt"
    shell: "echo {wildcards.id} > {output}"
'''


def jobs_for(workdir: Path, n: int) -> tuple[Workflow, list[Job]]:
    (workdir / "Snakefile").write_text(SOURCE)
    wf = Workflow(path="Snakefile")
    b = WorkflowBuilder(wf)
    b.add_rule("all", SourceLoc("Snakefile", 1, 1), input=(("out/{id}.txt",), {}))
    b.add_rule("job", SourceLoc("Snakefile", 4, 1), output=(("out/{id}.txt",), {}),
               action=Action("shell", "echo {wildcards.id} > {output}", SourceLoc("Snakefile", 6, 5)))
    outs = [f"out/{i:05d}.txt" for i in range(n)]
    jobs = [Job(i + 1, wf.rules["job"], Wildcards({"id": f"{i:05d}"}), NamedList(),
                NamedList([out]), threads=1) for i, out in enumerate(outs)]
    jobs.append(Job(n + 1, wf.rules["all"], Wildcards(), NamedList(outs), NamedList()))
    return wf, jobs


def main(workdir: Path, n: int) -> dict:
    workdir = workdir.resolve()
    (workdir / "out").mkdir(parents=True, exist_ok=True)
    wf, jobs = jobs_for(workdir, n)
    run = RunInfo(run_id="load", workdir=str(workdir), workflow_path="Snakefile",
                  started=datetime.now(timezone.utc), command_line=["sciflow", "run"],
                  user="alice", host="node1", workflow=wf)
    rec = ProvenanceRecorder(workdir)
    rec.run_started(run, jobs)
    every = int(os.environ.get("SCIFLOW_RSS_EVERY", "0"))  # diagnosis: RSS every N jobs
    for job in jobs:
        if every and job.jobid % every == 0:
            rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            print(f"# {job.jobid} jobs: rss {rss / 2**20:.0f} MB", file=sys.stderr, flush=True)
        rec.job_started(run, job)
        started = datetime.now(timezone.utc)
        for out in job.output:
            (workdir / out).write_text(f"{job.wildcards['id']}\n")
        rec.job_finished(run, job, JobResult(
            jobid=job.jobid, ok=True, started=started, ended=datetime.now(timezone.utc),
            command=f"echo > {job.output[0]}" if job.output else None, host="node1",
            worker="tcp://127.0.0.1:4000"))
    run.ended = datetime.now(timezone.utc)
    rec.run_finished(run, True)
    return {"jobs": n, "recorded": rec.jobs_recorded,
            "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]))), flush=True)
