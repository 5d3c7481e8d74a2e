"""The one entry point for running a workflow, used by ``sciflow run`` and the notebook API.

``run(options, listeners)``: load the file → build the DAG → plan → (dry run: return the plan)
→ lock → describe the run (``RunInfo``) → provenance recorder → executor → scheduler → summary.

Paths: everything is relative to ``options.directory`` (``-d DIR``), passed explicitly to the
planner, metadata store, lock and scheduler. Only user code that Snakemake runs inside the
working directory (the workflow file's top level, input functions while the DAG is built or
re-evaluated after a checkpoint, and the onstart/onsuccess/onerror handlers) is run with the
process's current directory set to it, and the previous directory is restored afterwards.
"""
from __future__ import annotations

import getpass
import inspect
import os
import secrets
import socket
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from sciflow import layout
from sciflow.layout import in_directory
from sciflow.errors import (ExecutorError, MissingDependencyError, RunFailedError,
                            RunInterruptedError, SciflowError, UsageError, WorkflowError)
from sciflow.events import Broadcast, JobResult, Listener, RunInfo
from sciflow.jobs import Job
from sciflow.lock import RunLock, unlock
from sciflow.metadata import MetadataStore, fingerprint, input_checksums, records_for
from sciflow.plan import Plan, PlanOptions, make_plan, parse_consider_ancient

CLUSTERS = ("slurm", "pbs", "sge", "lsf", "kubernetes")


@dataclass(slots=True)
class RunOptions:
    """Every ``sciflow run`` flag. ``workdir``/``config_overrides`` are aliases of
    ``directory``/``config`` for callers that prefer those names."""

    targets: list[str] = field(default_factory=list)
    snakefile: str | None = None
    directory: str | None = None
    cores: int | None = None
    dry_run: bool = False
    json: bool = False
    forceall: bool = False
    forcerun: list[str] = field(default_factory=list)
    until: list[str] = field(default_factory=list)
    omit_from: list[str] = field(default_factory=list)  # rules/files left out, with downstream
    max_jobs_per_timespan: tuple[int, float] | None = None  # (N, seconds): submission rate limit
    consider_ancient: list[str] = field(default_factory=list)  # RULE=ITEM[,ITEM] (plan.py)
    content_check: bool = True  # same HDF5/NetCDF content = unchanged input (plan.py)
    keep_going: bool = False
    rerun_incomplete: bool = False
    keep_incomplete: bool = False
    touch: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    configfiles: list[str] = field(default_factory=list)
    replace_workflow_config: bool = False  # --configfile/--config replace configfile:'s config
    scheduler: str | None = None
    client: Any = None  # a distributed.Client to run on (the caller's; never closed)
    cluster: str | None = None
    cluster_options: dict[str, Any] = field(default_factory=dict)
    profile: str | None = None
    provenance: bool = True
    orcid: str = ""                     # the researcher's ORCID iD (--orcid), for provenance
    unlock: bool = False
    force: bool = False  # with unlock: remove locks even if their owner is alive
    use_conda: bool = False
    use_apptainer: bool = False
    conda_frontend: str | None = None      # --conda-frontend: conda | mamba | micromamba
    conda_cleanup_pkgs: str | None = None  # --conda-cleanup-pkgs: tarballs | cache
    printshellcmds: bool = False
    atomic_outputs: bool = False  # outputs written to temp paths and renamed into place
    secure_local: bool = True  # mutual TLS with a per-run certificate on clusters we start
    tls_ca_file: str | None = None  # for --scheduler tls://…
    tls_cert: str | None = None
    tls_key: str | None = None
    # wrapper:/conda:/envmodules:/shadow: (sciflow.execute.deploy)
    wrapper_prefix: str | None = None   # --wrapper-prefix: a copy of snakemake-wrappers
    conda_prefix: str | None = None     # --conda-prefix: where conda envs are created
    use_envmodules: bool = False        # --use-envmodules
    shadow_prefix: str | None = None    # --shadow-prefix: where shadow directories are made
    cache: list[str] | None = None      # --cache [RULE…]: None off, [] all rules with cache:
    set_scatter: dict[str, int] = field(default_factory=dict)  # --set-scatter NAME=N
    verbose: bool = False         # Dask's own log lines on the console
    kill_on_failure: bool = False  # after the first failure (no -k) kill running jobs too
    command_line: list[str] = field(default_factory=list)
    # Snakemake's tuning flags (sciflow.resources_config, sciflow.latency); dicts or CLI strings
    latency_wait: float | None = None       # None: 0 locally, 5 s with --cluster (shared FS)
    retries: int | None = None              # for rules without a retries: directive
    set_threads: dict[str, int] = field(default_factory=dict)
    set_resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_resources: dict[str, Any] | None = None   # None: none; {} or more: Snakemake's full set
    all_temp: bool = False
    notemp: bool = False
    workdir: str | None = None
    config_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.workdir and not self.directory:
            self.directory = self.workdir
        if self.config_overrides:
            self.config = {**self.config, **self.config_overrides}
        if isinstance(self.targets, str):
            self.targets = [self.targets]
        if self.cluster and self.cluster not in CLUSTERS:
            raise UsageError(f"--cluster {self.cluster}: unknown cluster type",
                             hint=f"Choose one of: {', '.join(CLUSTERS)}.")
        if self.cores == "all":  # Snakemake's --cores all
            self.cores = None
        if self.cores is not None and int(self.cores) < 1:
            raise UsageError(f"--cores {self.cores}: must be at least 1")


@dataclass(slots=True)
class RunSummary:
    """What a run did: the plan, each job's result, and whether everything succeeded."""

    plan: Plan | None
    ok: bool
    run: RunInfo | None = None
    results: dict[int, JobResult] = field(default_factory=dict)   # jobid -> result
    dry_run: bool = False
    touched: int = 0
    unlocked: int = 0
    error: SciflowError | None = None

    @property
    def jobs(self) -> list[Job]:
        return list(self.plan.jobs) if self.plan is not None else []

    def __repr__(self) -> str:
        n = len(self.plan.jobs) if self.plan else 0
        state = "dry run" if self.dry_run else ("ok" if self.ok else "FAILED")
        extra = f", error={self.error}" if self.error else ""
        return f"RunSummary({state}, {n} planned jobs, {len(self.results)} results{extra})"


# ------------------------------------------------------------------------------ helpers


def new_run_id(now: datetime | None = None) -> str:
    """``20261128T143000Z-3f2a9c``: sortable by start time, unique by the random suffix."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def apply_profile(options: RunOptions) -> RunOptions:
    """Fill options still at their defaults from ``options.profile`` (a Snakemake profile:
    see ``sciflow.profile``; the command line applies profiles itself, with its precedence)."""
    if not options.profile:
        return options
    from sciflow.profile import apply_to_options

    return apply_to_options(options)


def find_workflow(options: RunOptions, workdir: str) -> str:
    """The workflow file: ``-s`` as given (or inside ``-d``), else the usual names in ``-d``."""
    return str(layout.find_workflow_file(options.snakefile, workdir))


class _WorkdirDAG:
    """The DAG, with ``after_checkpoint`` (which runs user input functions) inside workdir."""

    def __init__(self, dag: Any, workdir: str) -> None:
        self._dag = dag
        self._workdir = workdir

    def after_checkpoint(self, job: Job) -> list[Job]:
        with in_directory(self._workdir):
            return self._dag.after_checkpoint(job)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dag, name)


def _call_handler(handler: Any, log_path: str, workdir: str) -> None:
    """Call an onstart/onsuccess/onerror handler as Snakemake does (with ``log`` if wanted)."""
    if handler is None:
        return
    try:
        wants_log = bool(inspect.signature(handler).parameters)
    except (TypeError, ValueError):
        wants_log = False
    name = getattr(handler, "__name__", "handler").replace("_sf_", "")
    try:
        with in_directory(workdir):
            handler(log_path) if wants_log else handler()
    except SciflowError:
        raise
    except Exception as exc:  # user code: report it as a workflow problem, not a traceback
        raise WorkflowError(f"the {name} handler failed: {type(exc).__name__}: {exc}",
                            hint=f"See the run log {log_path}.") from exc


class _RunLog(Listener):
    """A plain-text log of the run (``.sciflow/logs/<run_id>.log``), handed to handlers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")

    def _write(self, text: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
        self._fh.write(f"[{stamp}] {text}\n")  # flushed on failures and at the end

    def run_started(self, run, jobs):
        self._write(f"run {run.run_id}: {len(jobs)} jobs planned")

    def jobs_added(self, run, jobs):
        self._write(f"{len(jobs)} jobs added after a checkpoint")

    def job_started(self, run, job):
        self._write(f"start {job!r}: {job.reason_text}")

    def job_executing(self, run, job, worker):
        command = f": {job.command.strip()}" if job.command else ""
        self._write(f"exec  {job!r} on {worker or '?'}{command}")

    def job_finished(self, run, job, result):
        self._write(f"done  {job!r}")

    def job_failed(self, run, job, result):
        self._write(f"FAILED {job!r}: exit status {result.exit_code}; {result.error or ''}")
        if result.log_tail:
            self._fh.write(result.log_tail.rstrip() + "\n")
        self._fh.flush()

    def run_finished(self, run, ok):
        self._write(f"run {run.run_id} {'finished' if ok else 'failed'}")
        self._fh.close()


def make_executor(options: RunOptions, workdir: str) -> Any:
    """The Dask executor for ``--scheduler``/``--cluster``, else a local cluster sized by cores.

    A batch cluster's logs and certificates go to the workflow's ``.sciflow/jobqueue/`` (not the
    caller's current directory, which an API caller or a test does not change)."""
    try:
        from sciflow.execute.dask import DaskExecutor
    except ImportError as exc:
        raise ExecutorError(f"the Dask executor is not available: {exc}") from None
    from sciflow.execute.security import TLSFiles, check_address, client_security

    security: Any = None if options.secure_local else False
    if options.scheduler:
        security = client_security(TLSFiles(options.tls_ca_file, options.tls_cert,
                                            options.tls_key))
        check_address(options.scheduler, security)
    elif any((options.tls_ca_file, options.tls_cert, options.tls_key)):
        raise UsageError("--tls-ca-file/--tls-cert/--tls-key are for --scheduler: clusters "
                         "sciflow starts get a certificate of their own")
    cluster_options = dict(options.cluster_options or {})
    if options.cluster:
        cluster_options.setdefault("log_directory", layout.jobqueue_dir(workdir))
    return DaskExecutor(cores=options.cores, scheduler_address=options.scheduler,
                        cluster=options.cluster, cluster_options=cluster_options,
                        security=security, quiet=not options.verbose, client=options.client)


def _local_client(client: Any) -> bool:
    """No client, or one whose scheduler is on this machine (a notebook session's cluster):
    cores are this machine's and outputs need no shared-file-system wait."""
    if client is None:
        return True
    from urllib.parse import urlparse

    address = str(getattr(client.scheduler, "address", "") or "")
    host = urlparse(address.replace("inproc://", "tcp://")).hostname or ""
    return address.startswith("inproc://") or host in ("127.0.0.1", "localhost", "::1")


def _touch(plan: Plan, meta: MetadataStore, workdir: str, run_id: str) -> int:
    """``--touch``: mark planned outputs up to date (in topological order) instead of running."""
    code: dict[str, str] = {}
    touched = 0
    wf_dir = os.path.join(workdir, os.path.dirname(plan.dag.workflow.path or "")) if plan.dag else workdir
    for job in plan.jobs:
        mtimes = {}
        for o in job.output:
            path = os.path.join(workdir, str(o))
            if not os.path.exists(path):
                continue  # Snakemake touches existing files only
            os.utime(path, None)
            mtimes[str(o)] = os.stat(path).st_mtime
            touched += 1
        if mtimes:
            meta.record(records_for(job, fingerprint(job, wf_dir, code), mtimes, run_id,
                                    input_checksums(job, workdir)))
    return touched


# ------------------------------------------------------------------------------ the run
def run(options: RunOptions, listeners: Iterable[Listener] = ()) -> RunSummary:
    """Run (or dry-run) a workflow; see the module docstring. Raises ``SciflowError``s:
    ``WorkflowError`` for a bad workflow, ``RunFailedError`` (with ``.summary``) if jobs failed."""
    from sciflow.compat.workflow_object import run_settings
    from sciflow.dag import build_dag
    from sciflow.parse import load_workflow

    options = apply_profile(options)
    workdir = os.path.abspath(options.directory or ".")
    if not os.path.isdir(workdir):
        raise UsageError(f"-d {options.directory}: no such directory")
    if options.unlock:
        return RunSummary(None, True, unlocked=unlock(workdir, force=options.force))
    path = find_workflow(options, workdir)
    # --configfile paths are relative to where the command was typed, not to -d (Snakemake)
    configfiles = [os.path.abspath(p) for p in options.configfiles or ()]
    # run_settings: the options the workflow object shows (workflow.cores, .configfiles, ...)
    with run_settings(options), in_directory(workdir):
        workflow = load_workflow(path, config_overrides=dict(options.config or {}),
                                 configfiles=configfiles, scatter=dict(options.set_scatter or {}),
                                 replace_config=options.replace_workflow_config)
        _apply_rule_settings(workflow, options)
        if workflow.workdir:  # the file's ``workdir:`` directive, relative to -d
            workdir = os.path.abspath(workflow.workdir)
            os.makedirs(workdir, exist_ok=True)
    with in_directory(workdir):
        dag = build_dag(workflow, list(options.targets or ()))
    _check_rule_names(workflow, dag, "--forcerun", options.forcerun)
    _check_rule_names(workflow, dag, "--until", options.until)
    _check_rule_names(workflow, dag, "--omit-from", options.omit_from)
    plan_options = PlanOptions(workdir=workdir, forceall=options.forceall,
                               forcerun=set(options.forcerun or ()), until=set(options.until or ()),
                               omit_from=set(options.omit_from or ()),
                               rerun_incomplete=options.rerun_incomplete, touch=options.touch,
                               consider_ancient=parse_consider_ancient(options.consider_ancient),
                               content_check=options.content_check)
    meta = MetadataStore(workdir, readonly=options.dry_run)  # a dry run writes nothing
    try:
        plan = make_plan(dag, meta, plan_options)
        if options.dry_run:
            return RunSummary(plan, True, dry_run=True)
        started = datetime.now(timezone.utc)
        run_info = RunInfo(
            run_id=new_run_id(started), workdir=workdir, workflow_path=path, started=started,
            command_line=list(options.command_line or sys.argv), targets=list(options.targets or ()),
            config=dict(workflow.config), user=_user(), host=socket.gethostname(),
            executor=options.scheduler or options.cluster or "local", workflow=workflow,
            orcid=options.orcid)
        if options.touch:
            return RunSummary(plan, True, run_info, touched=_touch(plan, meta, workdir, run_info.run_id))
        if not plan.jobs:  # nothing to do: no lock, no cluster, no provenance
            return RunSummary(plan, True, run_info)
        lock = RunLock(workdir, run_info.run_id, (str(o) for j in plan.jobs for o in j.output))
        from sciflow.execute.procguard import interrupt_signals

        with interrupt_signals():  # SIGINT/SIGTERM: a clean stop (see _execute)
            lock.acquire()
            try:
                from sciflow.execute.scheduler import Scheduler, SchedulerOptions  # not for -n

                return _execute(options, workdir, workflow, dag, plan, plan_options, meta,
                                run_info, listeners, Scheduler, SchedulerOptions)
            except KeyboardInterrupt as exc:  # before any job ran (e.g. the onstart handler)
                raise _interrupted(run_info, exc, 0) from None
            finally:
                lock.release()
    finally:
        meta.close()


def _apply_rule_settings(workflow: Any, options: RunOptions) -> None:
    """``--set-threads``/``--set-resources``/``--default-resources``/``--retries``/
    ``--all-temp``/``--notemp`` change the loaded rules (sciflow.resources_config)."""
    from sciflow.resources_config import apply_rule_settings, settings_from

    apply_rule_settings(workflow, settings_from(options))
def _interrupted(run_info: RunInfo, exc: BaseException, running: int) -> RunInterruptedError:
    """The one line ``sciflow run`` prints after SIGINT/SIGTERM (exit status 128 + signal)."""
    signum = getattr(exc, "signum", 2)
    name = {2: "SIGINT (Ctrl-C)", 15: "SIGTERM"}.get(signum, f"signal {signum}")
    return RunInterruptedError(
        f"run {run_info.run_id} interrupted by {name}: {running} running job(s) stopped, "
        "their outputs removed and marked incomplete; provenance closed, lock released",
        signum)


def _check_rule_names(workflow: Any, dag: Any, flag: str, names: Iterable[str]) -> None:
    """``--forcerun``/``--until`` take rule names (or output files); a typo is an error."""
    names = [n for n in names or () if n not in workflow.rules]
    if not names:
        return
    outputs = {str(o) for job in dag.jobs for o in job.output}
    unknown = [n for n in names if n not in outputs]
    if unknown:
        import difflib
        close = difflib.get_close_matches(unknown[0], list(workflow.rules), n=3)
        raise UsageError(f"{flag} {' '.join(unknown)}: no such rule (or output file of the DAG)",
                         hint=f"Did you mean: {', '.join(close)}?" if close else
                         f"Rules: {', '.join(workflow.rules)}.")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return str(os.getuid())


def _execute(options, workdir, workflow, dag, plan, plan_options, meta, run_info, listeners,
             Scheduler, SchedulerOptions) -> RunSummary:
    from functools import partial

    from sciflow.execute.deploy import ActionSettings, preflight
    from sciflow.execute.spec import make_spec
    local_run = not options.scheduler and not options.cluster and _local_client(options.client)
    settings = ActionSettings.from_options(
        options, workdir, (options.cores or os.cpu_count() or 1) if local_run else options.cores)
    preflight(plan.jobs, workflow, settings, dag)  # wrappers, conda, apptainer, module, cache
    broadcast = Broadcast(listeners)
    log_path = layout.run_log(workdir, run_info.run_id)
    broadcast.add(_RunLog(log_path))
    if options.provenance:  # recorded, or explicitly off (--no-provenance): never by accident
        try:
            from sciflow.provenance.record import ProvenanceRecorder
        except ImportError as exc:
            raise MissingDependencyError(
                f"provenance cannot be recorded: {exc}",
                hint="Reinstall sciflow's dependencies (pip install --force-reinstall "
                     "pyoxigraph), or run with --no-provenance to run without a record.") from None
        broadcast.add(ProvenanceRecorder(workdir))
    recording = any(getattr(lis, "wants_output_digests", False) for lis in broadcast.listeners)
    executor = make_executor(options, workdir)
    if options.cluster:  # before any batch job is submitted
        from sciflow.execute.hpc import check_jobs_fit
        check_jobs_fit(plan.jobs, options.cluster, dict(options.cluster_options or {}))
    local = local_run
    latency = options.latency_wait if options.latency_wait is not None else (0 if local else 5)
    if latency:
        from sciflow.latency import LatencyWait

        executor = LatencyWait(executor, latency)
    cores = (options.cores or os.cpu_count() or 1) if local else None
    # Dask workers advertise "cpus" and the executor requests ``threads`` of them, so the
    # scheduler only caps threads and keeps a window of jobs queued ahead (measured: ~40%
    # faster for 1,000 trivial jobs than waiting for a free core before each submission).
    sched_options = SchedulerOptions(workdir=workdir, cores=cores, enforce_cores=False,
                                     max_in_flight=max(32, 8 * (cores or 4)),
                                     keep_going=options.keep_going,
                                     kill_on_failure=options.kill_on_failure,
                                     keep_incomplete=options.keep_incomplete,
                                     use_conda=options.use_conda, use_apptainer=options.use_apptainer,
                                     atomic_outputs=options.atomic_outputs,
                                     digest_outputs=recording,
                                     max_jobs_per_timespan=options.max_jobs_per_timespan)
    from sciflow.resources_config import with_attempt

    scheduler = Scheduler(_WorkdirDAG(dag, workdir), plan, executor, meta, run_info, broadcast,
                          sched_options, plan_options,
                          spec_factory=with_attempt(partial(make_spec, settings=settings)))
    _call_handler(workflow.onstart, str(log_path), workdir)
    summary = RunSummary(plan, False, run_info)
    try:
        results = scheduler.run()
    except KeyboardInterrupt as exc:  # SIGINT/SIGTERM: the scheduler has cleaned up
        raise _interrupted(run_info, exc, len(scheduler.interrupted_jobs)) from None
    except RunFailedError as exc:
        summary.results = {j.jobid: r for j, r in scheduler.results.items()}
        plan.jobs = list(scheduler.jobs)
        summary.error = exc
        exc.summary = summary  # type: ignore[attr-defined]
        _call_handler(workflow.onerror, str(log_path), workdir)
        raise
    summary.results = {j.jobid: r for j, r in results.items()}
    plan.jobs = list(scheduler.jobs)  # including jobs added after checkpoints
    summary.ok = True
    _call_handler(workflow.onsuccess, str(log_path), workdir)
    return summary
