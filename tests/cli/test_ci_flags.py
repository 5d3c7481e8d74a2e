"""The flags published pipelines' CIs pass to Snakemake (benchmarks/COMPAT.md, cause 1):
``--software-deployment-method/--sdm``, ``--conda-frontend``, ``--conda-cleanup-pkgs`` and
``--show-failed-logs``, each with Snakemake's meaning, through the real CLI."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONDA_RULE = """\
rule a:
    output: "a.txt"
    conda: "env.yaml"
    shell: "echo made > {output}"
"""


def sciflow(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # no conda/mamba/micromamba here: the flags must reach the check that needs one
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                  if not any(Path(p, n).exists()
                                             for n in ("conda", "mamba", "micromamba")))
    return subprocess.run([sys.executable, "-m", "sciflow", "run", "-c", "1", *args], cwd=tmp,
                          capture_output=True, text=True, env=env, timeout=180)


@pytest.fixture
def conda_workflow(tmp_path: Path) -> Path:
    (tmp_path / "Snakefile").write_text(CONDA_RULE)
    (tmp_path / "env.yaml").write_text("channels: [conda-forge]\ndependencies: [python]\n")
    return tmp_path


def test_sdm_conda_means_use_conda(conda_workflow):
    plain = sciflow(conda_workflow, "-n")  # without it the conda: directive is ignored
    assert plain.returncode == 0, plain.stderr
    done = sciflow(conda_workflow, "--sdm", "conda")
    assert done.returncode == 1, done.stderr
    assert "--use-conda: rule 'a' asks for a conda environment" in done.stderr
    assert "Traceback" not in done.stderr and not (conda_workflow / "a.txt").exists()


def test_conda_frontend_is_the_one_asked_for(conda_workflow):
    done = sciflow(conda_workflow, "--use-conda", "--conda-frontend", "mamba",
                   "--conda-cleanup-pkgs", "cache")
    assert done.returncode == 1 and "--conda-frontend mamba is not on PATH" in done.stderr


def test_bad_values_are_usage_errors(conda_workflow):
    done = sciflow(conda_workflow, "-n", "--conda-cleanup-pkgs", "everything")
    assert done.returncode == 2 and "tarballs" in done.stderr and "cache" in done.stderr
    done = sciflow(conda_workflow, "-n", "--sdm", "docker")
    assert done.returncode == 2 and "env-modules" in done.stderr


@pytest.mark.skipif(shutil.which("apptainer") or shutil.which("singularity"),
                    reason="apptainer is installed here")
def test_sdm_apptainer_means_use_apptainer(tmp_path):
    (tmp_path / "Snakefile").write_text(
        'rule a:\n    output: "a.txt"\n    container: "docker://busybox"\n'
        '    shell: "touch {output}"\n')
    assert sciflow(tmp_path, "-n").returncode == 0
    done = sciflow(tmp_path, "--sdm", "apptainer", "conda")
    assert done.returncode == 1 and "apptainer" in done.stderr, done.stderr


def test_show_failed_logs_prints_the_whole_log(tmp_path):
    (tmp_path / "Snakefile").write_text(
        'rule a:\n    output: "a.txt"\n    log: "logs/a.log"\n'
        '    shell: "for i in $(seq 1 300); do echo detail line $i; done > {log}; exit 3"\n')
    without = sciflow(tmp_path)
    assert without.returncode == 1
    assert "detail line 1\n" not in without.stderr  # only the log's tail is shown
    shown = sciflow(tmp_path, "--show-failed-logs")
    assert shown.returncode == 1
    assert "==> log of job" in shown.stderr and "logs/a.log" in shown.stderr
    assert "detail line 1\n" in shown.stderr and "detail line 300\n" in shown.stderr
