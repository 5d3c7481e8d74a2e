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
(default 4), ``minimum_jobs`` (default 0), ``scheduler_host`` (default 127.0.0.1).
"""
from __future__ import annotations

import os
import re
import sys
from typing import Any

from sciflow.errors import ExecutorError, MissingDependencyError

JOBQUEUE_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
                    "lsf": "LSFCluster"}
KINDS = (*JOBQUEUE_CLASSES, "kubernetes")


def make_cluster(kind: str, options: dict[str, Any] | None = None) -> Any:
    """An adaptive Dask cluster of ``kind`` (see the module docstring)."""
    kind = (kind or "").lower()
    options = dict(options or {})
    if kind in JOBQUEUE_CLASSES:
        return _jobqueue_cluster(kind, options)
    if kind == "kubernetes":
        return _kubernetes_cluster(options)
    raise ExecutorError(f"unknown cluster type {kind!r}",
                        hint=f"Choose one of: {', '.join(KINDS)}.")


def _jobqueue_cluster(kind: str, options: dict[str, Any]) -> Any:
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
    worker_args = list(options.pop("worker_extra_args", []))
    worker_args += ["--resources", f"cpus={per_worker_cores},mem_mb={mem_mb}"]
    scheduler_options = {"host": host, "dashboard_address": f"{host}:0",
                         **options.pop("scheduler_options", {})}
    log_dir = options.pop("log_directory", os.path.join(os.getcwd(), ".sciflow", "jobqueue"))
    os.makedirs(log_dir, exist_ok=True)
    try:
        cluster = cls(cores=cores, memory=memory, processes=processes,
                      walltime=options.pop("walltime", "01:00:00"),
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


def _memory_mb(memory: Any) -> int:
    """``"2GB"`` / ``"512MB"`` / bytes → megabytes (decimal units, as dask-jobqueue)."""
    if isinstance(memory, (int, float)):
        return int(memory / 1e6)
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)i?B?\s*", str(memory), re.IGNORECASE)
    if not match:
        raise ExecutorError(f"cannot read the memory size {memory!r}", hint="e.g. '4GB'")
    scale = {"": 1e-6, "K": 1e-3, "M": 1, "G": 1e3, "T": 1e6}[match.group(2).upper()]
    return int(float(match.group(1)) * scale)
