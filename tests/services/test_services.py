"""The test services themselves work: a real external Dask cluster and a real SLURM."""
from __future__ import annotations

import os
import socket
import subprocess

import pytest


def test_external_dask_cluster_runs_tasks_in_worker_processes(dask_scheduler):
    from distributed import Client

    assert dask_scheduler.startswith("tcp://127.0.0.1:")
    with Client(dask_scheduler, timeout=10) as client:
        info = client.scheduler_info()["workers"]
        assert len(info) == 2
        assert all(w["resources"].get("cpus") == 2 for w in info.values())
        pids = set(client.gather([client.submit(os.getpid, pure=False, resources={"cpus": 1})
                                  for _ in range(8)]))
        assert os.getpid() not in pids


@pytest.mark.slurm
def test_slurm_runs_a_batch_job(slurm_cluster, tmp_path):
    from services.slurm import node_state, sbatch_wait

    assert node_state(slurm_cluster.hostname) in ("idle", "mix", "mixed", "alloc", "allocated")
    out = tmp_path / "out.txt"
    res = sbatch_wait("--chdir", str(tmp_path), "-o", str(out), "--wrap", "hostname")
    assert res.returncode == 0, res.stdout + res.stderr
    assert out.read_text().strip() == socket.gethostname()


@pytest.mark.slurm
def test_dask_jobqueue_worker_on_slurm(slurm_cluster, tmp_path):
    """The path RunOptions(cluster="slurm") takes: a dask-jobqueue worker as a SLURM job."""
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    with SLURMCluster(queue=slurm_cluster.partition, cores=1, processes=1, memory="1GB",
                      walltime="00:05:00", local_directory=str(tmp_path),
                      log_directory=str(tmp_path), scheduler_options={"host": "127.0.0.1"}) as cluster:
        cluster.scale(jobs=1)
        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=60)
            job_id = client.submit(lambda: os.environ.get("SLURM_JOB_ID"), pure=False).result()
            assert job_id and job_id.isdigit()
            ids = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout
            assert job_id in ids.split()
