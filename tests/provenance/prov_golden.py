"""A small known workflow, executed by hand (real files) and recorded by the real recorder.

    data/a.txt, data/b.txt (raw)
      -> rule count  (params factor, label)   counts/{s}.txt
      -> rule summary (params title, cols)     results/summary.txt
      -> rule cube   (params scale)            results/cube.h5   (HDF5 with a dataset)

Until the engine drives jobs this stands in for the scheduler: it calls the Listener hooks in
the engine's order with Job/RunInfo/JobResult objects built from the model classes.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sciflow.events import JobResult, RunInfo
from sciflow.jobs import Job
from sciflow.model import Action, NamedList, SourceLoc, Wildcards, Workflow, WorkflowBuilder
from sciflow.provenance.record import ProvenanceRecorder

SOURCE = '''rule count:
    input: txt="data/{s}.txt"
    output: "counts/{s}.txt"
    params: factor=2, label="n"
    shell: "wc -l {input.txt} > {output}"
'''


def make_workflow(workdir: Path) -> Workflow:
    (workdir / "Sciflowfile").write_text(SOURCE)
    wf = Workflow(path="Sciflowfile")
    b = WorkflowBuilder(wf)
    b.add_rule("count", SourceLoc("Sciflowfile", 1, 1),
               input=((), {"txt": "data/{s}.txt"}), output=(("counts/{s}.txt",), {}),
               params=((), {"factor": 2, "label": "n"}),
               action=Action("shell", "wc -l {input.txt} > {output}", SourceLoc("Sciflowfile", 5, 5)))
    b.add_rule("summary", SourceLoc("Sciflowfile", 7, 1),
               input=(("counts/a.txt", "counts/b.txt"), {}), output=(("results/summary.txt",), {}),
               params=((), {"title": "t", "cols": [1, 2]}),
               action=Action("run", "with open(output[0], 'w') as f: ...", SourceLoc("Sciflowfile", 11, 5)))
    b.add_rule("cube", SourceLoc("Sciflowfile", 14, 1),
               input=(("results/summary.txt",), {}), output=(("results/cube.h5",), {}),
               params=((), {"scale": 0.5}),
               action=Action("script", "scripts/cube.py", SourceLoc("Sciflowfile", 18, 5)))
    return wf


def make_jobs(wf: Workflow, factor: int = 2) -> list[Job]:
    count, summary, cube = wf.rules["count"], wf.rules["summary"], wf.rules["cube"]
    jobs = []
    for i, s in enumerate("ab"):
        jobs.append(Job(i, count, Wildcards({"s": s}), NamedList((), {"txt": f"data/{s}.txt"}),
                        NamedList([f"counts/{s}.txt"]),
                        params=NamedList((), {"factor": factor, "label": "n"}), threads=1))
    jobs.append(Job(2, summary, Wildcards(), NamedList(["counts/a.txt", "counts/b.txt"]),
                    NamedList(["results/summary.txt"]),
                    params=NamedList((), {"title": "t", "cols": [1, 2]}), threads=2,
                    resources={"mem_mb": 100}))
    jobs.append(Job(3, cube, Wildcards(), NamedList(["results/summary.txt"]),
                    NamedList(["results/cube.h5"]), params=NamedList((), {"scale": 0.5})))
    return jobs


def execute(job: Job, workdir: Path) -> str:
    """Does what the rule says, for real; returns the command text."""
    out = workdir / job.output[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    if job.rule.name == "count":
        n = len((workdir / job.input.txt).read_text().splitlines())
        out.write_text(f"{n * job.params.factor}\n")
        return f"wc -l {job.input.txt} > {job.output[0]}"
    if job.rule.name == "summary":
        total = sum(int((workdir / p).read_text()) for p in job.input)
        out.write_text(f"{job.params.title} {total}\n")
        return "python run: block"
    import h5py
    import numpy as np

    total = int((workdir / job.input[0]).read_text().split()[1])
    with h5py.File(out, "w") as fh:
        ds = fh.create_dataset("temperature", data=np.full((2, 3), total * job.params.scale))
        ds.attrs["units"] = "K"
    return str(workdir / "scripts/cube.py")  # a script job's command: the resolved script


CUBE_SCRIPT = "import h5py\nimport numpy as np\n# writes results/cube.h5\n"


def write_raw(workdir: Path) -> None:
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    (workdir / "data/a.txt").write_text("1\n2\n3\n")
    (workdir / "data/b.txt").write_text("x\ny\n")


def run_golden(workdir: Path, run_id: str, factor: int = 2, only: set[int] | None = None,
               recorder: ProvenanceRecorder | None = None, stop_after: int | None = None,
               on_job_recorded=None) -> RunInfo:
    """Runs the golden workflow in ``workdir`` as a run named ``run_id``."""
    workdir = Path(workdir).resolve()
    if not (workdir / "data/a.txt").exists():
        write_raw(workdir)
    (workdir / "scripts").mkdir(exist_ok=True)
    (workdir / "scripts/cube.py").write_text(CUBE_SCRIPT)
    wf = make_workflow(workdir)
    jobs = [j for j in make_jobs(wf, factor) if only is None or j.jobid in only]
    run = RunInfo(run_id=run_id, workdir=str(workdir), workflow_path="Sciflowfile",
                  started=datetime.now(timezone.utc), command_line=["sciflow", "run"],
                  config={"factor": factor}, user="alice", host="node1", workflow=wf)
    rec = recorder or ProvenanceRecorder(workdir)
    rec.run_started(run, jobs)
    for n, job in enumerate(jobs):
        if stop_after is not None and n >= stop_after:
            return run
        rec.job_started(run, job)
        started = datetime.now(timezone.utc)
        command = execute(job, workdir)
        time.sleep(0.002)
        result = JobResult(jobid=job.jobid, ok=True, started=started, ended=datetime.now(timezone.utc),
                           command=command, host="node1", worker="tcp://127.0.0.1:4000",
                           software={"numpy": "1.0", "h5py": "3.16.0"})
        rec.job_finished(run, job, result)
        if on_job_recorded:  # the job is in the journal now: it survives a crash (journal.py)
            on_job_recorded(job)
    run.ended = datetime.now(timezone.utc)
    rec.run_finished(run, True)
    return run


@contextlib.contextmanager
def killed_after_two_jobs(argv: list[str]) -> Iterator[None]:
    """Start ``argv`` (a process recording two jobs of the golden workflow, then printing
    "waiting" and sleeping), wait until it has said so, run the body, then SIGKILL it."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("waiting"):
                break
        assert lines == ["recorded 0", "recorded 1", "waiting"]
        yield
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL


if __name__ == "__main__":  # a process the kill test SIGKILLs mid-run
    import sys

    target = Path(sys.argv[1])
    run_golden(target, "killed-run", stop_after=int(sys.argv[2]),
               on_job_recorded=lambda job: print(f"recorded {job.jobid}", flush=True))
    print("waiting", flush=True)
    time.sleep(600)
    os._exit(0)


def two_runs(workdir: Path) -> Path:
    """The store most read-side tests share: run ``r1`` and run ``r2`` (factor=3, so the
    counts, the summary and the cube change while the raw inputs stay) recorded in ``workdir``."""
    run_golden(workdir, "r1")
    run_golden(workdir, "r2", factor=3)
    return workdir
