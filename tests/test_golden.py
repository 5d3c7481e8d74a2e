"""Golden workflows: every case in tests/workflows/ run by sciflow must leave exactly the files
Snakemake left (``expected/``, made by Snakemake itself: ``python tests/golden.py``).

Each case runs on the local Dask cluster and on an external ``dask scheduler`` + workers;
a small subset also runs on a real single-node SLURM through dask-jobqueue.
"""
from __future__ import annotations

import os
import stat

import pytest

from golden import EXAMPLES_DIR, case_names, load_case


CASES = case_names()
SLURM_CASES = {"run_blocks", "script"}  # a job in a fresh SLURM worker that re-loads the file


def _params():
    for case in CASES:
        yield pytest.param(case, "local", id=f"{case}-local")
        yield pytest.param(case, "external", id=f"{case}-external")
        if case in SLURM_CASES:
            yield pytest.param(case, "slurm", id=f"{case}-slurm", marks=pytest.mark.slurm)


@pytest.mark.parametrize("case,executor", list(_params()), indirect=["executor"])
def test_golden_case(case, executor, tmp_path, request):
    from golden import run_case

    run = run_case(case, executor, tmp_path)
    assert run.summary.ok, f"sciflow run of {case} failed: {run.summary}"
    problems = run.problems()
    assert not problems, f"{case}: outputs differ from Snakemake's:\n" + "\n".join(problems)

    if case == "flags":  # protected() is read-only, as Snakemake leaves it
        mode = os.stat(run.workdir / "final/result.txt").st_mode
        assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if case == "log_benchmark":  # a benchmark TSV with Snakemake's columns
        header = (run.workdir / "bench/x.tsv").read_text().splitlines()[0].split("\t")
        assert header[0] == "s" and "max_rss" in header
    if executor.get("scheduler") is None and executor.get("cluster") is None:
        # Provenance of every golden run satisfies the SHACL shapes of the contract.
        from sciflow.provenance import open as open_provenance
        from sciflow.provenance.shapes import validate

        reports = validate(open_provenance(run.workdir))
        assert reports, "no provenance recorded"
        bad = [r for r in reports if not r.conforms]
        assert not bad, bad[0].text
    if executor.get("cluster") == "slurm":  # every job really ran inside a SLURM batch job
        assert run.summary.results
        assert all(r.batch_system == "slurm" and (r.batch_job_id or "").isdigit() for r in run.summary.results.values())
    if "scheduler" in executor:  # an external cluster is left running, workers intact
        from distributed import Client

        with Client(executor["scheduler"], timeout=10) as client:
            assert len(client.scheduler_info()["workers"]) == 2


def test_every_case_has_expected_outputs():
    """A case without ``expected/`` would compare nothing; regenerate with tests/golden.py."""
    for name in CASES:
        case = load_case(name)
        assert case.expected.is_dir() and any(case.expected.rglob("*")), name


@pytest.mark.parametrize("example", case_names(EXAMPLES_DIR))
def test_example_workflow_runs_quickly(example, tmp_path):
    """workflows/<example> runs end to end on the local cluster in well under 2 minutes (a
    few seconds alone; the bound catches hangs, not slowness: on a shared 2-core machine
    the same run took 35 s, and benchmarks/ measure time)."""
    import time

    from golden import copy_case, run_sciflow

    case = load_case(example, EXAMPLES_DIR)
    work = copy_case(case, tmp_path / example)
    start = time.monotonic()
    summary = run_sciflow(work, cores=2)
    elapsed = time.monotonic() - start
    assert summary.ok
    final = {"climate": "results/report.txt", "genomics": "results/samples.tsv"}.get(example)
    if final:
        assert (work / final).stat().st_size > 0
    assert elapsed < 120, f"{example} took {elapsed:.1f} s"
