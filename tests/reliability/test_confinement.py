"""Outputs, logs and benchmarks stay inside the working directory (issue 8, deliverable 1).

Every test runs the real ``sciflow`` command in a fresh directory and checks the files on
disk afterwards: nothing outside the workdir, and none of the project's own files, is ever
written or deleted.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sciflow.confine import check_output_path, safe_remove
from sciflow.errors import ConfinementError

SCIFLOW = str(Path(sys.executable).parent / "sciflow")


def sciflow(cwd, *args, timeout=120):
    return subprocess.run([SCIFLOW, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def project(tmp_path, snakefile, name="proj"):
    """``tmp_path/proj`` with a Snakefile, a raw input, and a sibling project beside it."""
    wd = tmp_path / name
    wd.mkdir()
    (wd / "Snakefile").write_text(snakefile)
    (wd / "raw.txt").write_text("raw data\n")
    sibling = tmp_path / "sibling"
    sibling.mkdir(exist_ok=True)
    (sibling / "precious.txt").write_text("keep me\n")
    return wd


def assert_intact(wd, tmp_path):
    assert (wd / "Snakefile").exists()
    assert (wd / "raw.txt").read_text() == "raw data\n"
    assert (tmp_path / "sibling" / "precious.txt").read_text() == "keep me\n"


def refused(proc, *needles):
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    assert "Traceback" not in text, text
    for needle in needles:
        assert needle in text, text
    return text


@pytest.mark.parametrize("pattern,why", [
    ('directory(".")', "working directory itself"),
    ('directory("..")', "ancestor of the working directory"),
    ('directory("./")', "working directory itself"),
    ('directory(".sciflow")', "sciflow's own state"),
    ('".sciflow/meta.sqlite"', "sciflow's own state"),
    ('directory(".snakemake")', "sciflow's own state"),
    ('"Snakefile"', "a file of the workflow itself"),
])
def test_forbidden_outputs_refused_at_plan_and_run_time(tmp_path, pattern, why):
    wd = project(tmp_path, f'rule all:\n    output: {pattern}\n    shell: "exit 1"\n')
    for args in (["run", "-n", "-c1"], ["run", "-c1"]):
        text = refused(sciflow(wd, *args), why, "Snakefile:2")
    assert_intact(wd, tmp_path)
    assert "Snakefile:2" in text


def test_lint_reports_forbidden_and_escaping_outputs_with_line(tmp_path):
    wd = project(tmp_path, 'rule a:\n    output: directory(".")\n    shell: "true"\n\n'
                           'rule b:\n    output: "../escape.txt"\n    shell: "true"\n\n'
                           'rule c:\n    output: "/tmp/abs-{x}.txt"\n    shell: "true"\n\n'
                           'rule d:\n    log: "../logs/{x}.log"\n    output: "ok/{x}"\n    shell: "true"\n')
    text = refused(sciflow(wd, "lint"))
    for line in ("Snakefile:2", "Snakefile:6", "Snakefile:10", "Snakefile:14"):
        assert line in text, text


def test_config_outdir_dot_does_not_delete_the_project(tmp_path):
    wd = project(tmp_path, 'rule all:\n    output: directory(config["outdir"])\n'
                           '    shell: "mkdir -p {output} && touch {output}/done"\n')
    (wd / ".sciflow").mkdir()
    (wd / ".sciflow" / "keep").write_text("state")
    refused(sciflow(wd, "run", "-c1", "--config", "outdir=./"), "working directory itself")
    assert_intact(wd, tmp_path)
    assert (wd / ".sciflow" / "keep").exists()


def test_parent_directory_output_leaves_the_sibling_project(tmp_path):
    wd = project(tmp_path, 'rule all:\n    output: directory("..")\n    shell: "true"\n')
    refused(sciflow(wd, "run", "-c1"), "ancestor")
    assert_intact(wd, tmp_path)


def test_absolute_directory_outside_is_not_deleted_by_a_failing_job(tmp_path):
    outside = tmp_path / "sibling"
    wd = project(tmp_path, f'rule all:\n    output: directory("{outside}")\n    shell: "exit 1"\n')
    refused(sciflow(wd, "run", "-c1"), "outside the working directory", "external(")
    assert_intact(wd, tmp_path)


@pytest.mark.parametrize("output", ["../escape.txt", "{abs}/escape.txt", "link/escape.txt"])
def test_escaping_plain_outputs_are_refused(tmp_path, output):
    wd = project(tmp_path, "")
    (wd / "link").symlink_to(tmp_path / "sibling")
    output = output.format(abs=tmp_path / "sibling")
    (wd / "Snakefile").write_text(f'rule all:\n    output: "{output}"\n    shell: "echo x > {{output}}"\n')
    text = refused(sciflow(wd, "run", "-c1"), "Snakefile:2")
    assert ("symlink" in text) == output.startswith("link/")
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "sibling" / "escape.txt").exists()
    assert_intact(wd, tmp_path)


def test_external_opt_in_writes_outside_but_never_the_forbidden_set(tmp_path):
    target = tmp_path / "scratch" / "x.txt"
    target.parent.mkdir()
    wd = project(tmp_path, f'rule all:\n    output: external("{target}")\n'
                           '    shell: "echo made > {output}"\n')
    proc = sciflow(wd, "run", "-c1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert target.read_text() == "made\n"
    assert sciflow(wd, "lint").returncode == 0
    (wd / "Snakefile").write_text('rule all:\n    output: external(directory(".."))\n'
                                  '    shell: "true"\n')
    refused(sciflow(wd, "run", "-c1"), "ancestor")
    assert_intact(wd, tmp_path)


def test_removal_never_follows_symlinks_out_of_the_workdir(tmp_path):
    # A rerun removes the old directory output without following a symlink planted inside.
    wd = project(tmp_path, 'rule all:\n    input: "raw.txt"\n    output: directory("out")\n'
                           '    shell: "mkdir -p {output} && cp {input} {output}/copy"\n')
    assert sciflow(wd, "run", "-c1").returncode == 0
    (wd / "out" / "escape").symlink_to(tmp_path / "sibling")
    proc = sciflow(wd, "run", "-c1", "-R", "all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (wd / "out" / "copy").exists() and not (wd / "out" / "escape").exists()
    assert_intact(wd, tmp_path)
    # A symlink planted in a parent after planning is refused right before deletion.
    wd = tmp_path / "wd"
    (wd / "results").mkdir(parents=True)
    check_output_path("results/data", wd)  # fine when planned
    (wd / "results").rmdir()
    (wd / "results").symlink_to(tmp_path / "sibling", target_is_directory=True)
    (tmp_path / "sibling" / "data").mkdir()
    (tmp_path / "sibling" / "data" / "f").write_text("keep")
    with pytest.raises(ConfinementError, match="symlink"):
        safe_remove(str(wd / "results" / "data"), wd, declared="results/data")
    assert (tmp_path / "sibling" / "data" / "f").read_text() == "keep"
    with pytest.raises(ConfinementError, match="working directory itself"):
        safe_remove(str(wd), wd, declared="/abs/declared/external")
    assert wd.exists()


def test_nul_byte_in_output_path_is_a_clean_error_with_line(tmp_path):
    wd = project(tmp_path, 'rule all:\n    output: "a\\x00b.txt"\n    shell: "true"\n')
    refused(sciflow(wd, "run", "-n", "-c1"), "NUL byte", "Snakefile:2")
    refused(sciflow(wd, "lint"), "NUL byte", "Snakefile:2")


def test_symlink_planted_by_an_earlier_job_is_refused_at_deletion(tmp_path):
    """Planning saw a real ``results/`` directory; a job then swaps it for a symlink to the
    sibling project. The next job's old output is not deleted through that link."""
    wd = project(tmp_path, f'''
rule all:
    input: "results/precious.txt", "swapped"

rule swap:
    output: touch("swapped")
    shell: "rm -rf results && ln -s {tmp_path / 'sibling'} results"

rule make:
    input: "swapped"
    output: "results/precious.txt"
    shell: "echo overwritten > {{output}}"
''')
    (wd / "results").mkdir()
    (wd / "results" / "precious.txt").write_text("old\n")
    os.utime(wd / "results" / "precious.txt", (1, 1))  # older than "swapped": must be remade
    proc = sciflow(wd, "run", "-c1")
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    assert "refusing to delete" in text and "symlink" in text, text
    assert_intact(wd, tmp_path)
