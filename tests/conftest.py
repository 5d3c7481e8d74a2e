"""Shared fixtures: the executor every engine test runs on, the services behind it, and
``run_case`` (in tests/golden.py) for golden workflow folders.

``executor`` is parametrized (as pydra's ``worker`` fixture): ``local`` (the embedded
LocalCluster), ``external`` (a real ``dask scheduler`` + 2 ``dask worker`` processes on
127.0.0.1, started once per session) and ``slurm`` (a real single-node SLURM, started once per
session, jobs through dask-jobqueue). It yields the keyword arguments for
``sciflow.engine.RunOptions`` that select that executor. SLURM is skipped, with the reason,
when not root or the binaries are missing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps its example database in ./.hypothesis by default: the checkout, when the
# suite runs from it. Tests write only below tmp_path (see pytest_sessionfinish).
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "sciflow-hypothesis"))

EXECUTORS = ["local", "external", pytest.param("slurm", marks=pytest.mark.slurm)]


# ----------------------------------------------------------------------------- services
@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """Address of an external Dask cluster (scheduler + 2 workers, 2 threads/cpus each)."""
    from services.dask_cluster import start_dask

    service = start_dask(n_workers=2, nthreads=2, cpus_per_worker=2)
    try:
        yield service.address
    finally:
        service.stop()


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node SLURM (``SlurmService``); skipped when it cannot run here."""
    from services.slurm import slurm_unavailable, start_slurm

    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
    service = start_slurm()
    try:
        yield service
    finally:
        service.stop()


def executor_options(kind: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """RunOptions keyword arguments selecting executor ``kind``."""
    if kind == "local":
        return {"cores": 2}
    if kind == "external":
        return {"cores": 2, "scheduler": request.getfixturevalue("dask_scheduler")}
    if kind == "slurm":
        slurm = request.getfixturevalue("slurm_cluster")
        # One small worker job; the work directory is on the shared (local) filesystem.
        return {"cores": 2, "cluster": "slurm",
                "cluster_options": {"queue": slurm.partition, "cores": 2, "processes": 1,
                                    "memory": "2GB", "walltime": "00:10:00", "maximum_jobs": 1,
                                    "local_directory": "/tmp"}}
    raise ValueError(kind)


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> dict[str, Any]:
    """RunOptions kwargs for each executor (``local``, ``external``, ``slurm``)."""
    return executor_options(request.param, request)


def pytest_report_header(config: pytest.Config) -> list[str]:
    from services.slurm import slurm_unavailable

    reason = slurm_unavailable()
    return [f"sciflow services: dask external cluster; SLURM {'skipped: ' + reason if reason else 'available'}"
            + (f"; graphviz {'found' if shutil.which('dot') else 'missing'}")
            + (f"; uid {os.geteuid()}")]


# ----------------------------------------------------------------------------- the checkout
CHECKOUT = Path(__file__).resolve().parent.parent
_RUNNER_FILES = ("__pycache__", ".pytest_cache")  # pytest's and Python's own, not a test's
_SOURCES = (".py", ".md", ".lark", ".toml", ".ipynb", ".smk")
_BEFORE = pytest.StashKey[set]()


def _checkout_files() -> set[str]:
    """Files git does not track in the checkout (untracked or ignored, as git lists them),
    and every file below the tools' state directories there (a workflow run in the current
    directory writes ``.sciflow/`` and ``.snakemake/``, which .gitignore hides)."""
    res = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=normal"],
                         cwd=CHECKOUT, capture_output=True, text=True)
    found = {line[3:] for line in res.stdout.splitlines() if line[:2] == "!!"
             or line[:2] == "??" and not line.endswith(_SOURCES)}  # not a file being written
    for state in (".sciflow", ".snakemake"):
        found.update(p.relative_to(CHECKOUT).as_posix() for p in (CHECKOUT / state).rglob("*"))
    return {f for f in found if not any(part in f for part in _RUNNER_FILES)}


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller sees every worker's writes
        session.config.stash[_BEFORE] = _checkout_files()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test that writes into the checkout (a run in the current directory instead of its
    tmp_path) fails the session, naming what it wrote."""
    before = session.config.stash.get(_BEFORE, None)
    if before is None:
        return
    written = sorted(_checkout_files() - before)
    if written:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = ("tests wrote into the checkout (use tmp_path or the workflow's directory): "
                   + ", ".join(written[:20]) + (" ..." if len(written) > 20 else ""))
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

