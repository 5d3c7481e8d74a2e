"""Dask clusters on batch systems (dask-jobqueue) and Kubernetes (dask-kubernetes).

``make_cluster("slurm", options)`` returns an *adaptive* cluster: batch jobs, each running one
Dask worker, are submitted while sciflow has work and released when it has none
(``adapt(minimum_jobs=0, maximum_jobs=N)``). The scheduler listens on 127.0.0.1 unless
``options["scheduler_host"]`` says otherwise, so workers on this host connect and nothing is
exposed; for a multi-node cluster pass the address of an interface the nodes can reach.

Workers advertise ``cpus=<cores per job>`` (and ``mem_mb``) as Dask resources, so a job's
``threads`` and ``resources.mem_mb`` are honoured by Dask's placement.

Options (all optional; everything else is passed to the jobqueue cluster class):
``cores`` (per batch job, default 1), ``memory`` (default "2GB"), ``walltime``
(default "01:00:00"), ``queue``, ``account``, ``processes`` (default 1), ``maximum_jobs``
(default 4), ``minimum_jobs`` (default 0), ``scheduler_host`` (default 127.0.0.1),
``lifetime_margin`` (seconds, default 10% of the walltime, at least 60 s and at most 15 min).

Batch limits, so that a batch job's end never surprises a sciflow job:

* each worker retires by itself before its batch job's walltime runs out
  (``dask worker --lifetime``), staggered so that the workers of one adaptive cluster do not
  all leave at once, and adaptivity submits replacements; a job still running on a retiring
  worker is lost with it and retried like any worker loss;
* ``check_jobs_fit`` runs before anything is submitted: a job whose ``threads``, ``mem_mb`` or
  ``runtime`` no worker of this cluster can ever give it is an error naming its rule and line,
  instead of a batch job that waits, or a job killed at the walltime, hours later.
* connections are secured with dask-jobqueue's temporary TLS certificate (files of mode 0600
  under the log directory, on the shared file system the batch jobs read).
"""
from __future__ import annotations

import os
import re
import sys
from typing import Any

from sciflow import layout
from sciflow.errors import ExecutorError, MissingDependencyError, UnsatisfiableResourcesError

JOBQUEUE_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
                    "lsf": "LSFCluster"}
KINDS = (*JOBQUEUE_CLASSES, "kubernetes")


BATCH_JOB_ID_VARIABLES = {"SLURM_JOB_ID": "slurm", "PBS_JOBID": "pbs", "LSB_JOBID": "lsf",
                          "JOB_ID": "sge"}
DEFAULT_WALLTIME = "01:00:00"


def make_cluster(kind: str, options: dict[str, Any] | None = None, secure: bool = True) -> Any:
    """An adaptive Dask cluster of ``kind`` (see the module docstring)."""
    kind = (kind or "").lower()
    options = dict(options or {})
    if kind in JOBQUEUE_CLASSES:
        return _jobqueue_cluster(kind, options, secure)
    if kind == "kubernetes":
        return _kubernetes_cluster(options)
    raise ExecutorError(f"unknown cluster type {kind!r}",
                        hint=f"Choose one of: {', '.join(KINDS)}.")


def _jobqueue_cluster(kind: str, options: dict[str, Any], secure: bool) -> Any:
    try:
        import dask_jobqueue
    except ImportError:
        raise MissingDependencyError(
            f"--cluster {kind} needs dask-jobqueue",
            hint="pip install 'sciflow[hpc]'") from None
    cls = getattr(dask_jobqueue, JOBQUEUE_CLASSES[kind])
    maximum = int(options.pop("maximum_jobs", 4))
    minimum = int(options.pop("minimum_jobs", 0))
    host = options.pop("scheduler_host", "127.0.0.1")
    cores = int(options.pop("cores", 1))
    memory = options.pop("memory", "2GB")
    processes = int(options.pop("processes", 1))
    per_worker_cores = max(1, cores // processes)
    mem_mb = _memory_mb(memory) // processes
    walltime = options.pop("walltime", DEFAULT_WALLTIME)
    worker_args = list(options.pop("worker_extra_args", []))
    worker_args += ["--resources", f"cpus={per_worker_cores},mem_mb={mem_mb}"]
    worker_args += lifetime_arguments(walltime, options.pop("lifetime_margin", None))
    scheduler_options = {"host": host, "dashboard_address": f"{host}:0",
                         **options.pop("scheduler_options", {})}
    # sciflow run passes the workflow's .sciflow/jobqueue/; a direct caller gets its own cwd's
    log_dir = options.pop("log_directory", layout.jobqueue_dir(os.getcwd()))
    os.makedirs(log_dir, exist_ok=True)
    if secure:
        options.setdefault("security", True)  # jobqueue's Security.temporary(), files in log_dir
        options.setdefault("shared_temp_directory", log_dir)
        options.setdefault("protocol", "tls://")
    try:
        cluster = cls(cores=cores, memory=memory, processes=processes, walltime=walltime,
                      python=options.pop("python", sys.executable),
                      worker_extra_args=worker_args, scheduler_options=scheduler_options,
                      log_directory=log_dir, **options)
    except (OSError, ValueError, TypeError) as err:
        raise ExecutorError(f"cannot create the {kind} cluster: {err}") from None
    cluster.adapt(minimum_jobs=minimum, maximum_jobs=maximum)
    return cluster


def _kubernetes_cluster(options: dict[str, Any]) -> Any:
    try:
        from dask_kubernetes.operator import KubeCluster
    except ImportError:
        raise MissingDependencyError(
            "--cluster kubernetes needs dask-kubernetes",
            hint="pip install 'sciflow[kubernetes]'") from None
    maximum = int(options.pop("maximum_jobs", options.pop("maximum", 4)))
    minimum = int(options.pop("minimum_jobs", options.pop("minimum", 0)))
    cores = int(options.pop("cores", 1))
    options.setdefault("name", "sciflow")
    options.setdefault("resources", {"limits": {"cpu": str(cores)}})
    options.setdefault("worker_command", f"dask worker --resources cpus={cores}")
    try:
        cluster = KubeCluster(**options)
    except Exception as err:  # the operator raises many kinds; all mean "no cluster"
        raise ExecutorError(f"cannot create the Kubernetes cluster: {err}") from None
    cluster.adapt(minimum=minimum, maximum=maximum)
    return cluster


def walltime_seconds(walltime: Any) -> int:
    """A batch walltime (``"D-HH:MM:SS"``, ``"HH:MM:SS"``, ``"MM:SS"`` or minutes) in seconds."""
    if isinstance(walltime, (int, float)):
        return int(walltime * 60)
    match = re.fullmatch(r"\s*(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?\s*", str(walltime))
    if not match:
        raise ExecutorError(f"cannot read the walltime {walltime!r}", hint="e.g. '02:00:00'")
    days, *parts = match.groups()
    numbers = [int(p) for p in parts if p is not None]
    if len(numbers) == 1:  # plain minutes, as SLURM reads "--time=90"
        seconds = numbers[0] * 60
    elif len(numbers) == 2:  # MM:SS (SLURM) — with a day prefix, HH:MM
        seconds = numbers[0] * 3600 + numbers[1] * 60 if days else numbers[0] * 60 + numbers[1]
    else:
        seconds = numbers[0] * 3600 + numbers[1] * 60 + numbers[2]
    return seconds + int(days or 0) * 86400


def lifetime_arguments(walltime: Any, margin: Any = None) -> list[str]:
    """``dask worker`` arguments that retire a worker before its batch job is killed.

    The margin (default: 10% of the walltime, between 60 s and 15 min) leaves time to close
    the worker cleanly; the stagger (a tenth of the remaining lifetime, at most 5 min) spreads
    the retirements of workers started together."""
    total = walltime_seconds(walltime)
    margin_s = int(margin) if margin is not None else min(900, max(60, total // 10))
    stagger = min(300, max(0, (total - margin_s) // 10))
    lifetime = total - margin_s - stagger
    if lifetime <= 0:
        raise ExecutorError(f"the walltime {walltime!r} leaves no time for a worker after the "
                            f"{margin_s} s margin", hint="Ask for a longer walltime.")
    return ["--lifetime", f"{lifetime}s", "--lifetime-stagger", f"{stagger}s"]


def worker_capacity(kind: str, options: dict[str, Any]) -> dict[str, float]:
    """What one worker of a ``kind`` cluster made from ``options`` can give one job."""
    cores = int(options.get("cores", 1))
    processes = int(options.get("processes", 1))
    return {"cpus": max(1, cores // processes),
            "mem_mb": _memory_mb(options.get("memory", "2GB")) // processes,
            "runtime_s": walltime_seconds(options.get("walltime", DEFAULT_WALLTIME))}


def check_jobs_fit(jobs: Any, kind: str, options: dict[str, Any]) -> None:
    """Refuse, before any batch job is submitted, jobs that no worker can ever run.

    ``threads`` above a worker's cores are an error here (a local run caps them, as Snakemake
    does with ``--cores``; on a batch system the rule asked for a bigger node than the cluster
    provides). ``mem_mb`` above a worker's memory, and a ``runtime`` longer than the walltime
    (the batch system would kill the job), too. One error per rule, all rules at once."""
    from sciflow.execute.spec import runtime_seconds

    if kind not in JOBQUEUE_CLASSES:
        return
    capacity = worker_capacity(kind, options)
    problems: dict[str, str] = {}
    for job in jobs:
        name = job.rule.name
        if name in problems:
            continue
        asked = []
        if job.threads > capacity["cpus"]:
            asked.append(f"threads={job.threads} (a worker has {capacity['cpus']:g} cores)")
        mem = job.resources.get("mem_mb")
        if isinstance(mem, (int, float)) and mem > capacity["mem_mb"]:
            asked.append(f"mem_mb={mem:g} (a worker has {capacity['mem_mb']:g})")
        runtime = runtime_seconds(job.resources.get("runtime"))
        if runtime and runtime > capacity["runtime_s"]:
            asked.append(f"runtime={runtime / 60:g} min (the walltime is "
                         f"{capacity['runtime_s'] / 60:g} min)")
        if asked:
            problems[name] = f"rule {name} ({job.rule.loc}) asks for {', '.join(asked)}"
    if problems:
        raise UnsatisfiableResourcesError(
            f"no {kind} worker can run these jobs: " + "; ".join(problems.values()),
            hint="Raise --cluster-option cores=/memory=/walltime= (per batch job), or lower "
                 "the rule's threads/resources.")


def batch_job_id() -> tuple[str, str] | None:
    """(batch system, job id) of the batch job this process runs in, if any."""
    for variable, system in BATCH_JOB_ID_VARIABLES.items():
        value = os.environ.get(variable)
        if value:
            return system, value
    return None


def _memory_mb(memory: Any) -> int:
    """``"2GB"`` / ``"512MB"`` / bytes → megabytes (decimal units, as dask-jobqueue)."""
    if isinstance(memory, (int, float)):
        return int(memory / 1e6)
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)i?B?\s*", str(memory), re.IGNORECASE)
    if not match:
        raise ExecutorError(f"cannot read the memory size {memory!r}", hint="e.g. '4GB'")
    scale = {"": 1e-6, "K": 1e-3, "M": 1, "G": 1e3, "T": 1e6}[match.group(2).upper()]
    return int(float(match.group(1)) * scale)
