"""``sciflow dag`` end to end, from a real Snakefile (needs the parser)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

from sciflow.cli import main

SNAKEFILE = textwrap.dedent('''
    SAMPLES = ["a", "b"]
    rule all:
        input: expand("c/{s}.txt", s=SAMPLES)
    rule first:
        input: "raw/{s}.in"
        output: "b/{s}.txt"
        shell: "cp {input} {output}"
    rule second:
        input: "b/{s}.txt"
        output: "c/{s}.txt"
        shell: "cp {input} {output}"
''').lstrip()


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "raw").mkdir()
    for s in ("a", "b"):
        (tmp_path / "raw" / f"{s}.in").write_text("x")
    return tmp_path


def test_dag_dot_and_rulegraph(folder, capsys):
    assert main(["dag", "-d", str(folder)]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph") and dot.count("->") == 4
    assert main(["dag", "-d", str(folder), "--rulegraph"]) == 0
    assert capsys.readouterr().out.count("->") == 2


def test_dag_mermaid_with_target(folder, capsys):
    assert main(["dag", "-d", str(folder), "--format", "mermaid", "c/a.txt"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart TB") and out.count("-->") == 1


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")
def test_dag_svg(folder):
    proc = subprocess.run([sys.executable, "-m", "sciflow", "dag", "--format", "svg"],
                          cwd=folder, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert ET.fromstring(proc.stdout).tag.endswith("svg")


def test_dag_error_is_located_not_a_traceback(folder, capsys):
    (folder / "raw" / "b.in").unlink()
    assert main(["dag", "-d", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "first (Snakefile:4)" in err and "raw/b.in" in err and "Traceback" not in err
