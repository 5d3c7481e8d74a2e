"""The one exception tree of sciflow.

Two kinds of failure are kept apart, because the user does different things about them:

* ``WorkflowError`` — *the workflow is wrong*: a syntax error, an unknown directive, a cycle, a
  missing input, an ambiguous rule. Nothing ran (or nothing more will run); fix the file.
* ``JobError`` — *a job failed*: a command exited non-zero, a declared output was not made, a
  job timed out. The workflow is fine; look at the job's log.

Everything sciflow raises on purpose is a ``SciflowError`` with a user-facing message, an
optional ``SourceLoc`` and an optional hint ("a way out"). The CLI prints ``err.format()`` and
exits with ``err.exit_code``; it never shows a traceback for these.

Example::

    >>> from sciflow.model import SourceLoc
    >>> e = ParseError("expected ':' after 'output'", SourceLoc("Snakefile", 6, 5))
    >>> str(e)
    "Snakefile:6:5: expected ':' after 'output'"
"""
from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from sciflow.model import SourceLoc


class SciflowError(Exception):
    """Base of every error sciflow raises on purpose; carries a message meant for a person."""

    exit_code: int = 1

    def __init__(self, message: str, loc: "SourceLoc | None" = None, hint: str | None = None,
                 source_line: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.hint = hint
        self._source_line = source_line

    def __str__(self) -> str:
        return f"{self.loc}: {self.message}" if self.loc else self.message

    def source_line(self) -> str | None:
        """The offending source line, read from the file when not given."""
        if self._source_line is not None:
            return self._source_line
        if self.loc is None or not self.loc.line:
            return None
        if self.loc.line < 1:
            return None
        try:  # line by line: only the wanted line is kept, however large the file
            with open(self.loc.path, encoding="utf-8-sig", errors="replace") as f:
                line = next(islice(f, self.loc.line - 1, None), None)
        except OSError:
            return None
        return None if line is None else line.rstrip("\r\n")

    def format(self) -> str:
        """``FILE:LINE:COL: message``, then the source line and a caret, then the hint."""
        parts = [str(self)]
        line = self.source_line()
        if line is not None and self.loc is not None:
            line, col = clip_line(line.rstrip(), max(self.loc.col, 1))
            parts.append("    " + line)
            prefix = "".join(ch if ch == "\t" else " " for ch in line[: col - 1])
            parts.append("    " + prefix + "^")
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)


CONTEXT = 80  # characters of a long source line shown around the caret


def clip_line(line: str, col: int, width: int = CONTEXT) -> tuple[str, int]:
    """``line`` cut to about ``width`` characters around column ``col`` (1-based), with "…"
    where it was cut, and the caret's column in the cut line: an error in a 50 MB line
    must not print 50 MB."""
    if len(line) <= width + 2:
        return line, col
    start = max(0, min(col - 1 - width // 2, len(line) - width))
    end = min(len(line), start + width)
    head = "…" if start > 0 else ""
    tail = "…" if end < len(line) else ""
    return head + line[start:end] + tail, col - start + len(head)


class UsageError(SciflowError):
    """Bad command-line usage (unknown option value, no workflow file found, ...)."""

    exit_code = 2


class ProfileError(UsageError):
    """A Snakemake profile (``--profile``/``--workflow-profile``) is missing or has a bad key
    or value; located at the profile file's line (exit status 2, as a bad flag)."""


# --------------------------------------------------------------------------- the workflow is wrong
class WorkflowError(SciflowError):
    """The workflow (its file, its config, its DAG) is wrong; nothing more will run."""


class ParseError(WorkflowError):
    """The file is not valid sciflow/Snakemake syntax."""


class RuleError(WorkflowError):
    """A rule is malformed: unknown directive, two actions, duplicate name, bad value."""


class IncludeError(WorkflowError):
    """An ``include:``/``configfile:`` names a file that cannot be read."""


class ConfigError(WorkflowError):
    """The config (``--config``, ``--configfile``, ``configfile:``) is invalid."""


class WildcardError(WorkflowError):
    """Wildcards that do not fit: an input wildcard absent from the output, a bad regex."""


class DAGError(WorkflowError):
    """The file-dependency graph cannot be built."""


class CyclicDependencyError(DAGError):
    """Rules depend on each other in a circle; the message names the chain."""


class MissingInputError(DAGError):
    """An input file does not exist and no rule can make it."""


class AmbiguousRuleError(DAGError):
    """Two rules can make the same file and nothing says which wins."""


class UnknownTargetError(DAGError):
    """A requested target is neither a file nor something a rule can make."""


class LockError(WorkflowError):
    """Another sciflow run holds the lock on overlapping outputs in this directory."""


class UnsatisfiableResourcesError(WorkflowError):
    """A rule asks for more threads, memory or runtime than any worker of the cluster has."""


class DeploymentError(WorkflowError):
    """What a rule needs to run cannot be provided here (a wrapper that cannot be found, no
    conda/apptainer/``module`` for ``--use-conda``/``--use-apptainer``/``--use-envmodules``);
    raised before any job runs."""


class ConfinementError(WorkflowError):
    """An output, log or benchmark path would write or delete outside the working directory
    (without ``external()``), or names the workdir, an ancestor, ``.sciflow/`` or a workflow file."""


class IncompleteCheckpointError(WorkflowError):
    """Raised inside input functions that ask a checkpoint which has not run yet.

    Not an error the user sees: the DAG catches it and waits for the checkpoint."""

    def __init__(self, rule: str, targets: Sequence[str] = ()) -> None:
        super().__init__(f"checkpoint {rule!r} has not been executed yet")
        self.rule = rule
        self.targets = list(targets)


class ErrorGroup(WorkflowError):
    """Several workflow problems found in one pass, reported all at once."""

    def __init__(self, errors: Iterable[SciflowError]) -> None:
        self.errors = list(errors)
        n = len(self.errors)
        super().__init__(f"{n} error{'s' if n != 1 else ''} encountered")

    def format(self) -> str:
        return "\n\n".join(e.format() for e in self.errors) + f"\n\n{self.message}"


# ------------------------------------------------------------------------------- a job failed
class JobError(SciflowError):
    """A job failed while the workflow itself is fine."""

    def __init__(self, message: str, loc: "SourceLoc | None" = None, hint: str | None = None,
                 *, rule: str | None = None, wildcards: dict | None = None,
                 log_tail: str | None = None) -> None:
        super().__init__(message, loc, hint)
        self.rule = rule
        self.wildcards = dict(wildcards or {})
        self.log_tail = log_tail


class JobFailedError(JobError):
    """The job's command or code exited with an error."""


class MissingOutputError(JobError):
    """The job finished but did not create all of its declared outputs."""


class JobTimeoutError(JobError):
    """The job ran longer than its ``runtime``/timeout and was killed."""


class RunFailedError(JobError):
    """One or more jobs failed; the run stopped (or finished with ``--keep-going``)."""

    def __init__(self, failures: Sequence[JobError], note: str | None = None) -> None:
        self.failures = list(failures)
        self.note = note  # e.g. which jobs were cancelled, killed or allowed to finish
        n = len(self.failures)
        super().__init__(f"{n} job{'s' if n != 1 else ''} failed")

    def format(self) -> str:
        note = f"\n{self.note}" if self.note else ""
        return "\n\n".join(f.format() for f in self.failures) + f"\n\n{self.message}{note}"

    def __str__(self) -> str:  # in notebooks and test reports too, say which jobs and why
        return self.format()


class RunInterruptedError(SciflowError):
    """SIGINT/SIGTERM stopped the run; it cleaned up (jobs killed, outputs marked incomplete,
    provenance closed as "interrupted", lock released). Exit status 128 + the signal."""

    def __init__(self, message: str, signum: int = 2) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


# --------------------------------------------------------------------------- infrastructure
class ExecutorError(SciflowError):
    """The execution backend could not start or was lost (scheduler unreachable, no SLURM...)."""


class ProvenanceError(SciflowError):
    """The provenance store cannot be opened or a query is invalid."""


class MetadataError(SciflowError):
    """The metadata database (``.sciflow/meta.sqlite``) is corrupt or cannot be written."""


class MissingDependencyError(SciflowError):
    """An optional dependency is missing; the message says how to install it."""

    exit_code = 2
