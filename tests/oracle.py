"""The one Snakemake oracle helper of the tests: its dry run's jobs per rule (every differential
test, in tests/compat, tests/dag and the golden cases, reads Snakemake's "Job stats" through it)."""
from __future__ import annotations

import re


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
