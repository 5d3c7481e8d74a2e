"""The scheduler loop: decides what runs when; an ``Executor`` only runs what it is given.

Jobs are handed to the executor as their dependencies finish (not as one static graph), so a
checkpoint can grow the DAG and a failure can stop the rest. Ready jobs go out highest
``priority`` first (then in topological order), within the total ``cores`` for local
executors (each job takes ``threads`` of them). For each finished attempt the scheduler:

* on success: checks every declared output exists, records its metadata (which clears the
  incomplete marker set at submission), makes ``protected()`` outputs read-only, deletes
  ``temp()`` files once no planned job still needs them (targets are kept), and after a
  checkpoint asks the DAG for the new jobs (``dag.after_checkpoint``) and plans them;
* on failure: resubmits with ``attempt + 1`` while ``rule.retries`` allow, else removes the
  job's outputs (kept and left marked incomplete with ``--keep-incomplete``), cancels its
  dependents and, unless ``--keep-going``, submits nothing new while running jobs finish.

Everything the user sees goes through ``events.Listener`` calls. At the end a
``RunFailedError`` lists each failed job: rule, wildcards, command, exit status, log tail.
Processes (see ``sciflow.execute.procguard``): each attempt's worker records it in the run's
directory while it runs, so the scheduler knows which jobs a lost worker was *running*
(retried, counting against ``retries`` with at least one retry for a lost worker; partial
outputs removed first, the failed attempt reported with ``job_retried``) and which were only
queued there (resubmitted, not counted). After the first failure without ``--keep-going``,
a ``STOP`` file makes workers skip jobs not yet started; running jobs finish, or are killed
with ``kill_on_failure``; the error's note says which. On SIGINT/SIGTERM (``KeyboardInterrupt``)
new jobs are stopped, running ones killed, their outputs removed (unless
``--keep-incomplete``) and their incomplete markers left for the next run; jobs that never
started keep their old outputs and lose their markers; the run ends "interrupted".
"""
from __future__ import annotations

import collections
import heapq
import logging
import os
import stat
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable

from sciflow.confine import safe_remove
from sciflow.errors import (ConfinementError, JobError, JobFailedError, JobTimeoutError,
                            MissingOutputError, RunFailedError, SciflowError)
from sciflow.events import JobResult, Listener, RunInfo
from sciflow.execute import procguard
from sciflow.execute.base import Executor, JobSpec
from sciflow.execute.spec import output_flags
from sciflow.jobs import FINAL_STATES, Job, JobState
from sciflow.metadata import MetadataStore, fingerprint, input_checksums, records_for

if TYPE_CHECKING:  # pragma: no cover
    from sciflow.plan import Plan, PlanOptions


SpecFactory = Callable[..., JobSpec]


@dataclass(slots=True)
class SchedulerOptions:
    """The ``sciflow run`` flags that change *how* planned jobs run."""

    workdir: str = "."
    cores: int | None = None          # total cores: caps each job's threads (as Snakemake)
    enforce_cores: bool = True        # also keep the sum of running threads <= cores; off when
                                      # the executor enforces it (Dask workers' "cpus" resource)
    max_in_flight: int | None = None  # at most this many jobs handed to the executor at once
    keep_going: bool = False
    kill_on_failure: bool = False     # after the first failure (no -k) kill running jobs too
    keep_incomplete: bool = False
    use_conda: bool = False
    use_apptainer: bool = False
    atomic_outputs: bool = False      # write to temp paths, os.replace on success
    digest_outputs: bool = False      # workers return outputs' sha256 (a provenance listener
                                      # trusts them per file version instead of re-reading)
    wait_timeout: float = 1.0         # how often the loop wakes up without results
    # --max-jobs-per-timespan N/SPAN: at most N submissions (retries included) in any SPAN
    # seconds, as Snakemake's JobRateLimiter (None: no limit)
    max_jobs_per_timespan: tuple[int, float] | None = None
    log_tail_lines: int = 20


def flagged_outputs(job: Job, flag: str) -> list[str]:
    return [str(v) for i, v in enumerate(job.output) if flag in output_flags(job, i, v)]


def update_order(jobs: Iterable[Job]) -> tuple[dict[Job, list[Job]], dict[Job, list[Job]]]:
    """``(before, after)``: for each job updating a file (``update()`` output), the other jobs
    reading that file as it was (``before_update()`` input), and the reverse."""
    jobs = list(jobs)
    writers: dict[str, Job] = {}
    for job in jobs:
        for path in flagged_outputs(job, "update"):
            writers[str(path)] = job
    before: dict[Job, list[Job]] = {}
    after: dict[Job, list[Job]] = {}
    if not writers:
        return before, after
    for job in jobs:
        for path in job.input:
            writer = writers.get(str(path))
            if writer is not None and writer is not job and \
                    "before_update" in getattr(path, "flags", ()):
                before.setdefault(writer, []).append(job)
                after.setdefault(job, []).append(writer)
    return before, after


def _default_spec_factory() -> SpecFactory:
    from sciflow.execute.spec import make_spec  # the executor stage's; imported when needed
    return make_spec


def _wildcards_text(job: Job) -> str:
    return ", ".join(f"{k}={v}" for k, v in job.wildcards.items())


class Scheduler:
    """Runs ``plan.jobs`` on ``executor``; one instance per run (see the module docstring)."""

    def __init__(self, dag: Any, plan: "Plan", executor: Executor, meta: MetadataStore | None,
                 run: RunInfo, listener: Listener | None = None,
                 options: SchedulerOptions | None = None,
                 plan_options: "PlanOptions | None" = None,
                 spec_factory: SpecFactory | None = None) -> None:
        self.dag = dag
        self.plan = plan
        self.executor = executor
        self.meta = meta
        self.run_info = run
        self.listener = listener or Listener()
        self.options = options or SchedulerOptions()
        self.plan_options = plan_options or getattr(plan, "options", None)
        self.spec_factory = spec_factory or _default_spec_factory()
        self.workflow = getattr(dag, "workflow", None) or run.workflow
        self.workdir = self.options.workdir

        self.jobs: list[Job] = list(plan.jobs)                 # everything scheduled, in order
        self.scheduled: set[Job] = set(self.jobs)
        self.order: dict[Job, int] = {j: i for i, j in enumerate(self.jobs)}
        # before_update(f) readers run before the job that update()s f (Snakemake raises
        # their priority and adds a mutex; here the writer waits for them)
        self.before, self.after = update_order(self.jobs)
        self.waiting_on: dict[Job, set[Job]] = {}
        self.ready: list[tuple[int, int, int, Job]] = []       # heap: (-priority, order, id, job)
        self.running: dict[int, tuple[Job, int]] = {}          # jobid -> (job, attempt)
        self.cores_in_use = 0
        self.results: dict[Job, JobResult] = {}
        self.failures: list[JobError] = []
        self.ran: set[Job] = set()
        self.stopping = False
        self.temp_users: dict[str, int] = {}                   # temp path -> consumers left
        # kept even if temp(): targets' outputs, and inputs of targets without outputs (the
        # files ``rule all`` asks for), as Snakemake's ``DAG.derived_targetfiles``
        self.target_files: set[str] = {str(o) for t in getattr(dag, "targets", ()) or ()
                                       for o in (t.output or t.input)}
        self._code_cache: dict[str, str] = {}
        self._pending_marks: list[str] = []
        self._pending_records: list[Any] = []
        self.guard: procguard.RunGuard | None = None
        self.keys: dict[int, str] = {}                          # jobid -> running attempt's key
        self.extra_attempts: dict[int, int] = {}                # lost-worker retries granted
        self.requeued: dict[int, int] = {}                      # lost before they started
        self.stop_cause: Job | None = None                      # the first failure (no -k)
        self.finishing: set[Job] = set()                        # running when it came
        self.killed: set[Job] = set()
        self.skipped: list[Job] = []                            # handed out, never started
        self.interrupted_jobs: list[Job] = []                   # running at SIGINT/SIGTERM
        self.given_up: dict[Job, float] = {}                    # failed/cancelled: when
        self.executing: dict[int, str] = {}                     # jobid -> key said executing
        self.submitted_at: collections.deque[float] = collections.deque()  # rate limit

    # ------------------------------------------------------------------------------ the loop
    def run(self) -> dict[Job, JobResult]:
        """Run every planned job; returns the results, or raises ``RunFailedError``."""
        interrupted = False
        started = False
        try:
            try:
                self.guard = procguard.RunGuard(self.workdir, self.run_info.run_id)
            except OSError:  # no records (read-only .sciflow?): the watchers still guard
                self.guard = None
            self.executor.start()
            self.run_info.executor = self.executor.address or self.run_info.executor
            self.run_info.dashboard = getattr(self.executor, "dashboard_link", None)
            self.listener.run_started(self.run_info, self.jobs)
            started = True
            for job in self.jobs:
                self._add(job)
            while True:
                self._submit_ready()
                if not self.running:
                    break
                batch = self.executor.wait(self.options.wait_timeout)
                for result in batch:
                    self._handle(result)
                self._executing()  # after the results: a worker's next job may be told first
                # (the batch's records are written with the next submissions' markers, in
                # the one transaction ``_submit_ready`` ends with, before Dask sees them)
        except KeyboardInterrupt:
            interrupted = True
            self.run_info.status = "interrupted"
            self._interrupt()
            raise
        finally:
            try:
                self._flush_marks()  # finished jobs' records, running jobs' markers
                if not interrupted:
                    self.executor.shutdown()
            finally:
                if self.guard is not None:
                    self.guard.close()  # whatever is still recorded on this host dies
                self._remove_late_writes()
                if not interrupted:
                    for job in self.jobs:
                        if job.state not in FINAL_STATES:
                            job.state = JobState.CANCELLED
                ok = not interrupted and not self.failures and all(
                    j.state in (JobState.DONE, JobState.SKIPPED) for j in self.jobs)
                self.run_info.ended = datetime.now(timezone.utc)
                if started:
                    self.listener.run_finished(self.run_info, ok)
        if self.failures or any(j.state is JobState.CANCELLED for j in self.jobs):
            raise RunFailedError(self.failures, self._stop_note())
        return self.results

    def _add(self, job: Job) -> None:
        """Start tracking a planned job: what it waits for, which temp files it will read."""
        deps = {d for d in (*self.dag.dependencies(job), *self.before.get(job, ()))
                if d in self.scheduled and d.state not in FINAL_STATES}
        self.waiting_on[job] = deps
        for dep in self.dag.dependencies(job):
            temps = set(flagged_outputs(dep, "temp"))
            if temps:
                for f in job.input:
                    if str(f) in temps:
                        self.temp_users[str(f)] = self.temp_users.get(str(f), 0) + 1
        if not deps:
            self._make_ready(job)
        else:
            job.state = JobState.WAITING

    def _make_ready(self, job: Job) -> None:
        job.state = JobState.READY
        heapq.heappush(self.ready, (-(job.priority or 0), self.order.get(job, 0), job.jobid, job))

    def _threads(self, job: Job) -> int:
        # as Snakemake: ``threads: 0`` stays 0 (the job's {threads}); only None means 1
        threads = 1 if job.threads is None else int(job.threads)
        cores = self.options.cores
        return min(threads, cores) if cores else threads

    def _submit_ready(self) -> None:
        cores = self.options.cores if self.options.enforce_cores else None
        window = self.options.max_in_flight
        deferred = []
        while self.ready and not self.stopping:
            if window and len(self.running) >= window:
                break
            if not self._rate_allows():
                break
            item = heapq.heappop(self.ready)
            job = item[3]
            if job.state is not JobState.READY:  # cancelled meanwhile
                continue
            threads = self._threads(job)
            if cores and self.running and self.cores_in_use + threads > cores:
                deferred.append(item)
                if self.cores_in_use >= cores:
                    break
                continue
            job.threads = threads  # Snakemake scales threads down to the available cores
            protected = self._write_protected(job)
            if protected:
                self._refuse(job, "write-protected output files would be overwritten: "
                             + ", ".join(protected)
                             + " (remove them or make them writable to rerun this job)")
                continue
            try:
                self._submit(job, 1)
            except SciflowError as err:  # e.g. an unknown {name} in the shell command
                self._refuse(job, err.format())
        for item in deferred:
            heapq.heappush(self.ready, item)
        self._flush_marks()

    def _rate_allows(self) -> bool:
        """``--max-jobs-per-timespan``: may one more job be submitted now? With nothing
        running (no result would wake the loop early) it waits for the next free slot."""
        limit = self.options.max_jobs_per_timespan
        if limit is None:
            return True
        count, span = limit
        while True:
            now = time.monotonic()
            while self.submitted_at and self.submitted_at[0] <= now - span:
                self.submitted_at.popleft()
            if len(self.submitted_at) < count:
                return True
            if self.running:
                return False
            time.sleep(max(0.0, self.submitted_at[0] + span - now) + 0.001)

    def _submit(self, job: Job, attempt: int) -> None:
        spec = self.spec_factory(job, self.workflow, self.workdir, attempt,
                                 use_conda=self.options.use_conda,
                                 use_apptainer=self.options.use_apptainer,
                                 atomic_outputs=self.options.atomic_outputs)
        if self.options.digest_outputs:
            spec.digest_outputs = True
        if self.guard is not None:
            spec.run_dir = self.guard.directory
            spec.stop_run_on_failure = not self.options.keep_going and (
                attempt > int(job.retries or 0) + self.extra_attempts.get(job.jobid, 0))
        self.keys[job.jobid] = spec.key
        job.command = spec.command
        self.executor.submit(spec, priority=int(job.priority or 0))  # may refuse: nothing ran
        if self.options.max_jobs_per_timespan is not None:
            self.submitted_at.append(time.monotonic())
        if attempt == 1:
            self._pending_marks.extend(str(o) for o in job.output)
            job.state = JobState.SUBMITTED
            self.listener.job_started(self.run_info, job)
        self.running[job.jobid] = (job, attempt)
        self.cores_in_use += job.threads

    def _write_protected(self, job: Job) -> list[str]:
        """Existing outputs without the owner's write bit (e.g. an earlier ``protected()``
        result): Snakemake refuses to overwrite them, and so do we. A symlink output is
        replaced, not written through: the file it points to does not count (Snakemake)."""
        found = []
        for o in job.output:
            try:
                mode = os.lstat(self._path(str(o))).st_mode
            except OSError:
                continue
            if not mode & stat.S_IWUSR:
                found.append(str(o))
        return found

    def _refuse(self, job: Job, message: str) -> None:
        """Fail ``job`` without running it and without touching its outputs."""
        now = datetime.now(timezone.utc)
        result = JobResult(job.jobid, False, now, now, exit_code=None, error=message)
        job.state = JobState.FAILED
        self.results[job] = result
        self.failures.append(self._job_error(job, result))
        self.listener.job_failed(self.run_info, job, result)
        self._cancel_downstream(job)
        if not self.options.keep_going:
            self._stop(job)

    def _flush_marks(self) -> None:
        """Write the batch's metadata (finished records, new incomplete markers) at once."""
        if self.meta is not None and (self._pending_marks or self._pending_records):
            self.meta.apply(self._pending_records, self._pending_marks, self.run_info.run_id)
        self._pending_marks = []
        self._pending_records = []

    # ------------------------------------------------------------------------------ results
    def _executing(self) -> None:
        """Jobs whose action began on a worker since the last look: ``job_executing``, once
        per attempt (a late event for an attempt already over is dropped)."""
        for jobid, key, worker in self.executor.executing():
            entry = self.running.get(jobid)
            if entry is None or self.keys.get(jobid) != key or self.executing.get(jobid) == key:
                continue
            self._announce(entry[0], key, worker)

    def _announce(self, job: Job, key: str, worker: str) -> None:
        self.executing[job.jobid] = key
        job.state = JobState.RUNNING
        self.listener.job_executing(self.run_info, job, worker)

    def _handle(self, result: JobResult) -> None:
        entry = self.running.get(result.jobid)
        if entry is None or (result.attempt and result.attempt != entry[1]):
            return  # a stale result (an attempt no longer current): never taken as done
        key = self.keys.get(result.jobid, "")
        if (self.executing.get(result.jobid) != key and not result.cancelled
                and (result.ok or result.worker)):  # it ran, but its event came late or never
            self._announce(entry[0], key, result.worker)
        del self.running[result.jobid]
        job, attempt = entry
        self.cores_in_use -= job.threads
        result.attempt = attempt
        if not result.ok and result.cancelled:
            self._skipped(job)
            return
        if not result.ok and result.worker_lost and self._lost(job, attempt, result):
            return
        if job in self.killed:
            result.error = ("killed after the first failure of the run (--kill-on-failure); "
                            + (result.error or ""))
        mtimes: dict[str, float | None] = {}
        if result.ok:
            missing = self._missing_outputs(job, mtimes)
            if missing:
                result.ok = False
                result.error = ("the job finished but did not create its declared output(s): "
                                + ", ".join(missing))
                result.missing_outputs = missing
        if result.ok:
            self._succeeded(job, result, mtimes)
        elif (attempt <= int(job.retries or 0) + self.extra_attempts.get(job.jobid, 0)
              and not self.stopping):
            try:
                self._submit(job, attempt + 1)
            except SciflowError as err:
                result.error = f"{result.error or 'failed'}; retry not possible: {err}"
                self._failed(job, result)
            else:
                self.listener.job_retried(self.run_info, job, result)
        else:
            self._failed(job, result)

    # ------------------------------------------------------------------------------ processes
    MAX_REQUEUE = 5

    def _lost(self, job: Job, attempt: int, result: JobResult) -> bool:
        """A worker died holding this attempt. Kill what is left of it on this host; if it
        never started there, hand it out again (not counted, returns True); if it was running,
        remove its partial outputs and grant a retry when ``retries`` is 0 (returns False:
        the normal retry/fail path follows)."""
        key = result.key or str(self.keys.get(job.jobid, ""))
        ran = (self.guard is None or not key or self.guard.started(key)
               or not getattr(self.executor, "records_attempts", False))
        if self.guard is not None and key:
            self.guard.kill(key)
        if not ran:
            if self.stopping:
                self._skipped(job)
                return True
            n = self.requeued[job.jobid] = self.requeued.get(job.jobid, 0) + 1
            if n <= self.MAX_REQUEUE:
                try:
                    self._submit(job, attempt + 1)
                    return True
                except SciflowError:
                    return False
            return False
        if not self.options.keep_incomplete:
            for o in job.output:
                _remove(self._path(str(o)), self.workdir, str(o))
        if int(job.retries or 0) < 1 and job.jobid not in self.extra_attempts:
            self.extra_attempts[job.jobid] = 1  # a lost worker is worth one retry at least
        return False

    def _skipped(self, job: Job) -> None:
        """A job the workers skipped (the run was stopping): its files are untouched."""
        job.state = JobState.CANCELLED
        self.given_up[job] = time.time()
        self.skipped.append(job)
        if self.meta is not None:
            self._flush_marks()
            self.meta.clear_incomplete([str(o) for o in job.output])

    def _remove_late_writes(self) -> None:
        """Outputs of jobs given up on (failed, killed, cancelled) that were written after
        that moment came from a process that should be dead: remove them and leave an
        incomplete marker, so no later run takes them as done."""
        if self.options.keep_incomplete:
            return
        late = []
        for job, when in self.given_up.items():
            for o in job.output:
                try:
                    mtime = os.lstat(self._path(str(o))).st_mtime
                except OSError:
                    continue
                if mtime > when:
                    _remove(self._path(str(o)), self.workdir, str(o))
                    late.append(str(o))
        if late and self.meta is not None:
            try:
                self.meta.mark_incomplete(late, self.run_info.run_id)
            except Exception:  # the files are gone already; the marker is extra care
                pass

    def _stop(self, cause: Job) -> None:
        """The first failure without --keep-going: nothing new starts from now on."""
        if self.stopping:
            return
        self.stopping = True
        self.stop_cause = cause
        self.finishing = {j for j, _ in self.running.values() if j is not cause}
        if self.guard is not None:
            self.guard.stop_new_jobs()
            if self.options.kill_on_failure:
                running = {self.keys.get(j.jobid): j for j in self.finishing}
                for key in self.guard.kill_all():
                    if key in running:
                        self.killed.add(running[key])

    def _stop_note(self) -> str | None:
        if self.stop_cause is None:
            return None
        def names(jobs: Iterable[Job]) -> str:
            jobs = sorted(jobs, key=lambda j: j.jobid)
            shown = ", ".join(repr(j) for j in jobs[:10])
            return shown + (f" and {len(jobs) - 10} more" if len(jobs) > 10 else "")
        skipped = set(self.skipped) | {j for j in self.jobs if j.state is JobState.CANCELLED
                                       and j not in self.killed and j not in self.finishing}
        allowed = self.finishing - self.killed
        lines = [f"the run stopped after the first failure ({self.stop_cause!r}); "
                 "with -k/--keep-going independent jobs go on"]
        if skipped:
            lines.append(f"  cancelled (not started): {len(skipped)}: {names(skipped)}")
        if self.killed:
            lines.append(f"  killed (--kill-on-failure): {len(self.killed)}: {names(self.killed)}")
        if allowed:
            lines.append(f"  allowed to finish: {len(allowed)}: {names(allowed)}")
        return "\n".join(lines)

    def _path(self, path: str) -> str:
        return os.path.join(self.workdir, path)

    def _missing_outputs(self, job: Job, mtimes: dict[str, float | None]) -> list[str]:
        """Declared outputs that are not there; fills ``mtimes`` (``None`` for a dangling
        symlink) from the same one stat per output."""
        missing = []
        dirs = set(flagged_outputs(job, "directory"))
        for o in job.output:
            key = str(o)
            p = self._path(key)
            try:
                st = os.stat(p)
            except OSError:
                st = None
            if key in dirs:
                ok = st is not None and stat.S_ISDIR(st.st_mode)
            else:
                ok = st is not None or os.path.lexists(p)
            if not ok:
                missing.append(key)
            mtimes[key] = st.st_mtime if st is not None else None
        return missing

    def _succeeded(self, job: Job, result: JobResult,
                   mtimes: dict[str, float | None] | None = None) -> None:
        if mtimes is None:
            mtimes = {}
            self._missing_outputs(job, mtimes)
        if self.meta is not None and job.output:
            fp = fingerprint(job, self._workflow_dir(), self._code_cache)
            sums = input_checksums(job, self.workdir)
            self._pending_records.extend(records_for(job, fp, mtimes, self.run_info.run_id, sums))
        for path in flagged_outputs(job, "protected"):
            _make_read_only(self._path(path))
        job.state = JobState.DONE
        self.results[job] = result
        self.ran.add(job)
        self.listener.job_finished(self.run_info, job, result)
        self._release_temp(job)
        if job.rule.checkpoint and hasattr(self.dag, "after_checkpoint"):
            self._after_checkpoint(job)
        for dep in (*self.dag.dependents(job), *self.after.get(job, ())):
            waits = self.waiting_on.get(dep)
            if waits is not None and job in waits:
                waits.discard(job)
                if not waits and dep.state is JobState.WAITING:
                    self._make_ready(dep)

    def _workflow_dir(self) -> str:
        path = getattr(self.workflow, "path", "") or ""
        return os.path.join(self.workdir, os.path.dirname(path))

    def _release_temp(self, job: Job) -> None:
        """Delete temp files nobody planned still reads: inputs whose last consumer was this
        job, and this job's own temp outputs when no planned job reads them."""
        doomed = []
        for f in job.input:
            key = str(f)
            if key in self.temp_users:
                self.temp_users[key] -= 1
                if self.temp_users[key] <= 0:
                    del self.temp_users[key]
                    doomed.append(key)
        for key in flagged_outputs(job, "temp"):
            if key not in self.temp_users:
                doomed.append(key)
        for key in doomed:
            if key in self.target_files:
                continue
            _remove(self._path(key), self.workdir, key)
        if doomed and self.meta is not None:
            self._flush_marks()
            self.meta.forget(k for k in doomed if k not in self.target_files)

    def _after_checkpoint(self, job: Job) -> None:
        """The DAG re-evaluates the jobs that waited on checkpoint ``job`` (same Job objects,
        new dependencies) and returns the jobs it added; plan those and wire everything up.
        Only the affected jobs are visited, so many checkpoints stay cheap."""
        from sciflow.plan import PlanOptions, plan_added_jobs

        before = list(self.dag.dependents(job))
        new_jobs = list(self.dag.after_checkpoint(job))
        affected = {d for d in before}
        for new in new_jobs:
            affected.update(self.dag.dependents(new))
        affected = [d for d in affected if d in self.scheduled and d.state not in FINAL_STATES
                    and d.jobid not in self.running]
        affected.sort(key=lambda d: self.order.get(d, 0))
        options = self.plan_options or PlanOptions(workdir=self.workdir)
        planned = plan_added_jobs(self.dag, new_jobs, self.meta, options, self.ran | {job},
                                  affected)
        fresh = [j for j in planned if j not in self.scheduled]
        base = len(self.order)
        for i, j in enumerate(fresh):
            self.order[j] = base + i
            self.jobs.append(j)
            self.scheduled.add(j)
        for j in fresh:
            self._add(j)
        # the re-evaluated jobs now wait on the new jobs (e.g. an aggregation on its chunks)
        for waiting in affected:
            if waiting.state is not JobState.WAITING:
                continue
            self.waiting_on[waiting] = {d for d in self.dag.dependencies(waiting)
                                        if d in self.scheduled and d.state not in FINAL_STATES}
            if not self.waiting_on[waiting]:
                self._make_ready(waiting)
        if fresh:
            self.listener.jobs_added(self.run_info, fresh)

    def _failed(self, job: Job, result: JobResult) -> None:
        job.state = JobState.FAILED
        self.given_up[job] = time.time()
        self.results[job] = result
        outputs = [str(o) for o in job.output]
        if not self.options.keep_incomplete:
            for o in outputs:
                _remove(self._path(o), self.workdir, o)
            if self.meta is not None:
                self._flush_marks()
                self.meta.clear_incomplete(outputs)
                self.meta.forget(outputs)
        if job in self.killed:
            job.state = JobState.CANCELLED
            self.listener.job_failed(self.run_info, job, result)
            self._cancel_downstream(job)
            return
        self.failures.append(self._job_error(job, result))
        self.listener.job_failed(self.run_info, job, result)
        self._cancel_downstream(job)
        if not self.options.keep_going:
            self._stop(job)

    def _cancel_downstream(self, job: Job) -> None:
        stack = list(self.dag.dependents(job))
        while stack:
            dep = stack.pop()
            if dep in self.scheduled and dep.state not in FINAL_STATES and dep.jobid not in self.running:
                dep.state = JobState.CANCELLED
                stack.extend(self.dag.dependents(dep))

    def _job_error(self, job: Job, result: JobResult) -> JobError:
        wc = _wildcards_text(job)
        lines = [f"error in rule {job.rule.name}" + (f" ({wc})" if wc else "")
                 + f", attempt {result.attempt} of {int(job.retries or 0) + 1}"]
        if result.error:
            lines.append(f"    {result.error}")
        if result.exit_code not in (None, 0):
            lines.append(f"    exit status: {result.exit_code}")
        if result.command:
            lines.append("    command: " + result.command.strip().replace("\n", "\n             "))
        if job.log:
            lines.append("    log: " + " ".join(str(f) for f in job.log))
        tail = (result.log_tail or "").rstrip()
        if tail:
            tail = "\n".join(tail.splitlines()[-self.options.log_tail_lines:])
            lines.append("    last lines of output:\n" + "\n".join("      " + t for t in tail.splitlines()))
        cls = MissingOutputError if result.missing_outputs else JobFailedError
        if result.error_type == "JobTimeoutError":
            cls = JobTimeoutError
        loc = job.rule.action.loc if job.rule.action and job.rule.action.loc else job.rule.loc
        return cls("\n".join(lines), loc, rule=job.rule.name, wildcards=job.wildcards.as_dict(),
                   log_tail=result.log_tail)

    def _interrupt(self) -> None:
        """SIGINT/SIGTERM: nothing new starts, running jobs are killed, the workers stop;
        the outputs of jobs that had started are not to be trusted."""
        started: set[str] | None = None
        if self.guard is not None:
            self.guard.stop_new_jobs()
            if getattr(self.executor, "records_attempts", False):
                time.sleep(0.1)  # a job past its STOP check has started its process by now
                started = {r.key for r in procguard.read_records(self.guard.directory)}
            self.guard.kill_all()
        try:
            self.executor.shutdown()
        except Exception:  # the run is being torn down; keep going with the cleanup
            pass
        untouched: list[str] = []
        for job, _attempt in list(self.running.values()):
            job.state = JobState.CANCELLED
            if started is not None and self.keys.get(job.jobid) not in started:
                untouched.extend(str(o) for o in job.output)  # never started: old files stay
                continue
            self.interrupted_jobs.append(job)
            if not self.options.keep_incomplete:
                for o in job.output:
                    _remove(self._path(str(o)), self.workdir, str(o))
        self.running.clear()
        if untouched and self.meta is not None:
            try:
                self._flush_marks()
                self.meta.clear_incomplete(untouched)
            except Exception:  # the markers only make the next run careful
                pass
        for job in self.jobs:
            if job.state not in FINAL_STATES:
                job.state = JobState.CANCELLED


def _remove(path: str, workdir: str, declared: str) -> None:
    """Remove an output through ``sciflow.confine.safe_remove`` (checked right before
    deletion); a refusal deletes nothing and is logged, the run goes on."""
    try:
        safe_remove(path, workdir, declared=declared)
    except ConfinementError as exc:
        logging.getLogger("sciflow").warning("%s", exc)
    except PermissionError:  # e.g. a protected output in a read-only directory
        pass


def _make_read_only(path: str) -> None:
    """``protected()``: remove every write bit (recursively for directories)."""
    mask = ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    paths: Iterable[str] = [path]
    if os.path.isdir(path):
        paths = [path] + [os.path.join(root, n) for root, dirs, files in os.walk(path)
                          for n in dirs + files]
    for p in paths:
        try:
            os.chmod(p, os.lstat(p).st_mode & mask, follow_symlinks=False)
        except (OSError, NotImplementedError):
            try:
                os.chmod(p, os.stat(p).st_mode & mask)
            except OSError:
                pass
