"""The ``workflow`` object answers what published pipelines ask about the run —
``configfiles``, ``overwrite_configfiles``, ``is_main_process``, ``cores``, ``main_snakefile``,
``deployment_settings``, ``output_settings.dryrun``, ``global_resources``... — as Snakemake 9
does (differential), plus Snakemake 7's flat names (``use_conda``...)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from oracle import SNAKEMAKE
from sciflow.compat.workflow_object import RunView, current_run, run_settings
from sciflow.engine import RunOptions
from sciflow.parse import load_workflow

BIN = Path(sys.executable).parent

REPORT = '''\
import json as _json
configfile: "config/config.yaml"
_ds = workflow.deployment_settings
_report = {
    "configfiles": [str(p) for p in workflow.configfiles],
    "overwrite_configfiles": [str(p) for p in workflow.overwrite_configfiles],
    "config_settings.configfiles": [str(p) for p in workflow.config_settings.configfiles],
    "is_main_process": workflow.is_main_process,
    "cores": workflow.cores,
    "resource_settings.cores": workflow.resource_settings.cores,
    # Snakemake wraps it in a Resource object (.value); sciflow keeps the number
    "global_resources._cores": getattr(workflow.global_resources["_cores"], "value",
                                       workflow.global_resources["_cores"]),
    "main_snakefile": workflow.main_snakefile,
    "basedir": workflow.basedir,
    "current_basedir": str(workflow.current_basedir),
    "snakefile": workflow.snakefile,
    "dryrun": workflow.output_settings.dryrun,
    "deployment": sorted(str(m) for m in _ds.deployment_method),
    "conda_prefix": _ds.conda_prefix,
    "wrapper_prefix": workflow.workflow_settings.wrapper_prefix,
    "exec_mode": str(workflow.exec_mode).split(".")[-1].lower(),
    "remote_exec": workflow.remote_exec,
    "attempt": workflow.attempt,
    "workdir_init": workflow.workdir_init,
    "default_storage_provider": workflow.storage_settings.default_storage_provider,
    "enable_cache": workflow.enable_cache,
    "rules_before": [r.name for r in workflow.rules],
    "config": dict(config),
}
rule all:
    output: "x"
    shell: "touch {output}"
_report["rules_after"] = sorted(r.name for r in workflow.rules)
with open("report.json", "w") as _f:
    _json.dump(_report, _f, indent=1, sort_keys=True, default=str)
'''


def _project(folder: Path) -> None:
    (folder / "wf" / "config").mkdir(parents=True)
    (folder / "wf" / "Snakefile").write_text(REPORT)
    (folder / "wf" / "config" / "config.yaml").write_text("a: 1\nb: 1\n")
    (folder / "extra.yaml").write_text("b: 2\n")


@pytest.mark.snakemake
def test_workflow_attributes_as_snakemake(tmp_path):
    """Same Snakefile, same command line (``-d``, ``--configfile`` relative to where the
    command is typed, ``-c 3``, a dry run): the same answers."""
    reports = {}
    for tool, argv in (("snakemake", [str(SNAKEMAKE), "-q", "--wrapper-prefix",
                                      "file:///w/"]),
                       ("sciflow", [str(BIN / "sciflow"), "run", "--wrapper-prefix",
                                    "file:///w/"])):
        folder = tmp_path / tool
        folder.mkdir()
        _project(folder)
        res = subprocess.run([*argv, "-n", "-c", "3", "-s", "wf/Snakefile", "-d", "wf",
                              "--configfile", "extra.yaml"], cwd=folder, capture_output=True,
                             text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        text = (folder / "wf" / "report.json").read_text().replace(str(folder), "<tmp>")
        reports[tool] = json.loads(text)
    assert reports["sciflow"] == reports["snakemake"]
    assert reports["sciflow"]["configfiles"] == ["<tmp>/extra.yaml", "config/config.yaml"]
    assert reports["sciflow"]["cores"] == 3 and reports["sciflow"]["dryrun"] is True


def test_settings_follow_the_run_options(tmp_path, monkeypatch):
    (tmp_path / "Snakefile").write_text(textwrap.dedent("""\
        from snakemake.settings.types import DeploymentMethod
        USE_CONDA = workflow.use_conda
        CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
        THREADS = max(workflow.cores - 1, 1)
        workflow.global_resources["db_connections"] = 1
        NEEDS_CONFIG = not workflow.overwrite_configfiles
        """))
    monkeypatch.chdir(tmp_path)
    with run_settings(RunOptions(cores=8, use_conda=True, dry_run=True)):
        wf = load_workflow("Snakefile")
    g = wf.globals
    assert g["USE_CONDA"] and g["CONDA"] and g["THREADS"] == 7 and g["NEEDS_CONFIG"]
    assert g["workflow"].global_resources == {"_cores": 8, "_nodes": None, "db_connections": 1}
    wf = load_workflow("Snakefile")  # outside a run: a plain local run's answers
    assert not wf.globals["USE_CONDA"] and not wf.globals["CONDA"]
    assert wf.globals["THREADS"] == max(wf.globals["workflow"].cores - 1, 1)


def test_outside_a_worker_the_load_is_the_main_process():
    assert current_run() == RunView(main_process=True)
    with run_settings(RunOptions(configfiles=["rel.yaml"])) as view:
        assert view.configfiles == (Path(os.path.abspath("rel.yaml")),)


@pytest.mark.slow
@pytest.mark.snakemake
def test_run_block_is_not_the_main_process(tmp_path):
    """Differential: a ``run:`` block runs where the workflow is loaded again (Snakemake: a
    job process; sciflow: a Dask worker) — ``is_main_process`` is False there, in both."""
    out = {}
    for tool, argv in (("snakemake", [str(SNAKEMAKE), "-c", "1", "-q"]),
                       ("sciflow", [str(BIN / "sciflow"), "run", "-c", "1", "-q"])):
        folder = tmp_path / tool
        folder.mkdir()
        (folder / "Snakefile").write_text(textwrap.dedent("""\
            AT_LOAD = workflow.is_main_process
            rule a:
                output: "o.txt"
                run:
                    with open(output[0], "w") as f:
                        f.write(f"{AT_LOAD} {workflow.is_main_process}")
            """))
        res = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        out[tool] = (folder / "o.txt").read_text()
    assert out["sciflow"] == out["snakemake"] == "False False"
