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
from typing import Any, Iterator

import pytest

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
