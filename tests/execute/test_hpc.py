"""Batch-system clusters: a real single-node SLURM through dask-jobqueue (skipped when SLURM
cannot run here), and the errors for unknown or uninstalled cluster types."""
from __future__ import annotations

import importlib.util
import time

import pytest

from sciflow.errors import ExecutorError, MissingDependencyError
from sciflow.execute.dask import DaskExecutor
from sciflow.execute.hpc import _memory_mb, make_cluster
from sciflow.execute.spec import make_spec


def test_unknown_cluster_type():
    with pytest.raises(ExecutorError, match="unknown cluster type 'condor'"):
        make_cluster("condor", {})


@pytest.mark.skipif(importlib.util.find_spec("dask_kubernetes") is not None,
                    reason="dask-kubernetes is installed")
def test_kubernetes_without_the_extra_says_how_to_install():
    with pytest.raises(MissingDependencyError) as info:
        make_cluster("kubernetes", {})
    assert "pip install 'sciflow[kubernetes]'" in info.value.hint


def test_memory_sizes():
    assert _memory_mb("2GB") == 2000 and _memory_mb("512MB") == 512
    assert _memory_mb("4GiB") == 4000 and _memory_mb(3_000_000) == 3


@pytest.mark.slurm
def test_slurm_cluster_runs_jobs_in_batch_jobs(slurm_cluster, jobs, monkeypatch):
    monkeypatch.chdir(jobs.root)
    ex = DaskExecutor(cluster="slurm", cluster_options={
        "queue": slurm_cluster.partition, "cores": 2, "processes": 1, "memory": "1GB",
        "walltime": "00:10:00", "local_directory": "/tmp", "maximum_jobs": 1})
    with ex:
        assert ex.address.startswith("tls://127.0.0.1:")
        specs = [make_spec(jobs("shell", "echo $SLURM_JOB_ID > {output}", output=[f"s{i}.txt"],
                                threads=2), jobs.workflow, str(jobs.root)) for i in range(3)]
        for spec in specs:
            ex.submit(spec)
        results, deadline = [], time.time() + 180
        while len(results) < len(specs) and time.time() < deadline:
            results += ex.wait(timeout=5)
        assert len(results) == 3
        assert all(r.ok for r in results), [r.error for r in results]
        job_ids = {r.batch_job_id if r.batch_system == "slurm" else None for r in results}
        assert len(job_ids) == 1 and None not in job_ids  # all ran in the one worker job
        assert (jobs.root / "s0.txt").read_text().strip() == job_ids.pop()
