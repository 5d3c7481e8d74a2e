"""The console progress display: a ``Listener`` drawing with ``rich`` on stderr.

Shows, per rule and in total, jobs done/total, *executing* (a job handed to Dask may wait in
a worker's queue: it counts as running from ``job_executing`` on, when its action really
begins) and failed, with an estimate of the time left, each failure as it happens (rule,
wildcards, command, exit status, the tail of its log) and a summary at the end. With ``-p``
each shell command is printed when its job starts. When stderr is not a terminal (a batch
job's log file, CI, a pipe) there is no bar to redraw: it writes one plain, timestamped line
per started (with ``-p``), finished or failed job instead, so a cluster log shows how far a
run got.

A closed output (``sciflow run … 2>&1 | head``) must not end the run: the console writes
through ``SafeStream``, which goes quiet on a broken pipe, so the run goes on and finishes
its provenance. ``Tally`` (the counts and the estimate) is shared with the notebook display.
"""
from __future__ import annotations

import errno
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Sequence, TextIO

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from sciflow.events import JobResult, Listener, RunInfo

MAX_RULE_ROWS = 12  # per-rule rows drawn under the total; the rest are summed in the total


class SafeStream:
    """A text stream that stops writing, quietly, once its reader is gone (EPIPE) or it was
    closed: output is a courtesy, the run and its provenance must not die of it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self.stream.write(text)
            except (BrokenPipeError, ValueError):  # EPIPE, or written after close
                self.broken = True
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.EINVAL):
                    raise
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                self.broken = True
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.EINVAL):
                    raise
                self.broken = True

    def isatty(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (ValueError, OSError, AttributeError):
            return False

    def fileno(self) -> int:
        return self.stream.fileno()

    def __getattr__(self, name: str) -> Any:  # encoding, errors, ... as the wrapped stream
        return getattr(self.stream, name)


@dataclass(slots=True)
class RuleTally:
    """One rule's counts, and the durations of its finished jobs (for the estimate)."""

    total: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0
    seconds: float = 0.0  # summed over finished jobs
    timed: int = 0

    @property
    def mean(self) -> float | None:
        return self.seconds / self.timed if self.timed else None


@dataclass
class Tally:
    """Jobs done/executing/failed per rule and the time left, from listener events alone.

    The estimate: each job not finished is expected to take as long as the mean of its
    rule's finished jobs (of all finished jobs, for a rule with none yet; none at all before
    the first job finished), less what an executing job has already run; the sum is shared
    by the most jobs seen executing at once (the parallelism the cluster really gave)."""

    rules: dict[str, RuleTally] = field(default_factory=dict)
    executing: dict[int, tuple[str, float]] = field(default_factory=dict)  # jobid -> (rule, t0)
    peak: int = 0
    t0: float = field(default_factory=time.monotonic)

    def add(self, jobs: Sequence[Any]) -> None:
        for job in jobs:
            self.rule(job.rule.name).total += 1

    def rule(self, name: str) -> RuleTally:
        tally = self.rules.get(name)
        if tally is None:
            tally = self.rules[name] = RuleTally()
        return tally

    def started(self, job: Any) -> None:
        """``job_executing``: the job's action began."""
        if job.jobid in self.executing:
            return
        self.executing[job.jobid] = (job.rule.name, time.monotonic())
        self.rule(job.rule.name).running += 1
        self.peak = max(self.peak, len(self.executing))

    def stopped(self, job: Any) -> None:
        """The attempt is over (finished, failed or to be retried)."""
        if self.executing.pop(job.jobid, None) is not None:
            self.rule(job.rule.name).running -= 1

    def finished(self, job: Any, result: JobResult | None) -> None:
        self.stopped(job)
        tally = self.rule(job.rule.name)
        tally.done += 1
        if result is not None:
            seconds = (result.ended - result.started).total_seconds()
            if seconds >= 0:
                tally.seconds += seconds
                tally.timed += 1

    def failed_job(self, job: Any) -> None:
        self.stopped(job)
        self.rule(job.rule.name).failed += 1

    @property
    def total(self) -> int:
        return sum(t.total for t in self.rules.values())

    @property
    def done(self) -> int:
        return sum(t.done for t in self.rules.values())

    @property
    def failed(self) -> int:
        return sum(t.failed for t in self.rules.values())

    @property
    def running(self) -> int:
        return len(self.executing)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def eta(self) -> float | None:
        """Seconds left, or None while nothing finished yet (no evidence)."""
        timed = sum(t.timed for t in self.rules.values())
        if not timed:
            return None
        overall = sum(t.seconds for t in self.rules.values()) / timed
        now = time.monotonic()
        work = 0.0
        for name, tally in self.rules.items():
            mean = tally.mean if tally.mean is not None else overall
            waiting = max(0, tally.total - tally.done - tally.failed - tally.running)
            work += waiting * mean
        for name, since in self.executing.values():
            mean = self.rules[name].mean
            work += max(0.0, (mean if mean is not None else overall) - (now - since))
        return work / max(1, self.peak, self.running)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def dashboard_lines(run: RunInfo) -> list[str]:
    """Where the Dask dashboard and its Prometheus metrics are, when the scheduler serves them."""
    link = getattr(run, "dashboard", None)
    if not link:
        return []
    base = link.rsplit("/", 1)[0] if link.endswith("/status") else link.rstrip("/")
    return [f"dashboard: {link}  (Prometheus metrics: {base}/metrics)"]


class ConsoleProgress(Listener):
    """Progress bars per rule and failure reports for ``sciflow run``."""

    def __init__(self, console: Console | None = None, *, force: bool = False,
                 printshellcmds: bool = False, tail_lines: int = 15) -> None:
        self.console = console or Console(file=SafeStream(sys.stderr))
        self.enabled = force or self.console.is_terminal
        self.plain = not self.enabled  # batch logs: one line per event, no live display
        self.printshellcmds = printshellcmds
        self.tail_lines = tail_lines
        self.tally = Tally()
        self._progress: Progress | None = None
        self._task: Any = None
        self._rule_tasks: dict[str, Any] = {}

    # counts kept as attributes for callers that read them
    @property
    def total(self) -> int:
        return self.tally.total

    @property
    def done(self) -> int:
        return self.tally.done

    @property
    def failed(self) -> int:
        return self.tally.failed

    @property
    def running(self) -> int:
        return self.tally.running

    # ------------------------------------------------------------------------------ hooks
    def run_started(self, run: RunInfo, jobs: Sequence[Any]) -> None:
        self.tally = Tally()
        self.tally.add(jobs)
        if self.plain:
            self._line(f"sciflow run {run.run_id}: {self.total} jobs on {run.executor}")
            for line in dashboard_lines(run):
                self._line(line)
        if not self.enabled:
            return
        self.console.print(f"[bold]sciflow[/] run {run.run_id}: {self.total} jobs on {run.executor}")
        for line in dashboard_lines(run):
            self.console.print(line, style="dim", soft_wrap=True)
        table = Table("job", "count", box=None, title="Job stats", title_justify="left")
        for rule, tally in sorted(self.tally.rules.items()):
            table.add_row(rule, str(tally.total))
        table.add_row("total", str(self.total), style="bold")
        self.console.print(table)
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                                  console=self.console, transient=False)
        self._task = self._progress.add_task("[bold]total", total=self.total, status="")
        self._add_rule_rows()
        self._update()
        self._progress.start()

    def jobs_added(self, run: RunInfo, jobs: Sequence[Any]) -> None:
        self.tally.add(jobs)
        self._add_rule_rows()
        self._update()

    def job_executing(self, run: RunInfo, job: Any, worker: str) -> None:
        self.tally.started(job)
        if self.printshellcmds and job.command:
            text = job.command.strip()
            if self.plain:
                self._line(f"start {_describe(job)}: {text}")
            elif self.enabled:
                self.console.print(Text(f"{job!r}: ", style="dim") + Text(text, style="cyan"))
        self._update()

    def job_finished(self, run: RunInfo, job: Any, result: JobResult) -> None:
        self.tally.finished(job, result)
        if self.plain:
            rt = self.tally.rules[job.rule.name]
            eta = self.tally.eta()
            self._line(f"done {self.done + self.failed}/{self.total}: {_describe(job)} "
                       f"[{job.rule.name} {rt.done + rt.failed}/{rt.total}]"
                       + (f", ETA {format_seconds(eta)}" if eta is not None
                          and self.done + self.failed < self.total else ""))
        self._update()

    def job_failed(self, run: RunInfo, job: Any, result: JobResult) -> None:
        self.tally.failed_job(job)
        self._update()
        if self.enabled:
            self.console.print(self.failure_panel(job, result))
        elif self.plain:
            self._line(f"FAILED {self.done + self.failed}/{self.total}: {_describe(job)}"
                       + (f", exit status {result.exit_code}" if result.exit_code not in (None, 0) else ""))
            tail = (result.log_tail or "").rstrip().splitlines()[-self.tail_lines:]
            for line in tail:
                self.console.file.write(f"    {line}\n")

    def job_retried(self, run: RunInfo, job: Any, result: JobResult) -> None:
        self.tally.stopped(job)
        why = (result.error or "failed").strip().splitlines()[0]
        text = f"retrying {_describe(job)} (attempt {result.attempt + 1}): {why}"
        if self.plain:
            self._line(text)
        elif self.enabled:
            self.console.print(Text(text, style="yellow"))
        self._update()

    def run_finished(self, run: RunInfo, ok: bool) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        seconds = self.tally.elapsed()
        if self.plain:
            self._line(f"{'finished' if ok else 'FAILED'}: {self.done} of {self.total} jobs done, "
                       f"{self.failed} failed, in {seconds:.1f} s")
        if not self.enabled:
            return
        style = "green" if ok else "red"
        word = "finished" if ok else "FAILED"
        self.console.print(f"[{style}]{word}[/]: {self.done} of {self.total} jobs done, "
                           f"{self.failed} failed, in {seconds:.1f} s")

    # ------------------------------------------------------------------------------ display
    def _line(self, text: str) -> None:
        """One plain log line (no markup, no wrapping) for non-terminal output."""
        stamp = time.strftime("%H:%M:%S")
        self.console.file.write(f"[{stamp}] {text}\n")
        self.console.file.flush()

    def _add_rule_rows(self) -> None:
        if self._progress is None or len(self.tally.rules) < 2:
            return  # one rule: the total says it all
        for name in sorted(self.tally.rules):
            if name not in self._rule_tasks and len(self._rule_tasks) < MAX_RULE_ROWS:
                self._rule_tasks[name] = self._progress.add_task(f"  {name}", total=0, status="")

    def _status(self, running: int, failed: int, eta: str | None = None) -> str:
        text = f"running {running}"
        if failed:
            text += f", [red]failed {failed}[/]"
        if eta is not None:
            text += f", ETA {eta}"
        return text

    def _update(self) -> None:
        if self._progress is None:
            return
        tally = self.tally
        self._progress.update(self._task, total=tally.total, completed=tally.done + tally.failed,
                              status=self._status(tally.running, tally.failed,
                                                  format_seconds(tally.eta())))
        for name, task in self._rule_tasks.items():
            rt = tally.rules[name]
            self._progress.update(task, total=rt.total, completed=rt.done + rt.failed,
                                  status=self._status(rt.running, rt.failed))

    def failure_panel(self, job: Any, result: JobResult) -> Panel:
        """Rule, wildcards, command, exit status and log tail of a failed job."""
        lines = Text()
        wc = ", ".join(f"{k}={v}" for k, v in job.wildcards.items())
        lines.append(f"rule {job.rule.name}", style="bold")
        lines.append(f" ({wc})\n" if wc else "\n")
        lines.append(f"{job.rule.loc}\n", style="dim")
        if result.exit_code not in (None, 0):
            lines.append(f"exit status: {result.exit_code}\n")
        if result.error:
            lines.append(f"{result.error}\n")
        if result.command:
            lines.append("command: ", style="bold")
            lines.append(result.command.strip() + "\n", style="cyan")
        if job.log:
            lines.append("log: " + " ".join(str(f) for f in job.log) + "\n")
        tail = (result.log_tail or "").rstrip().splitlines()[-self.tail_lines:]
        if tail:
            lines.append("\n".join(tail), style="dim")
        return Panel(lines, title="job failed", border_style="red", expand=False)


def _describe(job: Any) -> str:
    wc = ", ".join(f"{k}={v}" for k, v in job.wildcards.items())
    return f"rule {job.rule.name}" + (f" ({wc})" if wc else "")
