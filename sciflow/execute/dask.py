"""The Dask executor: every sciflow job is one Dask task running ``runner.run_job``.

Where the workers come from:

* default: a ``distributed.LocalCluster`` of worker *processes* on 127.0.0.1 only (no
  dashboard, no 0.0.0.0 listener), sized by ``cores``, started and stopped by the run;
* ``scheduler_address="tcp://host:port"``: an existing Dask scheduler (left running);
* ``client=distributed.Client``: the caller's client (a notebook session's), used as it is
  and never closed;
* ``cluster="slurm"|"pbs"|"sge"|"lsf"|"kubernetes"``: an adaptive cluster made by
  ``sciflow.execute.hpc``.

Jobs are submitted as their inputs become ready (the scheduler decides), each with a fresh
key per attempt (``pure=False``): Dask would hand back an old result for a key it still holds.
Short jobs of a rule (its latest jobs each took < FAST_JOB_S) go in batches, one Dask task
running a few specs in turn, each still with its own ``JobResult``: Dask's own cost per task
is about that of a trivial job. ``threads`` and resources become Dask worker resources when
workers advertise them; a request no worker can ever meet fails the job at once instead of
waiting forever in Dask's ``no-worker`` state.

A worker that dies (``KilledWorker``) fails every task Dask had assigned to it, queued ones
included, and each job of a lost batch: each comes back as a result with
``worker_lost``; the scheduler tells a job that was running there (its record in
the run's directory, see ``procguard``) from one only queued, kills what is left of it and
retries it. Dask's silent re-runs are turned off on clusters we start (sciflow counts
attempts and records them). Workers of clusters we start ignore SIGINT: Ctrl-C is the
driver's to handle, and Dask's own log lines stay off the console unless ``verbose``.

A task handed to Dask may wait in a worker's queue: "submitted" is not "running". Each job
tells the driver when its action really begins, with a Dask event (``log_event`` on the
``EXECUTING_TOPIC`` topic, from inside the task, once per job of a batch); ``executing()``
hands those to the scheduler, which calls ``Listener.job_executing``. The scheduler's HTTP
server (the dashboard, when bokeh is installed, and Prometheus ``/metrics`` when
prometheus-client is) listens on 127.0.0.1 only; ``dashboard_link`` says where.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import threading
import time
from datetime import datetime, timezone
from typing import Any, Iterator

from sciflow.errors import ExecutorError
from sciflow.events import JobResult
from sciflow.execute import procguard
from sciflow.execute.base import Executor, JobSpec
from sciflow.execute.runner import run_job

# Worker-side settings for clusters we start: jobs are not data-holding Dask tasks.
_DASK_CONFIG = {
    "distributed.scheduler.allowed-failures": 0,  # sciflow retries, not Dask
    "distributed.worker.daemon": False,           # run: blocks may use multiprocessing
    "distributed.scheduler.work-stealing": True,
    "distributed.logging.distributed": "error",
}
RESOURCE_REFRESH_S = 2.0
# Short jobs of one rule go to Dask in batches (one task runs several specs, one after the
# other, each with its own JobResult): Dask costs ~1 ms of scheduler and worker time per
# task, as much as a trivial job itself. A rule is batched once its last FAST_EVIDENCE
# results in a row each took less than FAST_JOB_S (a slow one, e.g. the first run: job of a
# worker loading the workflow, starts the count again), so a batch delays its jobs' results
# by about (BATCH_MAX - 1) * FAST_JOB_S at most while the rule stays that fast.
FAST_JOB_S = 0.2
FAST_EVIDENCE = 8
BATCH_MAX = 8
EXECUTING_TOPIC = "sciflow-executing"


class DaskExecutor(Executor):
    """Runs ``JobSpec``s on Dask; see the module docstring for where the workers come from."""

    name = "local"
    records_attempts = True

    def __init__(self, cores: int | None = None, scheduler_address: str | None = None,
                 cluster: str | None = None, cluster_options: dict[str, Any] | None = None,
                 quiet: bool = True, connect_timeout: float = 20.0,
                 security: Any = None, client: Any = None) -> None:
        if sum(map(bool, (scheduler_address, cluster, client))) > 1:
            raise ExecutorError("choose one of a scheduler address, a cluster type or a client")
        self.cores = cores or os.cpu_count() or 1
        self.scheduler_address = scheduler_address
        self.cluster_kind = cluster
        self.cluster_options = dict(cluster_options or {})
        self.quiet = quiet
        self.connect_timeout = connect_timeout
        # distributed.Security for every connection (see sciflow.execute.security); None
        # means a fresh temporary certificate for a cluster we start, Dask's config otherwise
        self.security = security
        self.client: Any = None
        self._given_client = client                   # the caller's: never closed here
        self.cluster: Any = None
        self._owns_cluster = False
        self._completed: Any = None                   # distributed.as_completed
        self._pending: dict[str, list[tuple[JobSpec, datetime]]] = {}  # key -> its job(s)
        self._quick_streak: dict[str, int] = {}  # rule -> its latest results in a row < FAST_JOB_S
        self._failed_now: list[JobResult] = []        # failures decided at submit time
        self._buffer: dict[tuple, list[tuple[JobSpec, datetime]]] = {}  # not yet sent
        self._resources: dict[str, float] = {}        # largest amount any worker offers
        self._resources_at = 0.0
        self._lock = threading.Lock()
        self._executing: list[tuple[int, str, str]] = []  # (jobid, key, worker), not yet read
        if scheduler_address:
            self.name = scheduler_address
        elif client is not None:
            self.name = client.scheduler.address
        elif cluster:
            self.name = cluster

    # ------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        _refuse_during_spawn_bootstrap()
        import dask
        from distributed import Client, as_completed

        if self.quiet:
            _silence_dask_logging()
        config = {**_DASK_CONFIG,
                  "distributed.logging.distributed": "critical" if self.quiet else "warning"}
        try:
            if self._given_client is not None:
                self.client = self._given_client
            elif self.scheduler_address:
                self.client = Client(self.scheduler_address, timeout=self.connect_timeout,
                                     set_as_default=False, security=self.security)
            else:
                with dask.config.set(config), _abandoned_on_interrupt():
                    self.cluster = self._make_cluster()
                    self._owns_cluster = True
                    self.client = Client(self.cluster, set_as_default=False,
                                         security=getattr(self.cluster, "security", None))
                self._ignore_sigint_on_workers()
        except ExecutorError:
            self.shutdown()
            raise
        except RuntimeError as err:  # "Nanny failed to start": a worker process died starting
            self.shutdown()
            raise ExecutorError(
                f"the Dask cluster could not start its workers: {err}",
                hint="Worker processes are spawned and re-import the main module: a script "
                     "that starts a run must do so under `if __name__ == \"__main__\":`.") from None
        except (OSError, TimeoutError) as err:
            self.shutdown()
            where = self.scheduler_address or "a local Dask cluster"
            raise ExecutorError(f"cannot connect to {where}: {err}",
                                hint="Check that the scheduler is running and reachable "
                                     "(e.g. `dask scheduler --host 127.0.0.1`).") from None
        self._completed = as_completed(loop=self.client.loop, with_results=True,
                                       raise_errors=False)
        try:
            self.client.subscribe_topic(EXECUTING_TOPIC, self._on_executing)
        except Exception:  # an old distributed: "running" then means "submitted"
            pass

    def _on_executing(self, event: Any) -> None:
        """A job's action began on a worker (called on the client's event loop)."""
        _stamp, msg = event if isinstance(event, tuple) else (None, event)
        if not isinstance(msg, dict):
            return
        with self._lock:
            self._executing.append((int(msg.get("jobid", -1)), str(msg.get("key", "")),
                                    str(msg.get("worker", ""))))
        completed = self._completed
        if completed is not None:  # wake ``wait`` (its condition only; never as_completed's lock)
            with completed.thread_condition:
                completed.thread_condition.notify_all()

    def executing(self) -> list[tuple[int, str, str]]:
        with self._lock:
            events, self._executing = self._executing, []
        return events

    @property
    def dashboard_link(self) -> str | None:
        """The scheduler's HTTP address (dashboard, ``/metrics``), when it serves one."""
        if self.client is None:
            return None
        try:
            info = self.client.scheduler_info(n_workers=0)
            port = (info.get("services") or {}).get("dashboard")
        except Exception:
            return None
        if not port:
            return None
        from urllib.parse import urlparse
        host = urlparse(self.client.scheduler.address.replace("tls://", "tcp://")).hostname
        return f"http://{host}:{port}/status"

    def _make_cluster(self) -> Any:
        if self.cluster_kind:
            from sciflow.execute.hpc import make_cluster
            return make_cluster(self.cluster_kind, self.cluster_options, secure=self.security is not False)
        from distributed import LocalCluster, Security
        from sciflow.execute.security import temporary_security

        security = (Security() if self.security is False
                    else self.security or temporary_security())

        options = dict(self.cluster_options)
        threads = int(options.pop("threads_per_worker", 1))
        workers = int(options.pop("n_workers", max(1, self.cores // threads)))
        resources = {"cpus": threads, **options.pop("resources", {})}
        return LocalCluster(
            n_workers=workers, threads_per_worker=threads, processes=True,
            host="127.0.0.1", dashboard_address=options.pop("dashboard_address", "127.0.0.1:0"),
            scheduler_kwargs={"dashboard": _has_bokeh(), **options.pop("scheduler_kwargs", {})},
            worker_dashboard_address=None,
            resources=resources, memory_limit=options.pop("memory_limit", 0), security=security,
            silence_logs=logging.CRITICAL if self.quiet else logging.WARNING, **options)

    def _ignore_sigint_on_workers(self) -> None:
        """Workers leave Ctrl-C to the driver (no KeyboardInterrupt tracebacks): a plugin,
        so that workers the nanny restarts later ignore it too. (Spawning them with SIGINT
        ignored would also make the driver lose a Ctrl-C pressed while they start.)"""
        from distributed.diagnostics.plugin import WorkerPlugin

        class _IgnoreSigint(WorkerPlugin):
            name = "sciflow-ignore-sigint"

            def setup(self, worker: Any) -> None:
                procguard.ignore_sigint()

        try:
            self.client.register_plugin(_IgnoreSigint())
        except Exception:  # an old distributed: the spawn-time SIG_IGN still holds
            pass

    def shutdown(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if self._completed is not None:
            self._completed.clear()
            self._completed = None
        self._pending.clear()
        self._buffer.clear()
        if client is not None and client is not self._given_client:
            try:
                client.close(timeout=10)
            except Exception:  # closing is best effort; the run is over anyway
                pass
        if cluster is not None and self._owns_cluster:
            try:
                cluster.close(timeout=20)
            except Exception:
                pass

    @property
    def address(self) -> str:
        if self.client is not None:
            return self.client.scheduler.address
        return self.scheduler_address or self.name

    # ------------------------------------------------------------------------ jobs
    def submit(self, spec: JobSpec, priority: int = 0) -> None:
        if self.client is None:
            raise ExecutorError("the Dask executor was not started")
        submitted = datetime.now(timezone.utc)
        request, problem = self._resource_request(spec)
        if problem:
            self._failed_now.append(JobResult(
                jobid=spec.jobid, ok=False, started=submitted, ended=submitted,
                attempt=spec.attempt, exit_code=None, command=spec.command,
                error=problem, error_type="UnsatisfiableResources", key=spec.key))
            return
        try:  # params are the one user-made object in a spec; Dask would fail asynchronously
            pickle.dumps(spec.params)
        except Exception as err:
            self._failed_now.append(_unsendable(spec, submitted, err))
            return
        # Buffered: ``wait`` hands all jobs submitted since the last call to Dask in one
        # message per (priority, resources) group, instead of one graph update per job.
        group = (priority, tuple(sorted(request.items())))
        self._buffer.setdefault(group, []).append((spec, submitted))

    def _flush(self) -> None:
        buffer, self._buffer = self._buffer, {}
        for (priority, request), items in buffer.items():
            single, batches = self._batches(items)
            specs = [spec for spec, _ in single]
            futures: list[Any] = []
            try:
                if specs:
                    futures = self.client.map(run_one, specs, key=[s.key for s in specs],
                                              pure=False, priority=priority,
                                              resources=dict(request) or None, retries=0)
            except Exception:  # e.g. params that cannot be pickled: find the culprit(s)
                futures = [self._submit_one(spec, priority, dict(request), submitted)
                           for spec, submitted in single]
            for item, future in zip(single, futures):
                if future is not None:
                    self._pending[future.key] = [item]
            for batch in batches:
                future = self._submit_batch(batch, priority, dict(request))
                futures.append(future)
            self._completed.update([f for f in futures if f is not None])

    def _batches(self, items: list[tuple[JobSpec, datetime]]
                 ) -> tuple[list[tuple[JobSpec, datetime]], list[list[tuple[JobSpec, datetime]]]]:
        """Split one submission group into jobs sent alone and batches of short jobs of the
        same rule (see FAST_JOB_S)."""
        single: list[tuple[JobSpec, datetime]] = []
        by_rule: dict[str, list[tuple[JobSpec, datetime]]] = {}
        for item in items:
            if self._quick_streak.get(item[0].rule, 0) >= FAST_EVIDENCE and item[0].threads <= 1:
                by_rule.setdefault(item[0].rule, []).append(item)
            else:
                single.append(item)
        batches = []
        for group in by_rule.values():
            n = -(-len(group) // BATCH_MAX)  # as few batches as possible, evenly filled
            size = -(-len(group) // n)
            for i in range(0, len(group), size):
                chunk = group[i:i + size]
                if len(chunk) == 1:
                    single.extend(chunk)
                else:
                    batches.append(chunk)
        return single, batches

    def _submit_batch(self, batch: list[tuple[JobSpec, datetime]], priority: int,
                      request: dict[str, float]) -> Any:
        specs = [spec for spec, _ in batch]
        key = f"sciflow-batch-{specs[0].key}-{len(specs)}"
        try:
            future = self.client.submit(run_jobs, specs, key=key, pure=False, priority=priority,
                                        resources=request or None, retries=0)
        except Exception:  # one of them cannot be sent: send each alone to find which
            for spec, submitted in batch:
                one = self._submit_one(spec, priority, request, submitted)
                if one is not None:
                    self._pending[one.key] = [(spec, submitted)]
                    self._completed.add(one)
            return None
        self._pending[future.key] = batch
        return future

    def _learn(self, result: JobResult, rule: str) -> None:
        """Remember whether ``rule``'s jobs are short enough to be batched."""
        quick = result.ok and (result.ended - result.started).total_seconds() < FAST_JOB_S
        self._quick_streak[rule] = self._quick_streak.get(rule, 0) + 1 if quick else 0

    def _submit_one(self, spec: JobSpec, priority: int, request: dict[str, float],
                    submitted: datetime) -> Any:
        try:
            return self.client.submit(run_one, spec, key=spec.key, pure=False,
                                      priority=priority, resources=request or None, retries=0)
        except Exception as err:
            self._failed_now.append(_unsendable(spec, submitted, err))
            return None

    def wait(self, timeout: float | None = None) -> list[JobResult]:
        if self._buffer:
            self._flush()
        results, self._failed_now = self._failed_now, []
        if results or self._completed is None:
            return results + (self._collect(block=False) if self._completed is not None else [])
        deadline = None if timeout is None else time.monotonic() + timeout
        # (never call as_completed.count()/is_empty() while holding its condition: its
        # callback takes the lock and then the condition, so that would deadlock)
        cond = self._completed.thread_condition
        with cond:
            while not self._completed.has_ready() and not self._executing:
                if not self._pending:
                    return []
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return []
                cond.wait(1.0 if remaining is None else min(remaining, 1.0))
        return self._collect(block=False)

    def _collect(self, block: bool) -> list[JobResult]:
        out = []
        for future, value in self._completed.next_batch(block=block):
            items = self._pending.pop(future.key, [])
            values = value if isinstance(value, list) else [value]
            if len(values) == len(items) and all(isinstance(v, JobResult) for v in values):
                for (spec, _), result in zip(items, values):
                    self._learn(result, spec.rule)
                out.extend(values)
            else:  # the task itself failed (worker died, cancelled): each of its jobs did
                out.extend(_lost_job(spec, submitted, future, value)
                           for spec, submitted in items)
        return out

    # ------------------------------------------------------------------------ resources
    def _resource_request(self, spec: JobSpec) -> tuple[dict[str, float], str | None]:
        """Dask resources for ``spec``, or why no worker can ever run it."""
        offered = self._worker_resources()
        if not offered:  # no workers yet (adaptive cluster) or none advertise resources
            return {}, None
        request: dict[str, float] = {}
        if "cpus" in offered:  # as Snakemake caps threads at --cores, cap at the largest worker
            request["cpus"] = min(max(1, spec.threads), offered["cpus"])
        for name, value in spec.resources.items():
            if name in offered and name != "cpus" and isinstance(value, (int, float)):
                request[name] = value
        for name, value in request.items():
            if value > offered[name]:
                offered = self._worker_resources(refresh=True)
                if value > offered.get(name, 0):
                    return {}, (f"job {spec.jobid} ({spec.rule}) requests {name}={value:g}, "
                                f"but no worker offers more than {offered.get(name, 0):g}")
        return request, None

    def _worker_resources(self, refresh: bool = False) -> dict[str, float]:
        now = time.monotonic()
        if refresh or now - self._resources_at > RESOURCE_REFRESH_S:
            info = self.client.scheduler_info(n_workers=-1)
            largest: dict[str, float] = {}
            for worker in info.get("workers", {}).values():
                for name, value in (worker.get("resources") or {}).items():
                    largest[name] = max(largest.get(name, 0), value)
            self._resources, self._resources_at = largest, now
        return self._resources


def run_one(spec: JobSpec) -> JobResult:
    """One Dask task, one job: tell the driver it starts (``EXECUTING_TOPIC``), then run it."""
    _announce(spec)
    return run_job(spec)


def run_jobs(specs: list[JobSpec]) -> list[JobResult]:
    """One Dask task for a batch of short jobs: each runs as alone (``run_job`` never raises)."""
    return [run_one(spec) for spec in specs]


def _announce(spec: JobSpec) -> None:
    """A Dask event saying ``spec`` begins on this worker (not for a job the run's STOP will
    skip: it never runs). Best effort: progress only, never a reason to fail the job."""
    if procguard.stop_requested(spec.run_dir):
        return
    try:
        from distributed import get_worker
        worker = get_worker()
        worker.log_event(EXECUTING_TOPIC, {"jobid": spec.jobid, "key": spec.key,
                                           "worker": worker.address, "time": time.time()})
    except Exception:  # not in a worker (tests calling it directly) or an old distributed
        pass


def _has_bokeh() -> bool:
    """The dashboard needs bokeh (the ``dashboard`` extra); without it Dask warns and serves
    only its plain HTTP routes (``/metrics`` among them)."""
    import importlib.util
    return importlib.util.find_spec("bokeh") is not None


def _unsendable(spec: JobSpec, submitted: datetime, err: Exception) -> JobResult:
    return JobResult(
        jobid=spec.jobid, ok=False, started=submitted, ended=submitted, attempt=spec.attempt,
        exit_code=None, command=spec.command,
        error=(f"job {spec.jobid} ({spec.rule}) cannot be sent to a worker (its params cannot "
               f"be pickled): {type(err).__name__}: {err}"),
        error_type="SerializationError", key=spec.key)


def _lost_job(spec: JobSpec, submitted: datetime | None, future: Any, value: Any) -> JobResult:
    """A task that produced no JobResult: its worker died (KilledWorker) or it was cancelled.
    (The scheduler decides, per job, whether it was running there: ``worker_lost``.)"""
    now = datetime.now(timezone.utc)
    exc = value[1] if isinstance(value, tuple) and len(value) == 3 else value
    kind = type(exc).__name__
    lost = kind == "KilledWorker"
    if kind == "KilledWorker":
        message = (f"the worker running job {spec.jobid} ({spec.rule}) died (killed, crashed "
                   f"or out of memory)")
    elif kind in ("CancelledError", "FutureCancelledError"):
        message = f"job {spec.jobid} ({spec.rule}) was cancelled by Dask (scheduler lost?)"
    else:
        message = f"job {spec.jobid} ({spec.rule}) failed in Dask: {kind}: {exc}"
    return JobResult(jobid=spec.jobid, ok=False, started=submitted or now, ended=now,
                     attempt=spec.attempt, exit_code=None, command=spec.command,
                     error=message, error_type=kind, key=spec.key, worker_lost=lost)


def _refuse_during_spawn_bootstrap() -> None:
    """LocalCluster spawns worker processes that re-import ``__main__``; a script that starts
    a run at import time would recurse. Say what to do instead of hanging."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise ExecutorError(
            "a sciflow run was started while a worker process was importing the main module",
            hint="Put the code that starts the run under `if __name__ == \"__main__\":`.")


@contextlib.contextmanager
def _abandoned_on_interrupt() -> Iterator[None]:
    """A Ctrl-C/SIGTERM while ``LocalCluster`` starts leaves a half-built cluster that only
    Dask's own atexit hook knows about; closing it there fails on workers still in
    ``Status.init`` and prints tracebacks after sciflow's clean "interrupted" line. The
    worker processes die with the driver (procguard), so such a cluster is dropped from
    Dask's registry and the asyncio noise of its unfinished start is not logged."""
    from distributed.deploy.spec import SpecCluster

    before = set(SpecCluster._instances)
    try:
        yield
    except BaseException as exc:
        if not isinstance(exc, Exception):  # an interruption, not a start-up error
            for cluster in set(SpecCluster._instances) - before:
                SpecCluster._instances.discard(cluster)
            logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        raise


def _silence_dask_logging() -> None:
    for name in ("distributed", "distributed.worker", "distributed.scheduler",
                 "distributed.nanny", "distributed.core", "distributed.client",
                 "distributed.deploy", "distributed.shuffle", "distributed.utils_perf",
                 "tornado", "bokeh"):
        logger = logging.getLogger(name)
        if logger.level < logging.CRITICAL:
            logger.setLevel(logging.CRITICAL)
