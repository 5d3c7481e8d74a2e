"""The console progress display: a ``Listener`` drawing with ``rich`` on stderr.

Shows jobs done/total, running and failed while the run goes, each failure as it happens
(rule, wildcards, command, exit status, the tail of its log) and a summary at the end.
When stderr is not a terminal (a batch job's log file, CI, a pipe) there is no bar to redraw:
it writes one plain, timestamped line per finished or failed job instead, so a cluster log
shows how far a run got.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from sciflow.events import JobResult, Listener, RunInfo


class ConsoleProgress(Listener):
    """Progress bar and failure reports for ``sciflow run``."""

    def __init__(self, console: Console | None = None, *, force: bool = False,
                 printshellcmds: bool = False, tail_lines: int = 15) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = force or self.console.is_terminal
        self.plain = not self.enabled  # batch logs: one line per event, no live display
        self.printshellcmds = printshellcmds
        self.tail_lines = tail_lines
        self.total = self.done = self.failed = self.running = 0
        self.per_rule: dict[str, int] = {}
        self._progress: Progress | None = None
        self._task: Any = None
        self._t0 = 0.0

    # ------------------------------------------------------------------------------ hooks
    def run_started(self, run: RunInfo, jobs: Sequence[Any]) -> None:
        self.total = len(jobs)
        self._t0 = time.monotonic()
        if self.plain:
            self._line(f"sciflow run {run.run_id}: {self.total} jobs on {run.executor}")
        if not self.enabled:
            return
        self.console.print(f"[bold]sciflow[/] run {run.run_id}: {self.total} jobs on {run.executor}")
        counts: dict[str, int] = {}
        for job in jobs:
            counts[job.rule.name] = counts.get(job.rule.name, 0) + 1
        table = Table("job", "count", box=None, title="Job stats", title_justify="left")
        for rule, n in sorted(counts.items()):
            table.add_row(rule, str(n))
        table.add_row("total", str(self.total), style="bold")
        self.console.print(table)
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                                  console=self.console, transient=False)
        self._task = self._progress.add_task("jobs", total=self.total, status=self._status())
        self._progress.start()

    def jobs_added(self, run: RunInfo, jobs: Sequence[Any]) -> None:
        self.total += len(jobs)
        self._update()

    def job_started(self, run: RunInfo, job: Any) -> None:
        self.running += 1
        if self.enabled and self.printshellcmds and job.rule.action is not None:
            self.console.print(Text(f"{job!r}: {job.reason_text}", style="dim"))
        self._update()

    def job_finished(self, run: RunInfo, job: Any, result: JobResult) -> None:
        self.running -= 1
        self.done += 1
        self.per_rule[job.rule.name] = self.per_rule.get(job.rule.name, 0) + 1
        if self.plain:
            self._line(f"done {self.done + self.failed}/{self.total}: {_describe(job)}")
        if self.enabled and self.printshellcmds and result.command:
            self.console.print(Text(result.command.strip(), style="cyan"))
        self._update()

    def job_failed(self, run: RunInfo, job: Any, result: JobResult) -> None:
        self.running -= 1
        self.failed += 1
        self._update()
        if self.enabled:
            self.console.print(self.failure_panel(job, result))
        elif self.plain:
            self._line(f"FAILED {self.done + self.failed}/{self.total}: {_describe(job)}"
                       + (f", exit status {result.exit_code}" if result.exit_code not in (None, 0) else ""))

    def job_retried(self, run: RunInfo, job: Any, result: JobResult) -> None:
        why = (result.error or "failed").strip().splitlines()[0]
        text = f"retrying {_describe(job)} (attempt {result.attempt + 1}): {why}"
        if self.plain:
            self._line(text)
        elif self.enabled:
            self.console.print(Text(text, style="yellow"))

    def run_finished(self, run: RunInfo, ok: bool) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        seconds = time.monotonic() - self._t0
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

    def _status(self) -> str:
        text = f"running {self.running}"
        if self.failed:
            text += f", [red]failed {self.failed}[/]"
        return text

    def _update(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=self.total, completed=self.done + self.failed,
                                  status=self._status())

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
