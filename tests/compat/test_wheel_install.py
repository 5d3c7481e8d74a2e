"""sciflow as a user gets it: the wheel, installed (not editable), finds its grammar and
provenance vocabulary and runs a real workflow.

* ``test_installed_wheel_finds_its_data`` (default suite, seconds): the wheel installed with
  ``pip install --no-deps --target DIR``, imported from DIR (dependencies from this venv).
* ``test_fresh_venv_runs_a_workflow_without_snakemake`` (slow): a clean venv with only the
  wheel and its declared dependencies — no dev extras, so no Snakemake — runs ``lint``,
  ``run``, ``prov query``, ``prov export --format ro-crate`` on a copy of
  ``workflows/climate``, then a Snakefile that imports the ``snakemake`` API and runs a
  ``script:``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CLIMATE = ROOT / "workflows" / "climate"


def _run(argv: list, cwd: Path | None = None, env: dict | None = None,
         timeout: int = 600) -> subprocess.CompletedProcess:
    res = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert res.returncode == 0, f"{argv}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from this checkout (once per session; no network: no build isolation,
    setuptools comes from the dev venv)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "tests", "benchmarks", "notebooks", "workflows", "*.egg-info", "build",
        ".sciflow", ".snakemake", "__pycache__"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", tmp / "dist", src], timeout=300)
    (found,) = (tmp / "dist").glob("sciflow-*.whl")
    return found


def _clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "SCIFLOW"))}
    env.update(extra)
    return env


def test_installed_wheel_finds_its_data(wheel, tmp_path):
    target = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", target, wheel])
    work = shutil.copytree(CLIMATE, tmp_path / "climate")
    env = _clean_env(PYTHONPATH=str(target))
    probe = textwrap.dedent(f'''
        import json, sciflow
        from pathlib import Path
        from sciflow.resources import grammar_dir, vocab_dir
        from sciflow.provenance.query import named_queries
        from sciflow.provenance.shapes import shapes_graph
        assert Path(sciflow.__file__).is_relative_to({str(target)!r}), sciflow.__file__
        print(json.dumps({{"grammar": str(grammar_dir()), "vocab": str(vocab_dir()),
                          "lark": (grammar_dir() / "sciflow.lark").is_file(),
                          "context": (vocab_dir() / "context.jsonld").is_file(),
                          "queries": sorted(named_queries()), "shapes": len(shapes_graph())}}))
        ''')
    found = json.loads(_run([sys.executable, "-c", probe], cwd=work, env=env).stdout)
    assert found["grammar"] == str(target / "sciflow" / "grammar") and found["lark"]
    assert found["vocab"] == str(target / "sciflow" / "vocab") and found["context"]
    shipped = sorted(p.stem for p in (ROOT / "provenance" / "queries").glob("*.rq"))
    assert found["queries"] == shipped and found["shapes"] > 0
    lint = _run([sys.executable, "-m", "sciflow", "lint"], cwd=work, env=env)
    assert "7 rules, 0 problems" in lint.stdout + lint.stderr
    plan = _run([sys.executable, "-m", "sciflow", "run", "-n"], cwd=work, env=env)
    assert "summary" in plan.stdout + plan.stderr


# ----------------------------------------------------------------------------- fresh venv
API_SNAKEFILE = textwrap.dedent('''\
    from snakemake.utils import min_version, validate
    from snakemake.io import expand
    from smart_open import open  # Snakemake's dependency, imported by pipelines (chipseq)
    min_version("8.0")
    configfile: "config.yaml"
    validate(config, "schema.yaml")
    rule all:
        input: expand("out/{s}.txt", s=config["samples"])
    rule one:
        output: "out/{s}.txt"
        params: kind=lookup(dpath="kinds/{s}", within=config), n=config["n"]
        script: "use.py"
    ''')

API_SCRIPT = textwrap.dedent('''\
    from snakemake.script import snakemake as sm
    from snakemake.shell import shell
    shell("echo {sm.wildcards.s} {sm.params.kind} {sm.params.n} > {sm.output[0]}")
    ''')


@pytest.fixture(scope="session")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    """A clean venv (no system site-packages, no dev extras) with the wheel installed; its
    dependencies come from the pip cache / index like a user's."""
    where = tmp_path_factory.mktemp("venv") / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    _run([where / "bin" / "python", "-m", "pip", "install", "-q", wheel], env=_clean_env(),
         timeout=900)
    return where / "bin"


@pytest.mark.slow
def test_fresh_venv_runs_a_workflow_without_snakemake(fresh_venv, tmp_path):
    env = _clean_env()
    sciflow = fresh_venv / "sciflow"
    no_snakemake = subprocess.run([fresh_venv / "python", "-c", "import snakemake"],
                                  capture_output=True, env=env)
    assert no_snakemake.returncode != 0  # the dev extras (Snakemake) are not there

    work = shutil.copytree(CLIMATE, tmp_path / "climate")
    assert "7 rules, 0 problems" in _run([sciflow, "lint"], cwd=work, env=env).stdout
    _run([sciflow, "run", "-c", "2"], cwd=work, env=env)
    summary = (work / "results" / "summary.csv").read_text().splitlines()
    years = yaml.safe_load((work / "config.yaml").read_text())["years"]
    assert summary[0].startswith("year") and len(summary) == len(years) + 1
    assert (work / "results" / "report.txt").stat().st_size > 0

    runs = _run([sciflow, "prov", "query", "runs", "--format", "json"], cwd=work, env=env)
    rows = json.loads(runs.stdout)
    assert len(rows) == 1 and rows[0]["status"] == "succeeded" and int(rows[0]["jobs"]) > 0
    _run([sciflow, "prov", "export", "--format", "ro-crate", "-o", "crate/"], cwd=work, env=env)
    crate = json.loads((work / "crate" / "ro-crate-metadata.json").read_text())
    ids = {entity["@id"] for entity in crate["@graph"]}
    assert "results/summary.csv" in ids and "ro-crate-metadata.json" in ids
    _run([sciflow, "prov", "export", "--format", "jsonld", "-o", "prov.jsonld"], cwd=work,
         env=env)
    assert "@context" in json.loads((work / "prov.jsonld").read_text())

    api = tmp_path / "api"
    api.mkdir()
    (api / "Snakefile").write_text(API_SNAKEFILE)
    (api / "use.py").write_text(API_SCRIPT)
    (api / "config.yaml").write_text("samples: [a, b]\nkinds: {a: x, b: y}\n")
    (api / "schema.yaml").write_text(
        "type: object\nproperties:\n  samples: {type: array}\n  n: {type: integer, default: 5}\n")
    _run([sciflow, "run", "-c", "2"], cwd=api, env=env)
    assert (api / "out" / "a.txt").read_text() == "a x 5\n"
    assert (api / "out" / "b.txt").read_text() == "b y 5\n"
