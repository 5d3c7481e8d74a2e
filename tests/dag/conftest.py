"""Helpers: build Workflow objects directly (no parser needed) with real SourceLocs."""
from __future__ import annotations

from typing import Any

import pytest

from sciflow.model import SourceLoc, Workflow, WorkflowBuilder


def _args(value: Any) -> tuple[tuple, dict]:
    if value is None:
        return ((), {})
    if isinstance(value, dict):
        return ((), dict(value))
    if isinstance(value, (list, tuple)):
        return (tuple(value), {})
    return ((value,), {})


class Flow:
    """``Flow().rule("a", line, input=..., output=...)`` builds a Workflow step by step."""

    def __init__(self, path: str = "Snakefile") -> None:
        self.wf = Workflow(path=path)
        self.builder = WorkflowBuilder(self.wf)

    def rule(self, name: str, line: int, *, checkpoint: bool = False, **directives: Any) -> "Flow":
        args = {}
        for key, value in directives.items():
            if key in ("threads", "priority", "retries", "benchmark", "default_target"):
                args[key] = ((value,), {})
            elif key in ("input", "output", "params", "log") and isinstance(value, tuple) \
                    and len(value) == 2 and isinstance(value[1], dict):
                args[key] = value  # already (positional, named)
            else:
                args[key] = _args(value)
        self.builder.add_rule(name, SourceLoc(self.wf.path, line, 1), checkpoint=checkpoint,
                              **args)
        return self

    def ruleorder(self, *names: str, line: int = 99) -> "Flow":
        self.wf.ruleorder.append((list(names), SourceLoc(self.wf.path, line, 1)))
        return self


@pytest.fixture
def flow():
    return Flow


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run inside a fresh directory (existence checks are relative to the cwd)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
