"""Differential test: sciflow reads the same rules as Snakemake from every corpus file: names,
input/output patterns, and the other directives (log, params, threads, resources, priority,
retries, docstring, message, benchmark, conda, container)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sciflow.parse import load_workflow
from sciflow.wildcards import apply_wildcards, wildcard_names

CORPUS = Path(__file__).parent / "corpus"
ORACLE = Path(__file__).parent / "snakemake_oracle.py"
CASES = sorted(p.name for p in CORPUS.glob("*.smk")) + ["includes/Snakefile"]


def _plain(pattern: str) -> str:
    """The pattern without inline wildcard constraints (Snakemake adds rule-level ones)."""
    return apply_wildcards(pattern, {n: "{" + n + "}" for n in wildcard_names(pattern)}) \
        if "{" in pattern else pattern


def _value(value):
    if callable(value):
        return "<function>"
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    return value if isinstance(value, (int, float, bool, type(None))) else str(value)


def _details(r) -> dict:
    return {
        "log": [str(f) for f in r.log], "log_names": r.log.keys(),
        "params": [_value(p) for p in r.params], "param_names": r.params.keys(),
        "threads": _value(r.threads),
        "resources": {k: _value(v) for k, v in r.resources.items()},
        "priority": r.priority, "retries": r.retries, "docstring": r.docstring,
        "message": r.message, "benchmark": r.benchmark, "conda": r.conda,
        "container": r.container,
    }


def _ours(path: Path) -> list[dict]:
    wf = load_workflow(path.name)
    return [{"name": r.name, "checkpoint": r.checkpoint,
             "input": [_plain(str(f)) for f in r.input if isinstance(f, str)],
             "output": [_plain(str(f)) for f in r.output],
             "details": _details(r)} for r in wf]


@pytest.mark.snakemake
@pytest.mark.parametrize("case", CASES)
def test_same_rules_as_snakemake(case, tmp_path, monkeypatch):
    pytest.importorskip("snakemake")
    work = tmp_path / "wf"
    shutil.copytree(CORPUS, work)
    path = work / case
    monkeypatch.chdir(path.parent)
    result = subprocess.run([sys.executable, str(ORACLE), path.name], capture_output=True,
                            text=True, timeout=120, cwd=path.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    theirs = json.loads(result.stdout.strip().splitlines()[-1])["rules"]
    ours = _ours(path)
    assert [r["name"] for r in ours] == [r["name"] for r in theirs]
    for mine, other in zip(ours, theirs):
        assert mine == other, mine["name"]
