"""HPC batch limits (issue 8, deliverable 11): workers retire before their walltime, jobs no
worker can run are refused before any batch job is submitted, and each job's provenance names
the batch job that ran it. The last test runs on a real single-node SLURM."""
from __future__ import annotations

import subprocess
import sys

import pytest

from sciflow.errors import ExecutorError
from sciflow.execute.hpc import lifetime_arguments, walltime_seconds


@pytest.mark.parametrize("walltime, seconds", [
    ("01:00:00", 3600), ("00:10:00", 600), ("90", 5400), (90, 5400), ("10:30", 630),
    ("2-00:00:00", 172800), ("1-06:30", 109800), (" 00:00:45 ", 45)])
def test_walltimes_as_batch_systems_read_them(walltime, seconds):
    assert walltime_seconds(walltime) == seconds


def test_workers_retire_a_margin_before_the_walltime_staggered():
    args = lifetime_arguments("01:00:00")
    lifetime = int(args[args.index("--lifetime") + 1].rstrip("s"))
    stagger = int(args[args.index("--lifetime-stagger") + 1].rstrip("s"))
    assert stagger > 0
    assert lifetime + stagger <= 3600 - 60  # even the latest worker leaves a minute early
    short = lifetime_arguments("00:10:00")
    assert int(short[1].rstrip("s")) + int(short[3].rstrip("s")) <= 540
    with pytest.raises(ExecutorError, match="leaves no time"):
        lifetime_arguments("00:00:30")
    with pytest.raises(ExecutorError, match="cannot read the walltime"):
        walltime_seconds("soon")


HUNGRY = """\
rule all:
    input: "a.txt", "b.txt"

rule small:
    output: "a.txt"
    shell: "touch {output}"

rule hungry:
    output: "b.txt"
    threads: 8
    resources: mem_mb=64000, runtime=120
    shell: "touch {output}"
"""


def test_jobs_no_worker_can_run_are_refused_before_submission(tmp_path):
    (tmp_path / "Snakefile").write_text(HUNGRY)
    done = subprocess.run(
        [sys.executable, "-m", "sciflow", "run", "--cluster", "slurm", "--cluster-option",
         "cores=2", "memory=4GB", "walltime=00:30:00", "queue=nowhere"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    err = done.stderr
    assert "rule hungry (" in err and "Snakefile:8" in err, err
    assert "threads=8" in err and "mem_mb=64000" in err and "runtime=120 min" in err
    assert "rule small" not in err and "Traceback" not in err
    # nothing was submitted or run: no batch-job scripts or logs, no outputs
    assert not (tmp_path / "a.txt").exists()
    assert not any((tmp_path / ".sciflow").glob("jobqueue/*"))


@pytest.mark.slurm
def test_slurm_workers_are_secured_limited_and_named_in_provenance(slurm_cluster, tmp_path):
    from sciflow.engine import RunOptions, run
    from sciflow.execute.hpc import make_cluster
    import sciflow.provenance

    (tmp_path / "Snakefile").write_text(
        'rule all:\n    input: "x.txt"\n\n'
        'rule x:\n    output: "x.txt"\n    shell: "echo $SLURM_JOB_ID > {output}"\n')
    options = {"queue": slurm_cluster.partition, "cores": 1, "processes": 1, "memory": "1GB",
               "walltime": "00:20:00", "maximum_jobs": 1, "local_directory": "/tmp",
               "log_directory": str(tmp_path / ".sciflow" / "jobqueue")}
    cluster = make_cluster("slurm", dict(options))
    try:
        script = cluster.job_script()
        assert "--lifetime" in script and "--lifetime-stagger" in script
        assert cluster.scheduler_address.startswith("tls://127.0.0.1:")
    finally:
        cluster.close()
    summary = run(RunOptions(directory=str(tmp_path), cluster="slurm", cluster_options=options))
    assert summary.ok
    slurm_id = (tmp_path / "x.txt").read_text().strip()
    assert slurm_id.isdigit()
    prov = sciflow.provenance.open(tmp_path)
    rows = prov.query("""
        PREFIX sf: <https://w3id.org/sciflow/ns#>
        SELECT ?id ?system WHERE { ?job sf:batchJobId ?id ; sf:batchSystem ?system }""")
    assert len(rows) >= 1  # the job of rule x (and rule all, when it ran on a worker)
    assert set(rows["id"]) == {slurm_id} and set(rows["system"]) == {"slurm"}
