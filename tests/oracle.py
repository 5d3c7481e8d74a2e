"""The one Snakemake oracle helper of the tests: Snakemake run in a folder, and its dry run's
jobs per rule (every differential test, in tests/compat, tests/dag, tests/execute and the golden
cases, runs Snakemake and reads its "Job stats" through here)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SNAKEMAKE = Path(sys.executable).with_name("snakemake")
"""The oracle: the Snakemake installed next to the interpreter running the tests (dev extra)."""

needs_snakemake = pytest.mark.skipif(not SNAKEMAKE.exists(),
                                     reason="snakemake (the oracle) is not installed")


def snakemake(cwd: str | Path, *args: str, check: bool = True, timeout: float = 300,
              **kwargs) -> subprocess.CompletedProcess:
    """Snakemake's command line ``args`` run in ``cwd``, output captured as text; with
    ``check`` (the default) its exit status must be 0 (the failure shows its output)."""
    res = subprocess.run([str(SNAKEMAKE), *map(str, args)], cwd=cwd, capture_output=True,
                         text=True, timeout=timeout, **kwargs)
    if check:
        assert res.returncode == 0, res.stdout + res.stderr
    return res


def dry_run_counts(cwd: str | Path, *args: str, cores: int = 1, timeout: float = 300
                   ) -> dict[str, int]:
    """Jobs per rule that Snakemake would run in ``cwd`` (``-n``; ``args``: more flags, targets)."""
    res = snakemake(cwd, "-n", "--cores", str(cores), *args, timeout=timeout)
    return job_stats(res.stdout + res.stderr)


def job_stats(text: str) -> dict[str, int]:
    """Jobs per rule from the "Job stats" table of a Snakemake dry run's output ({} when
    Snakemake has nothing to do)."""
    if "Job stats:" not in text:
        assert "Nothing to be done" in text, text
        return {}
    counts = {}
    for line in text.split("Job stats:", 1)[1].splitlines()[3:]:
        m = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if not m:
            break
        if m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts
