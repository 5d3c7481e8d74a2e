"""Differential tests against Snakemake, the oracle: on every golden case both tools, run side
by side in separate copies, must plan the same number of jobs per rule (dry run), leave the
same files with the same content, and then both find nothing left to do.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from golden import SNAKEMAKE, Case, case_names, compare_outputs, copy_case, load_case, run_snakemake

pytestmark = pytest.mark.snakemake
SCIFLOW = Path(sys.executable).parent / "sciflow"


def snakemake_counts(case: Case, workdir: Path) -> Counter:
    """Jobs per rule from ``snakemake -n``'s "Job stats" table (empty when nothing to do)."""
    res = run_snakemake(case, workdir, "-n")
    assert res.returncode == 0, res.stdout + res.stderr
    text = res.stdout + res.stderr
    if "Job stats:" not in text:
        assert "Nothing to be done" in text, text
        return Counter()
    table = text.split("Job stats:", 1)[1].splitlines()
    counts: Counter = Counter()
    for line in table[3:]:  # header, dashes
        m = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if not m or m.group(1) == "total":
            break
        counts[m.group(1)] = int(m.group(2))
    return counts


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
    pytest.importorskip("sciflow.engine")


@pytest.mark.parametrize("name", case_names())
def test_same_plan_and_outputs_as_snakemake(name, tmp_path):
    case = load_case(name)
    sm = copy_case(case, tmp_path / "snakemake")
    sf = copy_case(case, tmp_path / "sciflow")

    want, got = snakemake_counts(case, sm), sciflow_counts(case, sf)
    assert got == want, f"dry-run jobs per rule differ: snakemake {dict(want)}, sciflow {dict(got)}"

    res = run_snakemake(case, sm)
    assert res.returncode == 0, res.stderr
    res = subprocess.run(sciflow_args(case), cwd=sf, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    problems = compare_outputs(case, sf, reference=sm)
    assert not problems, "outputs differ from Snakemake's:\n" + "\n".join(problems)

    # And both agree that nothing is left to do.
    assert snakemake_counts(case, sm) == Counter()
    assert sciflow_counts(case, sf) == Counter()


def _examples():
    from golden import EXAMPLES_DIR

    for name in case_names(EXAMPLES_DIR):
        # Snakemake needs ~25 s on the climate example (an interpreter per run: job).
        marks = [pytest.mark.slow] if name == "climate" else []
        yield pytest.param(name, id=f"example-{name}", marks=marks)


@pytest.mark.parametrize("name", list(_examples()))
def test_example_workflow_same_as_snakemake(name, tmp_path):
    """The example workflows in workflows/ give Snakemake's files, byte for byte."""
    from golden import EXAMPLES_DIR

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
