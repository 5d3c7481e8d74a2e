"""Checkpoints: the part of the DAG that can only be known after a job has run.

An input function may ask ``checkpoints.split.get(sample="a").output``. While that
checkpoint job has not run, the resolver installed here raises ``IncompleteCheckpointError``;
the job factory then puts the checkpoint's first output in place of the function's value, so
the asking job depends on the checkpoint job (as Snakemake does with its
``checkpoint_target``). Once the checkpoint finished, ``after_checkpoint`` re-evaluates the
waiting jobs in place (same ``Job`` objects, new inputs) and adds the jobs they now need.

A checkpoint whose outputs already exist on disk counts as done, as in Snakemake, so a
second run of a workflow sees the whole graph at once; the jobs that read those outputs still
depend on the checkpoint job (if it can be built), so should the plan rerun it, they wait
for it and are re-evaluated afterwards.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

from sciflow import wildcards as wc
from sciflow.errors import IncompleteCheckpointError, WildcardError
from sciflow.model import NamedList, Rule, Workflow, name_slots, namedlist_of

if TYPE_CHECKING:  # pragma: no cover
    from sciflow.dag.factory import JobFactory
    from sciflow.dag.index import RuleInfo

__all__ = ["CheckpointJob", "CheckpointOutput", "install_resolver"]


class CheckpointJob:
    """What ``checkpoints.<name>.get(**wildcards)`` returns once the checkpoint has run."""

    __slots__ = ("rule", "output")

    def __init__(self, rule: Rule, output: NamedList) -> None:
        self.rule = rule
        self.output = output

    def __repr__(self) -> str:
        return f"CheckpointJob({self.rule.name}, output={list(self.output)})"


class CheckpointOutput(str):
    """One output path of a finished checkpoint, with Snakemake's ``_IOFile.open()``:
    input functions read the checkpoint's decision with
    ``checkpoints.x.get(**wildcards).output[0].open()``."""

    __slots__ = ()

    def open(self, mode: str = "r", buffering: int = -1, encoding: str | None = None,
             errors: str | None = None, newline: str | None = None) -> Any:
        return open(str(self), mode, buffering, encoding, errors, newline)


def install_resolver(workflow: Workflow, rule_info: Callable[[str], "RuleInfo | None"],
                     created: set[str], factory: "JobFactory") -> None:
    """Make ``checkpoints.<name>.get`` of the workflow namespace answer from a DAG being
    built: ``rule_info`` finds a rule's index entry, ``created`` holds the outputs of the
    checkpoints that finished, ``factory.asking`` collects what input functions read."""

    def resolve(name: str, wildcards: dict[str, Any]) -> CheckpointJob:
        info = rule_info(name)
        if info is None or not info.rule.checkpoint:
            raise WildcardError(f"{name!r} is not a checkpoint")
        rule = info.rule
        missing = [n for n in info.wc_names if n not in wildcards]
        if missing:
            raise WildcardError(f"checkpoints.{name}.get(...) misses values for the wildcards "
                                f"{', '.join(missing)}", rule.loc)
        values = {n: str(wildcards[n]) for n in info.wc_names}
        outputs = [wc.apply_wildcards(str(p), values) for p in rule.output]
        if not outputs:
            raise WildcardError(f"checkpoint {name} has no output", rule.loc)
        if all(o in created for o in outputs) or all(os.path.exists(o) for o in outputs):
            asking = factory.asking
            if asking is not None:
                asking.append(outputs[0])
            return CheckpointJob(rule, namedlist_of([CheckpointOutput(o) for o in outputs],
                                                  dict(name_slots(rule.output))))
        raise IncompleteCheckpointError(name, [outputs[0]])

    workflow.checkpoints.resolver = resolve
