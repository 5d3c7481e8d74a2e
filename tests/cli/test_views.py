"""``sciflow run`` views that run nothing: ``-l``, ``-S``, ``-D``, ``--list-changes``,
``--dag``/``--rulegraph``, ``--report``, ``-n -q``. Summaries and rule lists are compared with
Snakemake's output on the same workflow (each tool in its own copy), dates aside."""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

import oracle
from oracle import SNAKEMAKE
from sciflow.cli import main

SCIFLOW = Path(sys.executable).parent / "sciflow"

SNAKEFILE = '''
rule all:
    input: "c.txt"

rule a:
    """first step"""
    output: "a.txt"
    params: p=1
    shell: "echo {params.p} > {output}"

rule b:
    input: "a.txt"
    output: "b.txt"
    log: "logs/b.log"
    shell: "cat {input} > {output}; echo hi > {log}"

rule c:
    input: "b.txt"
    output: "c.txt"
    shell: "cat {input} > {output}"
'''


def sciflow(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    res = subprocess.run([str(SCIFLOW), "run", *args], cwd=cwd, capture_output=True, text=True,
                         timeout=180)
    assert res.returncode == 0, res.stderr
    return res


def view(cwd: Path, *args: str) -> str:
    """A view that runs nothing, in-process (no interpreter start-up): its stdout."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", "-d", str(cwd), *args])
    assert code == 0, err.getvalue()
    return out.getvalue()


snakemake = oracle.snakemake


def table(text: str) -> list[list[str]]:
    """Tab-separated rows without the date column (index 1)."""
    rows = [line.split("\t") for line in text.splitlines() if "\t" in line]
    return [row[:1] + row[2:] for row in rows]


@pytest.fixture
def pair(tmp_path):
    """The workflow run to completion by each tool in its own folder."""
    if not SNAKEMAKE.exists():
        pytest.skip("snakemake (the oracle) is not installed")
    dirs = {}
    for tool in ("sm", "sf"):
        d = tmp_path / tool
        d.mkdir()
        (d / "Snakefile").write_text(SNAKEFILE)
        dirs[tool] = d
    snakemake(dirs["sm"], "-c1", "-q")
    sciflow(dirs["sf"], "-c1", "-q")
    return dirs["sm"], dirs["sf"]


def edit(*dirs: Path, old: str, new: str) -> None:
    for d in dirs:
        path = d / "Snakefile"
        path.write_text(path.read_text().replace(old, new))


@pytest.mark.snakemake
def test_summary_detailed_summary_and_list_changes_match_snakemake(pair):
    sm, sf = pair
    for flag in ("-S", "-D"):
        ours = table(view(sf, flag))
        assert ours == table(snakemake(sm, flag).stdout)
        assert ours[0][:2] == ["output_file", "rule"] and len(ours) == 4
    # a changed rule, a changed param, a missing intermediate: statuses and plans
    edit(sm, sf, old='cat {input} > {output}"', new='cat {input} {input} > {output}"')
    edit(sm, sf, old="p=1", new="p=2")
    edit(sm, sf, old='input: "b.txt"', new='input: "b.txt", "a.txt"')
    (sm / "b.txt").unlink()
    (sf / "b.txt").unlink()
    ours = table(view(sf, "-D"))
    assert ours == table(snakemake(sm, "-D").stdout)
    statuses = {row[0]: row[-2:] for row in ours}
    assert statuses == {"output_file": ["status", "plan"],
                        "c.txt": ["rule implementation changed", "update pending"],
                        "b.txt": ["missing", "update pending"],
                        "a.txt": ["params changed", "update pending"]}
    for kind in ("code", "input"):
        ours = view(sf, "--list-changes", kind).split()
        assert ours == snakemake(sm, "--list-changes", kind).stdout.split() == ["c.txt"]
    assert view(sf, "--li").split() == ["c.txt"]


def test_list_changes_params_lists_only_changed_params(tmp_path):
    # (Snakemake 9.27 lists every file for ``params``, changed or not; we list the changed.)
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    sciflow(tmp_path, "-c1", "-q")
    assert view(tmp_path, "--list-changes", "params").split() == []
    edit(tmp_path, old="p=1", new="p=2")
    assert view(tmp_path, "--list-changes", "params").split() == ["a.txt"]
    assert view(tmp_path, "--lp").split() == ["a.txt"]


@pytest.mark.snakemake
def test_list_rules_matches_snakemake(tmp_path):
    if not SNAKEMAKE.exists():
        pytest.skip("snakemake (the oracle) is not installed")
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    ours = view(tmp_path, "-l")
    assert ours.splitlines() == ["a (first step)", "all", "b", "c"]
    assert ours.splitlines() == snakemake(tmp_path, "--list-rules").stdout.splitlines()
    assert view(tmp_path, "--list") == ours
    (tmp_path / "Snakefile").write_text(SNAKEFILE.replace('"b.txt"', '"b{n}.txt"')
                                        .replace("b.log", "b{n}.log")
                                        .replace('input: "b{n}.txt"', 'input: "b1.txt"'))
    ours = view(tmp_path, "--lt").splitlines()
    assert ours == ["a (first step)", "all", "c"]  # rule b has a wildcard now
    assert ours == snakemake(tmp_path, "--list-target-rules").stdout.splitlines()


def test_dag_and_rulegraph_on_run_equal_sciflow_dag(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    for run_args, dag_args in [(["--dag"], []), (["--rulegraph"], ["--rulegraph"]),
                               (["--dag", "mermaid-js"], ["--format", "mermaid"])]:
        ours = view(tmp_path, *run_args)
        dag = io.StringIO()
        with contextlib.redirect_stdout(dag):
            assert main(["dag", "-d", str(tmp_path), *dag_args]) == 0
        assert ours == dag.getvalue() and ours.strip()
    assert "digraph" in view(tmp_path, "--dag")


def test_report_on_run_writes_what_sciflow_report_writes(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    sciflow(tmp_path, "-c1", "-q")
    sciflow(tmp_path, "--report", "r1.html")
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["report", "-d", str(tmp_path), "-o", str(tmp_path / "r2.html")]) == 0
    r1, r2 = (tmp_path / "r1.html").read_text(), (tmp_path / "r2.html").read_text()
    assert r1 == r2 and "c.txt" in r1
    assert not (tmp_path / "report.html").exists()
    sciflow(tmp_path, "--report")  # bare: report.html, as Snakemake
    assert (tmp_path / "report.html").read_text() == r1


def test_quiet_dry_run_prints_only_job_stats(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    out = view(tmp_path, "-n", "-q")
    assert out.startswith("Job stats:") and "reason:" not in out and "dry-run" not in out
    assert [line.split() for line in out.splitlines()[3:8]] == [
        ["a", "1"], ["all", "1"], ["b", "1"], ["c", "1"], ["total", "4"]]
    res = sciflow(tmp_path, "-n", "-q", "all")
    assert res.stdout == "" and res.stderr == ""
