"""The boundary types between dag → plan → execute → provenance: ``Job``, ``Reason``,
``JobState``.

A ``Job`` is one rule applied to one set of wildcard values, with every pattern resolved to
concrete paths. ``sciflow.dag`` creates jobs, ``sciflow.plan`` attaches the ``Reason``s why
each must run, the executor runs them and the provenance recorder describes them.

    >>> from sciflow.model import Rule, SourceLoc, NamedList, Wildcards
    >>> r = Rule("count", SourceLoc("Snakefile", 1))
    >>> j = Job(jobid=1, rule=r, wildcards=Wildcards({"s": "a"}),
    ...         input=NamedList(["data/a.txt"]), output=NamedList(["counts/a.tsv"]))
    >>> j, Reason(ReasonKind.MISSING_OUTPUT, ("counts/a.tsv",))
    (Job(1, count, s=a), Reason: Missing output files: counts/a.tsv)
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from sciflow.model import NamedList, Rule, SourceLoc, Wildcards


class ReasonKind(str, enum.Enum):
    """Why a job must run, in Snakemake's words where Snakemake has them."""

    MISSING_OUTPUT = "missing-output"          # Missing output files: ...
    UPDATED_INPUT = "updated-input"            # Updated input files: ...
    UPSTREAM = "upstream"                      # Input files updated by another job: ...
    PARAMS_CHANGED = "params-changed"          # Params have changed since last execution
    CODE_CHANGED = "code-changed"              # Code has changed since last execution
    INPUT_SET_CHANGED = "input-set-changed"    # Set of input files has changed since last execution
    SOFTWARE_CHANGED = "software-changed"      # Software environment definition has changed
    FORCED = "forced"                          # Forced execution
    INCOMPLETE = "incomplete"                  # Incomplete output files (previous run failed)
    NO_OUTPUT = "no-output"                    # Rules with neither input nor output files are always executed.
    TARGET = "target"                          # a target rule without output: always runs
    CHECKPOINT = "checkpoint"                  # re-evaluated after a checkpoint


_MESSAGES = {
    ReasonKind.MISSING_OUTPUT: "Missing output files",
    ReasonKind.UPDATED_INPUT: "Updated input files",
    ReasonKind.UPSTREAM: "Input files updated by another job",
    ReasonKind.PARAMS_CHANGED: "Params have changed since last execution",
    ReasonKind.CODE_CHANGED: "Code has changed since last execution",
    ReasonKind.INPUT_SET_CHANGED: "Set of input files has changed since last execution",
    ReasonKind.SOFTWARE_CHANGED: "Software environment definition has changed since last execution",
    ReasonKind.FORCED: "Forced execution",
    ReasonKind.INCOMPLETE: "Incomplete output files from a previous run",
    ReasonKind.NO_OUTPUT: "Rules with neither input nor output files are always executed",
    ReasonKind.TARGET: "Target rule without output files",
    ReasonKind.CHECKPOINT: "Re-evaluated after a checkpoint finished",
}


@dataclass(frozen=True, slots=True)
class Reason:
    """One cause for running a job, with the files or names it concerns."""

    kind: ReasonKind
    files: tuple[str, ...] = ()
    detail: str = ""

    def __str__(self) -> str:
        text = _MESSAGES[self.kind]
        if self.files:
            text += ": " + ", ".join(self.files)
        if self.detail:
            text += f" ({self.detail})"
        return text

    def __repr__(self) -> str:
        return f"Reason: {self}"


class JobState(str, enum.Enum):
    """The lifecycle of a job. Normal path: WAITING → READY → SUBMITTED → RUNNING → DONE.

    FAILED and CANCELLED are final too; SKIPPED marks a job the plan found up to date."""

    WAITING = "waiting"      # some dependency has not finished
    READY = "ready"          # every dependency finished; may be submitted
    SUBMITTED = "submitted"  # handed to the executor
    RUNNING = "running"      # a worker started it
    DONE = "done"            # finished, outputs verified
    FAILED = "failed"        # failed after all retries
    CANCELLED = "cancelled"  # never ran because a dependency failed or the run stopped
    SKIPPED = "skipped"      # up to date; not run


FINAL_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.SKIPPED})


@dataclass(eq=False, slots=True)
class Job:
    """One rule applied to one set of wildcard values; all paths concrete.

    Identity is the object (``eq=False``): the DAG keeps one Job per (rule, outputs). Equality
    and hashing are ``object``'s, both in C: the DAG hashes jobs ~17 times each."""

    jobid: int
    rule: Rule
    wildcards: Wildcards
    input: NamedList
    output: NamedList
    params: NamedList = field(default_factory=NamedList)
    log: NamedList = field(default_factory=NamedList)
    benchmark: str | None = None
    threads: int = 1
    resources: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    retries: int = 0
    reasons: list[Reason] = field(default_factory=list)
    state: JobState = JobState.WAITING
    command: str | None = None  # the formatted shell command, set when submitted (-p shows it)

    @property
    def loc(self) -> SourceLoc:
        return self.rule.loc

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def reason_text(self) -> str:
        return "; ".join(str(r) for r in self.reasons)

    def __repr__(self) -> str:
        wc = ", ".join(f"{k}={v}" for k, v in self.wildcards.items())
        return f"Job({self.jobid}, {self.rule.name}{', ' + wc if wc else ''})"

    def to_json(self) -> dict[str, Any]:
        """The dry-run JSON shape promised by the command-line contract."""
        return {
            "id": self.jobid,
            "rule": self.rule.name,
            "wildcards": self.wildcards.as_dict(),
            "inputs": [str(f) for f in self.input],
            "outputs": [str(f) for f in self.output],
            "reason": self.reason_text,
        }
