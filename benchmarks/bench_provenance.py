"""Provenance benchmarks: recording cost per job, and lineage time on a long chain.

    python benchmarks/bench_provenance.py                  # 10,000-job chain (recorder only)
    python benchmarks/bench_provenance.py --jobs 2000
    python benchmarks/bench_provenance.py --engine 1000    # + a real run with/without provenance

1. A chain of N jobs (job i reads f{i-1}.txt, writes f{i}.txt, has two params) is driven
   through the real ``ProvenanceRecorder`` (real files, real sha256, real Oxigraph store).
   Reported: the recorder's time per job (job_started + job_finished hooks), triples per job.
2. The lineage of the chain's last file (N hops back to the raw input) from a freshly opened
   store: ``Provenance.lineage`` (a DataFrame; pandas imported beforehand, as in any program
   that asks for DataFrames), the command ``sciflow prov lineage`` (tree and ``--format json``,
   each a fresh process) and the portable named query ``lineage.rq``. Target for the API and
   the command: < 0.5 s wall for N = 10,000 (issue 9).
3. ``--engine N``: N trivial independent jobs run by the real engine twice, with and without
   provenance (target: <= 10% extra wall time).
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path


def build_chain(workdir: Path, n: int) -> tuple[float, int]:
    """Records an N-job chain; returns (recorder seconds per job, quads in the store)."""
    from sciflow.events import JobResult, RunInfo
    from sciflow.jobs import Job
    from sciflow.model import Action, NamedList, SourceLoc, Wildcards, Workflow, WorkflowBuilder
    from sciflow.provenance.record import ProvenanceRecorder

    (workdir / "Sciflowfile").write_text("rule step: ...\n")
    wf = Workflow(path="Sciflowfile")
    rule = WorkflowBuilder(wf).add_rule(
        "step", SourceLoc("Sciflowfile", 1, 1), input=(("f{i}.txt",), {}), output=(("f{j}.txt",), {}),
        action=Action("shell", "cp {input} {output}", SourceLoc("Sciflowfile", 2, 5)))
    (workdir / "f0.txt").write_text("raw\n")
    jobs = [Job(i, rule, Wildcards({"i": str(i - 1)}), NamedList([f"f{i - 1}.txt"]), NamedList([f"f{i}.txt"]),
                params=NamedList((), {"k": i % 7, "mode": "fast"})) for i in range(1, n + 1)]
    run = RunInfo("bench", str(workdir), "Sciflowfile", datetime.now(timezone.utc), workflow=wf,
                  command_line=["bench"], user="bench", host="bench")
    rec = ProvenanceRecorder(workdir, background=os.environ.get("SCIFLOW_PROV_SYNC") != "1")
    rec.run_started(run, jobs)
    spent = 0.0
    for job in jobs:
        t0 = time.perf_counter()
        rec.job_started(run, job)
        spent += time.perf_counter() - t0
        start = datetime.now(timezone.utc)
        (workdir / job.output[0]).write_text(f"{job.jobid}\n")
        result = JobResult(job.jobid, True, start, datetime.now(timezone.utc), command="cp",
                           host="bench", worker="tcp://127.0.0.1:1")
        t0 = time.perf_counter()
        rec.job_finished(run, job, result)
        spent += time.perf_counter() - t0
    rec.run_finished(run, True)
    import pyoxigraph as ox

    from sciflow.provenance.store import store_path

    quads = len(ox.Store.read_only(str(store_path(workdir))))
    return spent / n, quads


def time_lineage(workdir: Path, target: str, named: bool = False) -> tuple[float, float, float, int]:
    """(seconds to open the store, wall and CPU seconds of the lineage, rows). ``named`` runs
    the portable ``lineage.rq`` instead of ``Provenance.lineage``'s plan. CPU time is reported
    because on a shared machine the wall time mostly measures other people's load."""
    import importlib

    import sciflow.provenance as sp

    importlib.import_module("pandas")  # a DataFrame user has it loaded: its import is not lineage

    t0 = time.perf_counter()
    p = sp.open(workdir)
    t1 = time.perf_counter()
    c1 = time.process_time()
    lin = p.run_named("lineage", {"path": target}) if named else p.lineage(target)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, time.process_time() - c1, len(lin)


def time_command(workdir: Path, argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``sciflow ARGV -d WORKDIR`` as a fresh process, output discarded."""
    import resource
    import subprocess
    import sys

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "sciflow", *argv, "-d", str(workdir)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode:
        raise SystemExit(f"sciflow {' '.join(argv)} failed:\n{res.stderr[-2000:]}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def bytecode_ready() -> None:
    """Compile sciflow to bytecode first, as ``pip install`` does (see run.py): with
    PYTHONDONTWRITEBYTECODE=1 an editable checkout compiles its modules in every command."""
    import compileall

    import sciflow

    compileall.compile_dir(str(Path(sciflow.__file__).parent), quiet=1)


def engine_overhead(n: int, cores: int, repeats: int = 2) -> tuple[list[float], list[float]]:
    """Wall seconds of N trivial jobs through the engine, with and without provenance: one
    discarded warm-up run, then the two variants alternated ``repeats`` times."""
    from sciflow.engine import RunOptions, run

    text = (f"rule all:\n    input: expand('out/{{i}}.txt', i=range({n}))\n\n"
            "rule one:\n    output: 'out/{i}.txt'\n    params: k=1\n    shell: 'echo {wildcards.i} > {output}'\n")

    def once(provenance: bool) -> float:
        d = Path(tempfile.mkdtemp(prefix="bench-eng-"))
        (d / "Sciflowfile").write_text(text)
        t0 = time.perf_counter()
        run(RunOptions(directory=str(d), snakefile="Sciflowfile", cores=cores, provenance=provenance))
        elapsed = time.perf_counter() - t0
        shutil.rmtree(d, ignore_errors=True)
        return elapsed

    once(False)  # warm-up: imports, first cluster start
    with_p, without = [], []
    for _ in range(repeats):
        without.append(once(False))
        with_p.append(once(True))
    return with_p, without


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=10_000, help="length of the recorded chain")
    ap.add_argument("--engine", type=int, default=0, metavar="N",
                    help="also run N trivial jobs through the engine with/without provenance")
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-prov-"))
    try:
        t0 = time.perf_counter()
        per_job, quads = build_chain(work, args.jobs)
        total = time.perf_counter() - t0
        print(f"chain of {args.jobs} jobs recorded in {total:.1f} s wall; recorder {per_job * 1e3:.2f} ms/job; "
              f"{quads} quads ({quads / args.jobs:.0f} per job)")
        for attempt, named in ((1, False), (2, False), (3, True)):
            t_open, t_query, cpu, rows = time_lineage(work, f"f{args.jobs}.txt", named)
            what = "named query lineage.rq" if named else "Provenance.lineage"
            print(f"{what} of f{args.jobs}.txt ({rows} rows, {args.jobs} hops), try {attempt}: "
                  f"open {t_open * 1e3:.0f} ms + lineage {t_query * 1e3:.0f} ms wall "
                  f"({cpu * 1e3:.0f} ms CPU)" + ("" if named else " (target < 0.5 s)"))
        bytecode_ready()
        for fmt in ([], ["--format", "json"]):
            for attempt in (1, 2):
                wall, cpu = time_command(work, ["prov", "lineage", f"f{args.jobs}.txt", *fmt])
                print(f"sciflow prov lineage f{args.jobs}.txt {' '.join(fmt) or '(tree)'}, try {attempt}: "
                      f"{wall:.2f} s wall ({cpu:.2f} s CPU) (target < 0.5 s)")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        if args.engine:
            with_p, without = engine_overhead(args.engine, args.cores)
            best_with, best_without = min(with_p), min(without)
            print(f"engine, {args.engine} trivial jobs, {args.cores} cores: with provenance "
                  f"{', '.join(f'{t:.1f}' for t in with_p)} s, without {', '.join(f'{t:.1f}' for t in without)} s; "
                  f"best-of overhead {100 * (best_with - best_without) / best_without:+.1f}% "
                  f"(load average {os.getloadavg()[0]:.1f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
