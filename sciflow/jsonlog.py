"""``--log-format json``: one JSON object per engine event, one per line, for log collectors.

A ``Listener`` like the progress display, writing to stderr or ``--log-file``. Every object
has ``event`` (``run_started``, ``jobs_added``, ``job_submitted``, ``job_executing``,
``job_finished``, ``job_failed``, ``job_retried``, ``run_finished``), ``time`` (ISO 8601, UTC)
and ``run_id``; job events add ``jobid``, ``rule``, ``wildcards``; results add ``attempt``,
``worker``, ``host``, ``started``, ``ended``, ``duration_s`` and, for failures, ``exit_code``,
``error`` and ``log_tail``. ``run_started`` carries the executor and the Dask dashboard's
address (and its Prometheus ``/metrics``). Lines are flushed one by one so that a collector
tailing the file sees each event as it happens; a closed pipe stops the output, not the run.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any, Sequence, TextIO

from sciflow.events import JobResult, Listener, RunInfo
from sciflow.progress import SafeStream

LOG_TAIL_CHARS = 4000  # of a failed job's log tail, per event


class JsonLog(Listener):
    """Writes each engine event as one JSON line to ``stream`` (default: stderr)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = SafeStream(stream if stream is not None else sys.stderr)
        self._run_id = ""

    # ------------------------------------------------------------------------------ hooks
    def run_started(self, run: RunInfo, jobs: Sequence[Any]) -> None:
        self._run_id = run.run_id
        dashboard = getattr(run, "dashboard", None)
        metrics = None
        if dashboard:
            base = dashboard[:-len("/status")] if dashboard.endswith("/status") else dashboard
            metrics = base.rstrip("/") + "/metrics"
        self._emit("run_started", started=_iso(run.started), workdir=run.workdir,
                   workflow=run.workflow_path, targets=list(run.targets), jobs=len(jobs),
                   executor=run.executor, dashboard=dashboard, metrics=metrics,
                   user=run.user, host=run.host, command_line=list(run.command_line))

    def jobs_added(self, run: RunInfo, jobs: Sequence[Any]) -> None:
        self._emit("jobs_added", jobs=[job.jobid for job in jobs])

    def job_started(self, run: RunInfo, job: Any) -> None:
        self._emit("job_submitted", **_job(job), reason=job.reason_text,
                   output=[str(o) for o in job.output])

    def job_executing(self, run: RunInfo, job: Any, worker: str) -> None:
        self._emit("job_executing", **_job(job), worker=worker, command=job.command)

    def job_finished(self, run: RunInfo, job: Any, result: JobResult) -> None:
        self._emit("job_finished", **_job(job), **_result(result))

    def job_failed(self, run: RunInfo, job: Any, result: JobResult) -> None:
        tail = (result.log_tail or "")[-LOG_TAIL_CHARS:] or None
        self._emit("job_failed", **_job(job), **_result(result), exit_code=result.exit_code,
                   error=result.error, log_tail=tail)

    def job_retried(self, run: RunInfo, job: Any, result: JobResult) -> None:
        self._emit("job_retried", **_job(job), **_result(result), exit_code=result.exit_code,
                   error=result.error)

    def run_finished(self, run: RunInfo, ok: bool) -> None:
        status = run.status or ("succeeded" if ok else "failed")
        self._emit("run_finished", ok=ok, status=status, started=_iso(run.started),
                   ended=_iso(run.ended),
                   duration_s=_seconds(run.started, run.ended))

    # ------------------------------------------------------------------------------ output
    def _emit(self, event: str, **fields: Any) -> None:
        record = {"event": event, "time": _iso(datetime.now(timezone.utc)),
                  "run_id": self._run_id, **fields}
        self.stream.write(json.dumps(record, default=str) + "\n")
        self.stream.flush()


def _job(job: Any) -> dict[str, Any]:
    return {"jobid": job.jobid, "rule": job.rule.name, "wildcards": dict(job.wildcards.items())}


def _result(result: JobResult) -> dict[str, Any]:
    return {"attempt": result.attempt, "worker": result.worker, "host": result.host,
            "started": _iso(result.started), "ended": _iso(result.ended),
            "duration_s": _seconds(result.started, result.ended),
            "max_rss_mb": result.max_rss_mb}


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat()


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 6)
