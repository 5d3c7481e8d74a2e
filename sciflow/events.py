"""Engine events and their listeners.

The scheduler never prints and never writes provenance itself: it tells a ``Listener`` what
happened. The console progress bar, the notebook widget, the provenance recorder and the HTML
report are all listeners (as dask's ``Callback`` and doit's reporters). A ``Broadcast`` fans
one event out to several listeners.

Order of calls for one run::

    run_started(run, plan)
      job_started(job, run)            # per job, when submitted
      job_executing(job, worker)       # per attempt, when its action begins on a worker
      job_finished(job, result)        # per job, outputs verified (result.ok) -- or
      job_failed(job, result)          # per job, after its last attempt
      job_retried(job, result)         # per failed attempt that is tried again
    run_finished(run, ok)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from sciflow.jobs import Job


@dataclass(slots=True)
class RunInfo:
    """Facts about one invocation of the engine; provenance records all of them."""

    run_id: str                      # unique, e.g. "20261128T143000Z-3f2a9c"
    workdir: str                     # absolute working directory
    workflow_path: str               # the Sciflowfile/Snakefile, as given
    started: datetime
    command_line: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    user: str = ""
    host: str = ""
    executor: str = "local"          # local | scheduler address | slurm | ...
    ended: datetime | None = None
    workflow: Any = None             # the sciflow.model.Workflow, for listeners that need rules
    status: str | None = None        # set when not plain succeeded/failed: "interrupted"
    dashboard: str | None = None     # the Dask dashboard's address, when the scheduler serves one
    orcid: str = ""                  # the researcher's ORCID iD (--orcid), if given


@dataclass(slots=True)
class JobResult:
    """What came back from running one job (attempt), filled by the executor."""

    jobid: int
    ok: bool
    started: datetime
    ended: datetime
    attempt: int = 1
    exit_code: int | None = 0
    command: str | None = None           # the shell command, or the run:/script source run
    host: str = ""                       # hostname of the machine that ran it
    worker: str = ""                     # Dask worker address (or batch job id)
    error: str | None = None             # user-facing message when not ok
    log_tail: str | None = None          # last lines of stderr/log when not ok
    software: dict[str, str] = field(default_factory=dict)  # package -> version
    max_rss_mb: float | None = None
    # what the worker, executor and scheduler add (each read by another stage; typed so a
    # misspelt key cannot pass silently):
    key: str = ""                        # the attempt's JobSpec.key ("" if unknown)
    error_type: str | None = None        # class name of what failed it: JobTimeoutError, ...
    stdout_log: str | None = None        # the file the action's stdout/stderr went to
    # output -> (size, mtime_ns, inode, sha256) of the version written, when the spec asked
    # (JobSpec.digest_outputs): the provenance recorder reuses them instead of re-reading
    digests: dict[str, tuple[int, int, int, str]] | None = None
    batch_system: str | None = None      # slurm | pbs | lsf | sge: the batch job its worker
    batch_job_id: str | None = None      # ran in (HPC clusters), for provenance
    cancelled: bool = False              # never started: the run was stopping (fail fast)
    interrupted: bool = False            # KeyboardInterrupt/SystemExit inside the action
    cached: bool = False                 # outputs restored from --cache; the action did not run
    worker_lost: bool = False            # its Dask worker died (KilledWorker)
    missing_outputs: list[str] = field(default_factory=list)  # declared outputs not made
    shell_commands: list[str] = field(default_factory=list)   # what a run: block's shell() ran


class Listener:
    """Base listener: every hook is a no-op, so subclasses override only what they need."""

    def run_started(self, run: RunInfo, jobs: Sequence["Job"]) -> None:
        """The plan is final; ``jobs`` are the jobs that will run (may grow after checkpoints)."""

    def jobs_added(self, run: RunInfo, jobs: Sequence["Job"]) -> None:
        """A checkpoint finished and the DAG grew by ``jobs``."""

    def job_started(self, run: RunInfo, job: "Job") -> None:
        """The job was submitted to the executor."""

    def job_executing(self, run: RunInfo, job: "Job", worker: str) -> None:
        """The job's action began on ``worker`` (submitted jobs may wait in a queue first:
        progress displays count *executing* jobs from this hook, not from ``job_started``)."""

    def job_finished(self, run: RunInfo, job: "Job", result: JobResult) -> None:
        """The job succeeded and its outputs exist."""

    def job_failed(self, run: RunInfo, job: "Job", result: JobResult) -> None:
        """The job failed after its last attempt."""

    def job_retried(self, run: RunInfo, job: "Job", result: JobResult) -> None:
        """An attempt of the job failed (``result``) and another attempt was submitted."""

    def run_finished(self, run: RunInfo, ok: bool) -> None:
        """The run is over (``ok`` is False if any job failed or the run was interrupted)."""


class Broadcast(Listener):
    """Sends every event to each listener in order."""

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self.listeners = list(listeners)

    def add(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def run_started(self, run, jobs):
        for lis in self.listeners:
            lis.run_started(run, jobs)

    def jobs_added(self, run, jobs):
        for lis in self.listeners:
            lis.jobs_added(run, jobs)

    def job_started(self, run, job):
        for lis in self.listeners:
            lis.job_started(run, job)

    def job_executing(self, run, job, worker):
        for lis in self.listeners:
            lis.job_executing(run, job, worker)

    def job_finished(self, run, job, result):
        for lis in self.listeners:
            lis.job_finished(run, job, result)

    def job_failed(self, run, job, result):
        for lis in self.listeners:
            lis.job_failed(run, job, result)

    def job_retried(self, run, job, result):
        for lis in self.listeners:
            lis.job_retried(run, job, result)

    def run_finished(self, run, ok):
        for lis in self.listeners:
            lis.run_finished(run, ok)
