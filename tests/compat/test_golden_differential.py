"""Differential tests against Snakemake, the oracle: on every golden case both tools, run side
by side in separate copies, must plan the same number of jobs per rule (dry run), leave the
same files with the same content, and then both find nothing left to do.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from oracle import SNAKEMAKE
from golden import (CASES_DIR, EXAMPLES_DIR, Case, case_names, compare_outputs, copy_case,
                    load_case, run_snakemake, snakemake_counts as plan_of_snakemake)

pytestmark = pytest.mark.snakemake
SCIFLOW = Path(sys.executable).parent / "sciflow"


def snakemake_counts(case: Case, workdir: Path) -> Counter:
    return Counter(plan_of_snakemake(case, workdir))


def sciflow_args(case: Case, *extra: str) -> list[str]:
    args = [str(SCIFLOW), "run", "-s", "Snakefile", "-c", str(case.cores), *extra, *case.targets]
    if case.config:
        args += ["--config", *(f"{k}={v}" for k, v in case.config.items())]
    return args


def sciflow_counts(case: Case, workdir: Path) -> Counter:
    """Jobs per rule from ``sciflow run -n --json``."""
    res = subprocess.run(sciflow_args(case, "-n", "--json"), cwd=workdir, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    return Counter(job["rule"] for job in json.loads(res.stdout)["jobs"])


@pytest.fixture(scope="module", autouse=True)
def _tools_present():
    if not SNAKEMAKE.exists():
        pytest.skip("snakemake (the oracle, a dev dependency) is not installed in the venv")
    if not SCIFLOW.exists():
        pytest.skip("the sciflow console script is not installed in the venv")


PLAN_CASES = [pytest.param(CASES_DIR, n, id=n) for n in case_names()] + [
    pytest.param(EXAMPLES_DIR, n, id=f"example-{n}") for n in case_names(EXAMPLES_DIR)]


@pytest.mark.parametrize("root,name", PLAN_CASES)
def test_same_plan_as_snakemake(root, name, tmp_path):
    """Dry run: the same jobs per rule (fast; part of the default suite)."""
    case = load_case(name, root)
    want = snakemake_counts(case, copy_case(case, tmp_path / "snakemake"))
    got = sciflow_counts(case, copy_case(case, tmp_path / "sciflow"))
    assert got == want, f"dry-run jobs per rule differ: snakemake {dict(want)}, sciflow {dict(got)}"


@pytest.mark.slow  # Snakemake starts an interpreter per run: job: minutes for all cases
@pytest.mark.parametrize("name", case_names())
def test_same_outputs_as_snakemake(name, tmp_path):
    """Both tools run the case side by side: same files, then both find nothing to do.
    (The default suite compares against Snakemake's committed outputs: test_golden.py.)"""
    case = load_case(name)
    sm = copy_case(case, tmp_path / "snakemake")
    sf = copy_case(case, tmp_path / "sciflow")
    res = run_snakemake(case, sm)
    assert res.returncode == 0, res.stderr
    res = subprocess.run(sciflow_args(case), cwd=sf, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    problems = compare_outputs(case, sf, reference=sm)
    assert not problems, "outputs differ from Snakemake's:\n" + "\n".join(problems)
    assert snakemake_counts(case, sm) == Counter()
    assert sciflow_counts(case, sf) == Counter()


def _examples():
    for name in case_names(EXAMPLES_DIR):
        # Snakemake needs 10-40 s per example (an interpreter per run: job).
        yield pytest.param(name, id=f"example-{name}", marks=[pytest.mark.slow])


@pytest.mark.parametrize("name", list(_examples()))
def test_example_workflow_same_as_snakemake(name, tmp_path):
    """The example workflows in workflows/ give Snakemake's files, byte for byte."""
    case = load_case(name, EXAMPLES_DIR)
    sm = copy_case(case, tmp_path / "snakemake")
    sf = copy_case(case, tmp_path / "sciflow")
    assert sciflow_counts(case, sf) == snakemake_counts(case, sm)
    res = run_snakemake(case, sm)
    assert res.returncode == 0, res.stderr
    res = subprocess.run(sciflow_args(case), cwd=sf, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    problems = compare_outputs(case, sf, reference=sm)
    assert not problems, "outputs differ from Snakemake's:\n" + "\n".join(problems)
