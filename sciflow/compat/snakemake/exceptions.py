"""``snakemake.exceptions``: Snakemake's exception names, mapped onto sciflow's one error tree
(:mod:`sciflow.errors`), so ``raise WorkflowError(...)`` in a Snakefile gives sciflow's clear
message and ``except MissingInputException`` catches what sciflow raises."""
from __future__ import annotations

from sciflow import errors
from sciflow.errors import (AmbiguousRuleError, CyclicDependencyError, IncompleteCheckpointError,
                            JobError, JobFailedError, MissingInputError, MissingOutputError,
                            RuleError, SciflowError, WorkflowError)

# Snakemake's names → sciflow's classes. Aliases, not subclasses: an error raised by either
# name is caught by both.
RuleException = RuleError
CreateRuleException = RuleError
UnknownRuleException = RuleError
MissingRuleException = RuleError
NoRulesException = RuleError
MissingInputException = MissingInputError
MissingOutputException = MissingOutputError
AmbiguousRuleException = AmbiguousRuleError
CyclicGraphException = CyclicDependencyError
IncompleteCheckpointException = IncompleteCheckpointError
ChildIOException = WorkflowError
IOException = WorkflowError
InputFunctionException = WorkflowError
ProtectedOutputException = JobError
ImproperOutputException = JobError
IncompleteFilesException = WorkflowError
TerminatedException = JobFailedError
CheckSumMismatchException = JobError
ClusterJobException = JobFailedError
SpawnedJobError = JobFailedError
WildcardError = errors.WildcardError  # the same name in both


class LookupError(WorkflowError):  # noqa: A001 - Snakemake's name (snakemake.exceptions)
    """``lookup()`` found nothing, or was called wrongly."""

    def __init__(self, msg: str | None = None, exc: BaseException | None = None,
                 query: str | None = None, dpath: str | None = None) -> None:
        what = f"query {query!r}" if query is not None else (
            f"dpath {dpath!r}" if dpath is not None else "lookup")
        text = f"lookup() with {what} failed"
        if msg:
            text += f": {msg}"
        if exc is not None:
            text += f" ({type(exc).__name__}: {exc})"
        super().__init__(text)


def print_exception(ex: BaseException, linemaps: object = None) -> None:
    """Print an error as sciflow prints it (``FILE:LINE:COL: message`` and the hint)."""
    import sys

    text = ex.format() if isinstance(ex, SciflowError) else f"{type(ex).__name__}: {ex}"
    print(text, file=sys.stderr)


__all__ = ["print_exception"] + [name for name in dir() if name[0].isupper()]
