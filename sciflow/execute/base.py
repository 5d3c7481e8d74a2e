"""The one executor interface, and the plain job description shipped to workers.

The scheduler (``sciflow.execute.scheduler``) decides *what* runs *when*; an ``Executor``
only runs a ``JobSpec`` somewhere and reports a ``JobResult``. Executors: the local Dask
cluster (default), an existing Dask scheduler, dask-jobqueue (SLURM/PBS/SGE/LSF) and
dask-kubernetes: all are Dask underneath, see ``sciflow.execute.dask``.

``JobSpec`` is plain, picklable data: the worker never receives the live workflow namespace.
A ``run:`` block or a ``script:`` is found again on the worker by re-loading the workflow from
``workflow_path`` (once per worker process) and looking up ``rule``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from sciflow.events import JobResult


@dataclass(slots=True)
class JobSpec:
    """Everything a worker needs to run one job attempt (all paths relative to ``workdir``)."""

    jobid: int
    rule: str
    key: str                                  # unique per attempt: sciflow-<rule>-<hash>-a<n>
    workdir: str
    workflow_path: str
    action: str | None                        # shell | run | script | notebook | None
    command: str | None = None                # the formatted shell command (shell jobs)
    script: str | None = None                 # absolute script/notebook path
    input: Any = None                         # NamedList[str]
    output: Any = None                        # NamedList[str]
    params: Any = None                        # NamedList
    log: Any = None                           # NamedList[str]
    wildcards: dict[str, str] = field(default_factory=dict)
    threads: int = 1
    resources: dict[str, Any] = field(default_factory=dict)
    benchmark: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    directory_outputs: tuple[str, ...] = ()   # outputs declared with directory()
    touch_outputs: tuple[str, ...] = ()       # outputs declared with touch()
    update_outputs: tuple[str, ...] = ()      # update(): kept (not removed) before the action
    # outputs declared with ensure(): (path, non_empty, checksum algorithm, expected hexdigest)
    ensure_outputs: tuple[tuple[str, bool, str | None, str | None], ...] = ()
    attempt: int = 1
    timeout_s: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    conda: str | None = None
    container: str | None = None
    # added by the executor: the command actually run, with each output mapped to its temp
    # path (see sciflow.execute.spec.temp_path); ``command`` keeps the real paths for display.
    exec_command: str | None = None
    use_conda: bool = False                   # --use-conda: run through `conda run -p`
    use_apptainer: bool = False               # --use-apptainer: run through `apptainer exec`
    temp_outputs: bool = False                # outputs go to temp paths, os.replace'd on success
    digest_outputs: bool = False              # return outputs' sha256 in result.digests
    # filled by sciflow.execute.deploy.apply (wrapper/conda/container/envmodules/shadow/...)
    conda_prefix: str | None = None           # --conda-prefix: where env files are created
    apptainer_args: str = ""                  # extra `apptainer exec` arguments
    envmodules: tuple[str, ...] = ()          # --use-envmodules: modules loaded first
    shadow: str | None = None                 # minimal | copy-minimal | shallow | full
    shadow_prefix: str | None = None          # --shadow-prefix: where shadow dirs are made
    benchmark_repeat: int = 1                 # benchmark: repeat(path, n)
    bench_commands: tuple[str, ...] = ()      # exec_command per run, if it uses {bench_iteration}
    cache_key: str | None = None              # --cache: provenance hash of the job
    cache_dir: str | None = None              # --cache: $SNAKEMAKE_OUTPUT_CACHE
    run_dir: str | None = None                # the run's record directory (execute.procguard)
    stop_run_on_failure: bool = False         # last attempt, no --keep-going: a failure stops
                                              # the run's jobs not yet started, at once


class Executor(ABC):
    """Runs job specs; the scheduler calls ``start`` once, ``submit`` per job, ``wait`` in a
    loop, and ``shutdown`` once (also on errors and Ctrl-C)."""

    name: str = "executor"
    # its workers run ``runner.run_job`` with ``spec.run_dir``: each attempt leaves a record
    # while it runs (see procguard), so "never started" can be told from "was running"
    records_attempts: bool = False

    @abstractmethod
    def start(self) -> None:
        """Bring up (or connect to) the workers."""

    @abstractmethod
    def submit(self, spec: JobSpec, priority: int = 0) -> None:
        """Start running ``spec`` as soon as a worker with its resources is free."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> list[JobResult]:
        """Block until at least one submitted job finished (or ``timeout``); return results."""

    def executing(self) -> list[tuple[int, str, str]]:
        """``(jobid, attempt key, worker)`` of each job whose action began since the last
        call (the scheduler turns them into ``Listener.job_executing``). Executors that
        cannot tell return nothing: jobs then count as running from their result on."""
        return []

    @abstractmethod
    def shutdown(self) -> None:
        """Stop what ``start`` started; leave external clusters running."""

    @property
    def address(self) -> str:
        """A human-readable description of where jobs run (for provenance and progress)."""
        return self.name

    def __enter__(self) -> "Executor":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
