"""`sciflow lint` and `sciflow rules` on real files."""
from __future__ import annotations

import shutil
from pathlib import Path

from sciflow.cli import main

CORPUS = Path(__file__).parent / "corpus"


def test_lint_ok_summary(tmp_path, monkeypatch, capsys):
    shutil.copy(CORPUS / "basic.smk", tmp_path / "Snakefile")
    monkeypatch.chdir(tmp_path)
    assert main(["lint"]) == 0
    assert capsys.readouterr().out.strip() == "Snakefile: 3 rules, 0 problems"


def test_lint_reports_every_problem(tmp_path, monkeypatch, capsys):
    (tmp_path / "wf.smk").write_text(
        'rule a:\n    ouput: "y"\n    shell: "z"\n    input: "x"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["lint", "-s", "wf.smk"]) == 1
    err = capsys.readouterr().err
    assert "wf.smk:2:5: unknown directive 'ouput' in rule 'a'" in err
    assert "wf.smk:4:5: 'input' comes after the action 'shell'" in err
    assert err.strip().endswith("wf.smk: 2 problems")
    assert "Traceback" not in err


def test_lint_syntax_error_exit_1(tmp_path, monkeypatch, capsys):
    (tmp_path / "Sciflowfile").write_text('rule a:\n    output "y"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["lint"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Sciflowfile:2:5: expected ':' after 'output'\n        output \"y\"\n        ^")


def test_lint_without_file_is_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["lint"]) == 2
    assert "no workflow file found" in capsys.readouterr().err


def test_rules_lists_locations_inputs_outputs(tmp_path, monkeypatch, capsys):
    shutil.copytree(CORPUS / "includes", tmp_path / "wf")
    monkeypatch.chdir(tmp_path / "wf")
    assert main(["rules"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "rule align  (rules/align.smk:2:1)"
    assert out[1] == "    input:  reads/{s}.fq, ref=ref/genome.fa"
    assert out[2] == "    output: aligned/{s}.bam"
    assert "rule all  (Snakefile:5:1)" in out


def test_rules_shows_input_functions_by_name(tmp_path, monkeypatch, capsys):
    shutil.copy(CORPUS / "features.smk", tmp_path / "Snakefile")
    monkeypatch.chdir(tmp_path)
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "    input:  unpack(<function reads_of>)" in out
    assert "checkpoint split  (Snakefile:71:1)" in out
