"""Golden workflow cases: ``tests/workflows/<case>/`` with a Snakefile, inputs and ``expected/``.

``expected/`` holds exactly the files Snakemake (the oracle) produced for the case, made by
``python tests/golden.py [CASE...]`` and committed. A case may carry a ``case.yaml``:

    targets: [file-or-rule, ...]        # default: the default target
    config: {key: value}                # as --config K=V (highest precedence)
    cores: 2                            # default 2
    existence_only: [glob, ...]         # compared for existence only (timings, hostnames)

Comparison (``compare_outputs``): the set of files a run created must equal ``expected/``'s
(so temp() files must be gone); text and other files byte for byte; ``.h5``/``.nc`` by array
values, because attributes may carry provenance stamps.
"""
from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import oracle

CASES_DIR = Path(__file__).parent / "workflows"
EXAMPLES_DIR = Path(__file__).parent.parent / "workflows"  # the real example workflows
# Bookkeeping directories and files of either tool, never part of a case's outputs.
IGNORED_DIRS = {".snakemake", ".sciflow", "__pycache__"}
IGNORED_FILES = {".snakemake_timestamp"}


@dataclass
class Case:
    name: str
    path: Path
    targets: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    cores: int = 2
    existence_only: list[str] = field(default_factory=list)

    @property
    def expected(self) -> Path:
        return self.path / "expected"

    def snakemake_args(self) -> list[str]:
        """Snakemake's command line for the case (without the program)."""
        args = ["-s", "Snakefile", "-c", str(self.cores), *self.targets]
        if self.config:
            args += ["--config", *(f"{k}={v}" for k, v in self.config.items())]
        return args


def load_case(name: str, root: Path = CASES_DIR) -> Case:
    path = root / name
    meta = yaml.safe_load((path / "case.yaml").read_text()) if (path / "case.yaml").exists() else {}
    return Case(name, path, targets=list(meta.get("targets", [])),
                config=dict(meta.get("config", {})), cores=int(meta.get("cores", 2)),
                existence_only=list(meta.get("existence_only", [])))


def case_names(root: Path = CASES_DIR) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / "Snakefile").exists())


def copy_case(case: Case, dest: Path) -> Path:
    """Copy the case's inputs (not ``expected/``, not ``case.yaml``) into ``dest``."""
    shutil.copytree(case.path, dest, ignore=shutil.ignore_patterns("expected", "case.yaml",
                                                                   "__pycache__"),
                    dirs_exist_ok=True)
    return dest


def list_files(root: Path) -> set[str]:
    """Every file under ``root`` (relative, posix), skipping tool bookkeeping."""
    found = set()
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if set(rel.parts) & IGNORED_DIRS or p.name in IGNORED_FILES or p.is_dir():
            continue
        found.add(rel.as_posix())
    return found


def produced_files(case: Case, workdir: Path) -> set[str]:
    """Files in ``workdir`` that the case folder did not bring along as inputs."""
    return list_files(workdir) - list_files(case.path) | {
        f for f in list_files(workdir) & list_files(case.path)
        if not f.startswith("expected/") and (case.path / f).read_bytes() != (workdir / f).read_bytes()
    }


def _arrays_equal(a: Path, b: Path) -> str | None:
    """Compare HDF5/NetCDF by values (variables, coordinates, dataset shapes), not attributes."""
    if a.suffix == ".nc":
        import xarray as xr

        with xr.open_dataset(a) as da, xr.open_dataset(b) as db:
            if not da.equals(db):
                return f"NetCDF values differ:\n{da}\n---\n{db}"
        return None
    import h5py
    import numpy as np

    def datasets(path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                         if isinstance(obj, h5py.Dataset) else None)
        return out

    da, db = datasets(a), datasets(b)
    if da.keys() != db.keys():
        return f"HDF5 datasets differ: {sorted(da)} vs {sorted(db)}"
    for k in da:
        if not np.array_equal(da[k], db[k]):
            return f"HDF5 dataset {k} differs"
    return None


def compare_outputs(case: Case, workdir: Path, reference: Path | None = None) -> list[str]:
    """Differences between what a run produced in ``workdir`` and ``expected/`` (empty: same).

    With ``reference`` (another run's directory, e.g. a live Snakemake run), compare against
    what that run produced instead."""
    problems = []
    if reference is None:
        ref_root, expected = case.expected, list_files(case.expected)
    else:
        ref_root, expected = reference, produced_files(case, reference)
    produced = produced_files(case, workdir)
    for f in sorted(expected - produced):
        problems.append(f"missing output: {f}")
    for f in sorted(produced - expected):
        problems.append(f"unexpected file (Snakemake did not leave it): {f}")
    for f in sorted(expected & produced):
        if any(fnmatch.fnmatch(f, pat) for pat in case.existence_only):
            continue
        want, got = ref_root / f, workdir / f
        if want.suffix in (".h5", ".nc", ".hdf5"):
            diff = _arrays_equal(want, got)
            if diff:
                problems.append(f"{f}: {diff}")
        elif want.read_bytes() != got.read_bytes():
            problems.append(f"{f}: content differs\n--- expected\n{want.read_text(errors='replace')}"
                            f"--- got\n{got.read_text(errors='replace')}")
    return problems


def run_snakemake(case: Case, workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    return oracle.snakemake(workdir, *case.snakemake_args(), *extra, check=False)


def snakemake_counts(case: Case, workdir: Path) -> dict[str, int]:
    """Jobs per rule of Snakemake's dry run of ``case`` in ``workdir`` ({} when nothing to do)."""
    res = run_snakemake(case, workdir, "-n")
    assert res.returncode == 0, res.stdout + res.stderr
    return oracle.job_stats(res.stdout + res.stderr)


def make_expected(name: str, scratch: Path) -> None:
    """Run Snakemake on the case in ``scratch`` and store what it produced as ``expected/``."""
    case = load_case(name)
    work = copy_case(case, scratch / name)
    res = run_snakemake(case, work)
    if res.returncode != 0:
        raise SystemExit(f"snakemake failed on {name}:\n{res.stdout}\n{res.stderr}")
    shutil.rmtree(case.expected, ignore_errors=True)
    for f in sorted(produced_files(case, work)):
        dest = case.expected / f
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / f, dest)  # content only: protected() modes are not golden data
    print(f"{name}: {len(produced_files(case, work))} files")


# ----------------------------------------------------------------------------- running cases
@dataclass
class CaseRun:
    """The outcome of running a golden case with sciflow."""

    case: Case
    workdir: Path
    summary: Any

    def problems(self) -> list[str]:
        return compare_outputs(self.case, self.workdir)


def run_options(**kwargs: Any):
    """``sciflow.engine.RunOptions(**kwargs)``, failing loudly on a name it does not have
    (so a renamed field breaks the tests instead of being ignored)."""
    from sciflow.engine import RunOptions

    return RunOptions(**kwargs)


def run_sciflow(workdir: Path, *, targets=(), config=None, listeners=(), **kwargs: Any):
    """Run sciflow's engine in ``workdir`` on its Snakefile; returns the RunSummary."""
    snakefile = workdir / "Snakefile"
    opts = run_options(snakefile=str(snakefile), workdir=str(workdir), targets=list(targets),
                       config_overrides=dict(config or {}), **kwargs)
    from sciflow.engine import run

    return run(opts, listeners=listeners)


def run_case(name: str, executor: dict[str, Any], tmp_path: Path, **kwargs: Any) -> CaseRun:
    """Copy ``tests/workflows/<name>/`` into ``tmp_path``, run it with sciflow on ``executor``,
    and return the run (``.problems()`` compares it against ``expected/``)."""
    case = load_case(name)
    work = copy_case(case, tmp_path / name)
    options = {**executor, "cores": case.cores, **kwargs} if "cores" in executor else \
        {**executor, **kwargs}
    summary = run_sciflow(work, targets=case.targets, config=case.config, **options)
    return CaseRun(case, work, summary)


if __name__ == "__main__":
    import tempfile

    names = sys.argv[1:] or case_names()
    with tempfile.TemporaryDirectory() as tmp:
        for n in names:
            make_expected(n, Path(tmp))
