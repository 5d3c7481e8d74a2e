"""Snakemake 9 ``pathvars``: ``<name>`` placeholders in input/output/log/benchmark paths and in
what input functions return; values from the rule, the config, the workflow, the defaults
(in that order); ``use rule ... with: pathvars:``. Expected paths are Snakemake's (its
test_pathvars case; the slow test compares with Snakemake itself)."""
from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import pytest

from oracle import SNAKEMAKE
from sciflow.errors import RuleError, WorkflowError
from sciflow.parse import load_workflow

SCIFLOW = pathlib.Path(sys.executable).with_name("sciflow")

SNAKEFILE = """
    pathvars:
        results="results/custom",
        per="{sample}",
        nested="<per>",

    rule all:
        input:
            collect("<results>/b/{sample}.{ext}", sample=["s1", "s2"], ext=["txt", "csv"])

    rule a:
        output:
            "<results>/a/<per>.txt"
        log: "<logs>/a/<per>.log"
        shell:
            "touch {output} {log}"

    def infunc(wildcards):
        return "<resources>/<resname>.2.txt"

    rule b:
        input:
            "<results>/a/<per>.txt",
            "<resources>/<resname>.txt",
            infunc,
        output:
            "<results>/b/<nested>.txt"
        pathvars:
            resname="test"
        shell:
            "echo {input} > {output}"

    use rule b as c with:
        output:
            "<results>/b/<nested>.csv"
        pathvars:
            resname="test2"
"""
RESOURCES = ("test.txt", "test.2.txt", "test2.txt", "test2.2.txt")


def make(root: pathlib.Path) -> pathlib.Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Snakefile").write_text(textwrap.dedent(SNAKEFILE).lstrip())
    (root / "resources").mkdir()
    for name in RESOURCES:
        (root / "resources" / name).write_text("")
    return root


def test_pathvars_on_the_model(tmp_path, monkeypatch):
    monkeypatch.chdir(make(tmp_path))
    wf = load_workflow("Snakefile")
    assert list(wf.rules["all"].input) == [f"results/custom/b/{s}.{e}" for s in ("s1", "s2")
                                           for e in ("txt", "csv")]
    assert list(wf.rules["a"].output) == ["results/custom/a/{sample}.txt"]
    assert list(wf.rules["a"].log) == ["logs/a/{sample}.log"]
    b, c = wf.rules["b"], wf.rules["c"]
    assert list(b.input)[:2] == ["results/custom/a/{sample}.txt", "resources/test.txt"]
    assert list(c.input)[:2] == ["results/custom/a/{sample}.txt", "resources/test2.txt"]
    assert list(b.output) == ["results/custom/b/{sample}.txt"]
    assert list(c.output) == ["results/custom/b/{sample}.csv"]
    assert b.input[2]({}) == "resources/test.2.txt"      # input function results too
    assert c.input[2]({}) == "resources/test2.2.txt"


def test_pathvars_run_gives_snakemakes_files(tmp_path):
    work = make(tmp_path)
    res = subprocess.run([str(SCIFLOW), "run", "-c", "1"], cwd=work, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert (work / "results/custom/b/s1.txt").read_text() == \
        "results/custom/a/s1.txt resources/test.txt resources/test.2.txt\n"
    assert (work / "results/custom/b/s2.csv").read_text() == \
        "results/custom/a/s2.txt resources/test2.txt resources/test2.2.txt\n"


def test_config_pathvars_win_over_the_workflow_and_rule_over_config(tmp_path, monkeypatch):
    (tmp_path / "c.yaml").write_text("pathvars:\n  results: from_config\n  logs: cfg_logs\n")
    (tmp_path / "Snakefile").write_text(textwrap.dedent("""
        configfile: "c.yaml"
        pathvars:
            results="from_workflow"
        rule a:
            output: "<results>/a.txt"
            log: "<logs>/a.log"
            benchmark: "<benchmarks>/a.tsv"
        rule b:
            output: "<results>/b.txt"
            pathvars: results="from_rule"
    """).lstrip())
    monkeypatch.chdir(tmp_path)
    wf = load_workflow("Snakefile")
    assert list(wf.rules["a"].output) == ["from_config/a.txt"]
    assert list(wf.rules["a"].log) == ["cfg_logs/a.log"]
    assert wf.rules["a"].benchmark == "benchmarks/a.tsv"
    assert list(wf.rules["b"].output) == ["from_rule/b.txt"]


def test_flags_are_kept(tmp_path, monkeypatch):
    (tmp_path / "Snakefile").write_text('rule a:\n    output: temp("<results>/a.txt")\n')
    monkeypatch.chdir(tmp_path)
    out = load_workflow("Snakefile").rules["a"].output[0]
    assert out == "results/a.txt" and out.is_flagged("temp")


def test_undefined_pathvar_is_an_error_at_the_directive(tmp_path, monkeypatch):
    (tmp_path / "Snakefile").write_text('rule a:\n    output: "<nowhere>/a.txt"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuleError, match="undefined pathvar '<nowhere>'") as err:
        load_workflow("Snakefile")
    assert (err.value.loc.line, err.value.loc.col) == (2, 5)


def test_cyclic_and_invalid_pathvars_are_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Snakefile").write_text('pathvars:\n    x="<y>", y="<x>"\n')
    with pytest.raises(WorkflowError, match="cyclic pathvars"):
        load_workflow("Snakefile")
    (tmp_path / "Snakefile").write_text('pathvars:\n    Bad="x"\n')
    with pytest.raises(WorkflowError, match="Invalid: Bad='x'"):
        load_workflow("Snakefile")


@pytest.mark.slow
@pytest.mark.snakemake
def test_pathvars_same_files_as_snakemake(tmp_path):
    pytest.importorskip("snakemake")
    found = {}
    for tool in (SNAKEMAKE, SCIFLOW):
        work = make(tmp_path / tool.name)
        argv = [str(tool), "-c", "1"] if tool == SNAKEMAKE else [str(tool), "run", "-c", "1"]
        res = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        found[tool.name] = {str(p.relative_to(work)): p.read_text()
                            for p in sorted((work / "results").rglob("*")) if p.is_file()}
        found[tool.name].update({str(p.relative_to(work)): "" for p in (work / "logs").rglob("*")
                                 if p.is_file()})
    assert found["sciflow"] == found["snakemake"]
