"""The parse benchmark script runs end to end (small size; the real run is 5,000 rules)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_parse.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_parse", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_file_loads_with_every_rule(tmp_path, monkeypatch):
    from sciflow.parse import load_workflow
    bench = _load()
    (tmp_path / "Snakefile").write_text(bench.generate(30))
    monkeypatch.chdir(tmp_path)
    wf = load_workflow("Snakefile")
    assert len(wf.rules) == 31
    assert wf.rules["r7"].params.k == 7


@pytest.mark.slow
@pytest.mark.snakemake
def test_benchmark_compares_with_snakemake(capsys):
    bench = _load()
    assert bench.main(["--rules", "20"]) == 0
    out = capsys.readouterr().out
    assert "sciflow:" in out and "(21 rules)" in out and "ratio snakemake/sciflow" in out
