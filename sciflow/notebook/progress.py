"""The notebook's live run display: a ``Listener`` that redraws one output while a run works.

Why a listener of its own rather than rich's progress bar in Jupyter: a notebook can show a
table that updates in place (jobs done / running / failed per rule, elapsed and estimated
time, the Dask dashboard link, each failed job with the last lines of its log, and with
``printshellcmds`` each command as its job starts), which a one-line bar cannot.

It is drawn in an ``ipywidgets.HTML`` widget when ipywidgets is installed (the widget's value
is replaced, so front ends that keep widget state show the final table after a reload), else
in an updating ``IPython.display`` output (``display_id``), which every front end renders.
Counting per rule and the time estimate come from ``sciflow.progress.Tally``, the same
numbers the terminal shows.
"""
from __future__ import annotations

import time
from html import escape
from typing import Any, Sequence

from sciflow.events import JobResult, Listener, RunInfo
from sciflow.progress import Tally, format_seconds

REDRAW_S = 0.25        # at most four redraws a second: each one is a message to the front end
COMMANDS_SHOWN = 20    # printshellcmds: the latest commands, the list would grow without end
TAIL_LINES = 15

_CELL = "border:1px solid #ccc;padding:1px 6px;text-align:right"
_LEFT = "border:1px solid #ccc;padding:1px 6px;text-align:left"


def _describe(job: Any) -> str:
    wc = ", ".join(f"{k}={v}" for k, v in job.wildcards.items())
    return f"rule {job.rule.name}" + (f" ({wc})" if wc else "")


class NotebookProgress(Listener):
    """Live progress of one run in a notebook cell's output (see the module docstring).

    ``mode``: ``"widget"``, ``"html"`` or ``None`` (a widget when ipywidgets is importable).
    ``dashboard``: the Dask dashboard URL shown as a link (the session cluster's, if any)."""

    def __init__(self, *, printshellcmds: bool = False, dashboard: str | None = None,
                 mode: str | None = None, tail_lines: int = TAIL_LINES) -> None:
        self.printshellcmds = printshellcmds
        self.dashboard = dashboard
        self.mode = mode or ("widget" if _widgets_available() else "html")
        self.tally = Tally()
        self.tail_lines = tail_lines
        self.run_id = ""
        self.executor = ""
        self.workdir = ""
        self.state = "starting"
        self.failures: list[tuple[Any, JobResult]] = []
        self.commands: list[str] = []
        self.retries: list[str] = []
        self._widget: Any = None
        self._handle: Any = None
        self._drawn = 0.0

    # ------------------------------------------------------------------------------ hooks
    def run_started(self, run: RunInfo, jobs: Sequence[Any]) -> None:
        self.run_id, self.executor, self.workdir = run.run_id, run.executor, run.workdir
        self.dashboard = getattr(run, "dashboard", None) or self.dashboard
        self.state = "running"
        self.tally = Tally()
        self.tally.add(jobs)
        self._show()

    def jobs_added(self, run: RunInfo, jobs: Sequence[Any]) -> None:
        self.tally.add(jobs)
        self._redraw()

    def job_executing(self, run: RunInfo, job: Any, worker: str) -> None:
        self.tally.started(job)
        command = getattr(job, "command", None)
        if self.printshellcmds and command:
            self.commands.append(f"{_describe(job)}: {command.strip()}")
            del self.commands[:-COMMANDS_SHOWN]
            self._redraw(force=True)  # each command shows when its job starts
        else:
            self._redraw()

    def job_finished(self, run: RunInfo, job: Any, result: JobResult) -> None:
        self.tally.finished(job, result)
        self._redraw()

    def job_failed(self, run: RunInfo, job: Any, result: JobResult) -> None:
        self.tally.failed_job(job)
        self.failures.append((job, result))
        self._redraw(force=True)

    def job_retried(self, run: RunInfo, job: Any, result: JobResult) -> None:
        self.tally.stopped(job)
        error = (result.error or "").strip()
        why = error.splitlines()[0] if error else "failed"
        self.retries.append(f"retrying {_describe(job)} (attempt {result.attempt + 1}): {why}")
        self._redraw()

    def run_finished(self, run: RunInfo, ok: bool) -> None:
        self.state = "finished" if ok else ("interrupted" if run.status == "interrupted" else "FAILED")
        self._redraw(force=True)

    # ------------------------------------------------------------------------------ drawing
    def _show(self) -> None:
        from IPython.display import HTML, display

        if self.mode == "widget":
            try:
                import ipywidgets

                self._widget = ipywidgets.HTML(value=self.to_html())
                display(self._widget)
                return
            except Exception:  # no comm channel (a plain IPython shell): draw HTML instead
                self.mode, self._widget = "html", None
        self._handle = display(HTML(self.to_html()), display_id=True)

    def _redraw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < REDRAW_S:
            return
        self._drawn = now
        html = self.to_html()
        if self._widget is not None:
            self._widget.value = html
        elif self._handle is not None:
            from IPython.display import HTML

            self._handle.update(HTML(html))

    def to_html(self) -> str:
        """The whole display: a header line, a bar, the per-rule table, commands, failures."""
        t = self.tally
        color = {"finished": "#2a7", "running": "#27c"}.get(self.state, "#c33")
        finished = t.done + t.failed
        eta = t.eta() if self.state == "running" else None
        head = (f'<b style="color:{color}">sciflow run {escape(self.state)}</b> '
                f"<code>{escape(self.run_id)}</code> on {escape(self.executor)}: "
                f"{finished}/{t.total} jobs, {t.running} running, {t.failed} failed; "
                f"elapsed {format_seconds(t.elapsed())}")
        if self.state == "running":
            head += f", estimated {format_seconds(eta)} left" if eta is not None else ", estimating…"
        if self.dashboard:
            head += (f' · <a href="{escape(self.dashboard, quote=True)}" target="_blank">'
                     "Dask dashboard</a>")
        share = 100.0 * finished / t.total if t.total else 100.0
        bar = (f'<div style="background:#eee;width:100%;max-width:40em;height:8px">'
               f'<div style="background:{color};width:{share:.1f}%;height:8px"></div></div>')
        rows = "".join(
            f'<tr><td style="{_LEFT}">{escape(rule)}</td>'
            + "".join(f'<td style="{_CELL}">{n}</td>' for n in (c.done, c.running, c.failed, c.total))
            + f'<td style="{_CELL}">{format_seconds(c.mean) if c.mean is not None else ""}</td></tr>'
            for rule, c in sorted(t.rules.items()))
        header = "".join(f'<th style="{_LEFT}">{h}</th>' for h in
                         ("rule", "done", "running", "failed", "total", "mean time"))
        table = (f'<table style="border-collapse:collapse;font-size:12px">'
                 f"<thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>")
        parts = [f"<div>{head}</div>", bar, table]
        if self.commands:
            parts.append("<details open=\"open\"><summary>commands</summary><pre>"
                         + escape("\n".join(self.commands)) + "</pre></details>")
        if self.retries:
            parts.append("<pre style=\"color:#a60\">" + escape("\n".join(self.retries[-5:]))
                         + "</pre>")
        parts.extend(self._failure_html(job, result) for job, result in self.failures)
        return '<div class="sciflow-progress" style="font-family:sans-serif;font-size:12px">' \
            + "".join(parts) + "</div>"

    def _failure_html(self, job: Any, result: JobResult) -> str:
        from sciflow.notebook.magic import cell_location

        loc = job.rule.action.loc if job.rule.action and job.rule.action.loc else job.rule.loc
        lines = [cell_location(loc)]
        if result.exit_code not in (None, 0):
            lines.append(f"exit status: {result.exit_code}")
        if result.error:
            lines.append(result.error.strip())
        if result.command:
            lines.append("command: " + result.command.strip())
        from sciflow.notebook.logs import job_log_paths

        lines.append("log: " + " ".join(job_log_paths(job, self.workdir)))
        tail = (result.log_tail or "").rstrip().splitlines()[-self.tail_lines:]
        body = escape("\n".join(lines))
        if tail:
            body += "\n\nlast lines of its log:\n" + escape("\n".join(tail))
        return (f'<div style="border-left:3px solid #c33;padding-left:6px;margin-top:4px">'
                f'<b style="color:#c33">job failed: {escape(_describe(job))}</b>'
                f"<pre>{body}</pre></div>")


def _widgets_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ipywidgets") is not None
