"""Where a job's output went, and its last lines: what ``Run.logs(job)`` shows.

A job writes to its declared ``log:`` files (if any) and everything it prints (``print`` in a
``run:`` block, ``echo`` in a shell command, a script's stdout and stderr) goes to the file
the runner captures it in, ``.sciflow/logs/<rule>/<jobid>.log`` (``sciflow.layout.job_log``).
A notebook user should not have to know either place: ``JobLog`` names them and shows the end.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from html import escape
from typing import Any

from sciflow import layout

TAIL_BYTES = 65536


def job_log_paths(job: Any, workdir: str) -> list[str]:
    """The job's declared logs (relative to ``workdir``, as written) and then its captured
    output (absolute), whether they exist yet or not."""
    declared = [str(p) for p in (job.log or ())]
    return declared + [layout.job_log(workdir, job.rule.name, job.jobid)]


def read_tail(path: str, lines: int) -> str:
    """The last ``lines`` lines of ``path`` ("" if it is absent), reading at most 64 KiB."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - TAIL_BYTES))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:]) if lines > 0 else ""


@dataclass
class JobLog:
    """One job's log files (declared ones first, then the captured output) and their tails."""

    jobid: int
    rule: str
    workdir: str
    paths: list[str]

    @classmethod
    def of(cls, job: Any, workdir: str) -> "JobLog":
        return cls(job.jobid, job.rule.name, workdir, job_log_paths(job, workdir))

    @property
    def path(self) -> str:
        """The captured output (stdout and stderr of the job): always the last path."""
        return self.paths[-1]

    def _abs(self, path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(self.workdir, path)

    def existing(self) -> list[str]:
        return [p for p in self.paths if os.path.exists(self._abs(p))]

    def tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of each existing log, one after the other."""
        parts = []
        for p in self.existing():
            text = read_tail(self._abs(p), lines)
            if text and len(self.existing()) > 1:
                parts.append(f"==> {p} <==\n{text}")
            elif text:
                parts.append(text)
        return "\n".join(parts)

    def text(self) -> str:
        """The whole captured output."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def __str__(self) -> str:
        return self.tail()

    def _repr_html_(self) -> str:
        where = ", ".join(f"<code>{escape(p)}</code>" for p in self.paths)
        tail = self.tail()
        body = f"<pre>{escape(tail)}</pre>" if tail else "<p>(nothing written)</p>"
        return f"<div><p>job {self.jobid} ({escape(self.rule)}): {where}</p>{body}</div>"

    def __repr__(self) -> str:
        return f"<JobLog job {self.jobid} ({self.rule}): {self.path}>"
