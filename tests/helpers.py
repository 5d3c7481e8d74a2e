"""Helpers shared by the test packages (importable as ``helpers``: tests/ is on sys.path).

One place for what several test modules need: the installed command lines, the files a run
left behind, a stand-in DAG for hand-built jobs, and checksums. (The Snakemake oracle is
``oracle.py``; golden cases ``golden.py``.)
"""
from __future__ import annotations

import hashlib
import sys
import textwrap
from pathlib import Path

BIN = Path(sys.executable).parent
SCIFLOW = BIN / "sciflow"
STATE_DIRS = (".snakemake", ".sciflow")


def write_tree(root: Path, files: dict[str, str], *, snakefile: str | None = None,
               dedent: bool = True) -> Path:
    """Write ``files`` (relative name -> text) below ``root``, parents made; ``snakefile``, if
    given, as ``root/Snakefile``. Texts written inline in a test are dedented and their leading
    blank lines dropped (``dedent=False`` writes them byte for byte); the Snakefile always is."""
    root.mkdir(parents=True, exist_ok=True)
    if snakefile is not None:
        (root / "Snakefile").write_text(textwrap.dedent(snakefile).lstrip())
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip() if dedent else text)
    return root


def files_below(wd: Path, *, skip_suffixes: tuple[str, ...] = (),
                binary: bool = False) -> dict[str, str | bytes]:
    """Every file below ``wd`` but the tools' own state (``.snakemake/``, ``.sciflow/``), with
    its content (text, or bytes with ``binary``); ``skip_suffixes`` leaves out e.g. benchmark
    timings, which differ by nature."""
    found: dict[str, str | bytes] = {}
    for path in sorted(wd.rglob("*")):
        rel = path.relative_to(wd)
        if rel.parts[0] in STATE_DIRS or not path.is_file() or path.name.endswith(skip_suffixes):
            continue
        found[rel.as_posix()] = path.read_bytes() if binary else path.read_text()
    return found


class FileDAG:
    """A stand-in for ``sciflow.dag.DAG`` for planner and scheduler tests that build their jobs
    by hand: the jobs are linked by their file paths, ``jobs`` in dependency order."""

    def __init__(self, workflow, jobs, targets):
        self.workflow = workflow
        producer = {str(o): j for j in jobs for o in j.output}
        self._deps = {j: list(dict.fromkeys(producer[str(f)] for f in j.input if str(f) in producer))
                      for j in jobs}
        self._rdeps = {j: [] for j in jobs}
        for j, ds in self._deps.items():
            for d in ds:
                self._rdeps[d].append(j)
        order, seen = [], set()

        def visit(j):
            if j not in seen:
                seen.add(j)
                for d in self._deps[j]:
                    visit(d)
                order.append(j)
        for j in jobs:
            visit(j)
        self.jobs = order
        self.targets = list(targets)

    def dependencies(self, job):
        return self._deps[job]

    def dependents(self, job):
        return self._rdeps[job]


def sha256(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- provenance model store
MODEL_ORCID = "0000-0002-1825-0097"  # ORCID's documented example iD

MODEL_SNAKEFILE = '''configfile: "config.yaml"
include: "rules/extra.smk"

rule all:
    input: "results/sorted.txt", "results/scaled.nc", "results/script.txt"

rule scale:
    input: "data/in.nc"
    output: "results/scaled.nc"
    params: factor=config["scale"]["factor"], label="fixed"
    run:
        import xarray as xr
        with xr.open_dataset(input[0]) as ds:
            out = (ds.tas * params.factor).to_dataset(name="tas_scaled")
            out.to_netcdf(output[0])
        shell("echo scaled > {output}.log && rm {output}.log")

rule listing:
    input: "data/words.txt"
    output: "results/sorted.txt"
    shell: "sort {input} > {output}"
'''

MODEL_EXTRA = '''rule by_script:
    input: "data/words.txt"
    output: "results/script.txt"
    script: "../scripts/count.py"
'''

MODEL_SCRIPT = '''with open(snakemake.input[0]) as fh:
    n = len(fh.read().split())
with open(snakemake.output[0], "w") as out:
    out.write(f"{n}\\n")
'''


def model_store(root: Path, **options) -> Path:
    """A workflow run by the real engine (one process, provenance recorded) that exercises
    every part of the provenance model: a config file and a parameter from a config key, an
    included file, a ``script:`` rule, a ``run:`` rule calling ``shell()`` and writing NetCDF
    (content fingerprint, HDF5/NetCDF libraries), a shell rule running a program (``sort``),
    and a researcher's ORCID. ``options`` go to ``RunOptions`` (``config=`` …). Returns the
    working directory."""
    import numpy as np
    import xarray as xr

    import sciflow.engine as engine

    write_tree(root, {"Sciflowfile": MODEL_SNAKEFILE, "rules/extra.smk": MODEL_EXTRA,
                      "scripts/count.py": MODEL_SCRIPT, "config.yaml": "scale:\n  factor: 2\n",
                      "data/words.txt": "pear\napple\nfig\n"}, dedent=False)
    tas = np.linspace(270.0, 280.0, 24).reshape(2, 3, 4)
    xr.Dataset({"tas": (("time", "lat", "lon"), tas, {"units": "K"})},
               coords={"lat": [10.0, 20.0, 30.0]}).to_netcdf(root / "data/in.nc")
    opts = engine.RunOptions(directory=str(root), snakefile=str(root / "Sciflowfile"), cores=1,
                             command_line=["sciflow", "run"], orcid=MODEL_ORCID, **options)
    summary = engine.run(opts)
    assert summary.ok, summary
    return root


def record_chain(root: Path, n: int, params=lambda i: {"k": i}, *, run_id: str = "chain",
                 started=None, background: bool = True) -> Path:
    """A chain of ``n`` jobs (job i copies f{i-1}.txt to f{i}.txt) recorded by the real
    ``ProvenanceRecorder`` into ``root``'s store without running the engine: real files, real
    sha256, real Oxigraph; the fastest way to a long lineage. ``params(i)`` gives job i's
    parameters; ``started`` the run's start time (default now). Returns ``root``."""
    from datetime import datetime, timezone

    from sciflow.events import JobResult, RunInfo
    from sciflow.jobs import Job
    from sciflow.model import Action, NamedList, SourceLoc, Wildcards, Workflow, WorkflowBuilder
    from sciflow.provenance.record import ProvenanceRecorder

    (root / "Sciflowfile").write_text("rule step: ...\n")
    wf = Workflow(path="Sciflowfile")
    rule = WorkflowBuilder(wf).add_rule(
        "step", SourceLoc("Sciflowfile", 1, 1), input=(("f{i}.txt",), {}), output=(("f{j}.txt",), {}),
        action=Action("shell", "cp {input} {output}", SourceLoc("Sciflowfile", 2, 5)))
    if not (root / "f0.txt").exists():
        (root / "f0.txt").write_text("raw\n")
    jobs = [Job(i, rule, Wildcards({"i": str(i - 1)}), NamedList([f"f{i - 1}.txt"]),
                NamedList([f"f{i}.txt"]), params=NamedList((), params(i))) for i in range(1, n + 1)]
    run = RunInfo(run_id, str(root), "Sciflowfile", started or datetime.now(timezone.utc),
                  workflow=wf, command_line=["test"], user="u", host="h")
    rec = ProvenanceRecorder(root, background=background)
    rec.run_started(run, jobs)
    for job in jobs:
        rec.job_started(run, job)
        start = datetime.now(timezone.utc)
        (root / job.output[0]).write_text(f"{run_id} {job.jobid}\n")
        rec.job_finished(run, job, JobResult(job.jobid, True, start, datetime.now(timezone.utc)))
    rec.run_finished(run, True)
    return root


def climate_store(root: Path, cores: int = 2) -> Path:
    """A copy of ``workflows/climate`` at ``root``, run once by the real engine with provenance."""
    import shutil

    import sciflow.engine as engine

    shutil.copytree(Path(__file__).resolve().parents[1] / "workflows" / "climate", root)
    opts = engine.RunOptions(directory=str(root), snakefile=str(root / "Snakefile"), cores=cores,
                             command_line=["sciflow", "run"])
    summary = engine.run(opts)
    assert summary.ok, summary
    return root
