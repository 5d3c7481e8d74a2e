"""``import snakemake...`` in workflow code is answered by sciflow (without Snakemake
installed), and only there: outside workflow code the real Snakemake stays what you get."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sciflow.dag import build_dag
from sciflow.parse import load_workflow

ROOT = Path(__file__).resolve().parents[2]

SNAKEFILE = textwrap.dedent('''\
    from snakemake.utils import min_version, validate
    from snakemake.io import expand as io_expand, temp
    from snakemake import shell as shell_module
    from snakemake.logging import logger
    from snakemake.exceptions import WorkflowError
    import snakemake.utils
    min_version("7.0")
    configfile: "config.yaml"
    validate(config, "schema.yaml")
    API = snakemake.__name__
    rule all:
        input: io_expand("out/{s}.txt", s=config["samples"])
    rule make:
        output: temp("out/{s}.txt") if False else "out/{s}.txt"
        params: n=config["n"]
        shell: "echo {params.n} > {output}"
    ''')


def write_workflow(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Snakefile").write_text(SNAKEFILE)
    (folder / "config.yaml").write_text("samples: [a, b, c]\n")
    (folder / "schema.yaml").write_text(
        "type: object\nproperties:\n  samples: {type: array}\n  n: {type: integer, default: 7}\n")
    return folder / "Snakefile"


def site_packages_without_snakemake(tmp: Path) -> Path:
    """A folder linking every entry of this venv's site-packages except Snakemake itself —
    a Python started with ``-S`` and only this folder on its path has everything sciflow
    needs, and no ``snakemake``."""
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    farm = tmp / "site"
    farm.mkdir()
    for entry in site.iterdir():
        name = entry.name.lower()
        if name == "snakemake" or (name.startswith("snakemake-") and name.endswith(".dist-info")):
            continue
        (farm / entry.name).symlink_to(entry)
    return farm


def test_workflow_plans_where_snakemake_is_not_installed(tmp_path):
    snakefile = write_workflow(tmp_path / "wf")
    farm = site_packages_without_snakemake(tmp_path)
    program = textwrap.dedent(f'''
        import importlib.util, os, sys
        assert importlib.util.find_spec("snakemake") is None, "snakemake still importable"
        os.chdir({str(snakefile.parent)!r})
        from sciflow.parse import load_workflow
        from sciflow.dag import build_dag
        wf = load_workflow("Snakefile")
        jobs = sorted(j.rule.name for j in build_dag(wf).jobs)
        print(wf.globals["API"], wf.config["n"], jobs)
        try:
            import snakemake
        except ModuleNotFoundError:
            print("outside: no snakemake")
        ''')
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{farm}"
    res = subprocess.run([sys.executable, "-S", "-c", program], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.splitlines() == [
        "sciflow.compat.snakemake 7 ['all', 'make', 'make', 'make']", "outside: no snakemake"]


def test_real_snakemake_is_untouched_outside_workflow_code(tmp_path, monkeypatch):
    import snakemake as real_before  # the dev venv has Snakemake installed

    snakefile = write_workflow(tmp_path)
    monkeypatch.chdir(tmp_path)
    wf = load_workflow(snakefile)
    assert len(build_dag(wf).jobs) == 4
    # the workflow got sciflow's API although the real one was imported first ...
    assert wf.globals["API"] == "sciflow.compat.snakemake"
    assert wf.globals["validate"].__module__ == "sciflow.compat.snakemake.utils"
    # ... and here, after loading, `import snakemake` is still the real one
    import snakemake
    import snakemake.utils
    assert snakemake is real_before and sys.modules["snakemake"] is real_before
    assert snakemake.utils.validate.__module__ == "snakemake.utils"
    assert "site-packages" in snakemake.__file__
    assert not any(m.startswith("snakemake") and v.__name__.startswith("sciflow")
                   for m, v in list(sys.modules.items()) if hasattr(v, "__name__"))


def test_functions_defined_in_the_snakefile_import_sciflows_api_later(tmp_path, monkeypatch):
    (tmp_path / "Snakefile").write_text(textwrap.dedent('''\
        def which(wildcards):
            import snakemake.io
            return snakemake.io.__name__ + ".txt"
        rule a:
            input: which
            output: "out.txt"
            shell: "cp {input} {output}"
        '''))
    (tmp_path / "sciflow.compat.snakemake.io.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    wf = load_workflow("Snakefile")
    (job,) = [j for j in build_dag(wf).jobs if j.rule.name == "a"]
    assert list(job.input) == ["sciflow.compat.snakemake.io.txt"]


def test_unknown_snakemake_module_names_what_exists(tmp_path, monkeypatch):
    from sciflow.errors import WorkflowError

    # (snakemake.remote.HTTP itself imports, as in Snakemake 9: tests/compat/test_names_remote.py)
    (tmp_path / "Snakefile").write_text("from snakemake.remote.NoSuchProvider import X\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkflowError) as info:
        load_workflow("Snakefile")
    text = info.value.format()
    assert "snakemake.remote" in text and "snakemake.utils" in text
    assert "removed in Snakemake 8" in text and "Traceback" not in text
    assert info.value.loc.line == 1
