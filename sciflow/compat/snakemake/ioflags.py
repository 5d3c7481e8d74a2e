"""``snakemake.ioflags`` and Snakemake 9's access-pattern flags (``access.random(...)``,
``access.sequential(...)``, ``access.multi(...)``), also in the workflow namespace.

Flags only mark a path (an ``IOFile`` flag, as ``temp()`` does); what they mean for planning
and running is decided where paths are planned and run:

* ``update("f")`` (output): the job updates an existing file instead of writing a new one —
  the file is kept, not removed, before the job runs.
* ``before_update("f")`` (input): the file as it is on disk before a job of this run updates
  it — no job is looked for that makes it.
* ``access.random/sequential/multi(f)``: how the job reads the file (flag ``access_pattern``,
  value an :class:`AccessPattern`); a hint for storage, with no effect on local files.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from sciflow.model import flag

ACCESS_PATTERN = "access_pattern"  # the flag's name (Snakemake's STORE_KEY)


def _plain(value: Any) -> Any:
    import os
    if isinstance(value, os.PathLike) and not isinstance(value, str):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def update(value: Any) -> Any:
    """An output file the job updates in place (kept before the job runs)."""
    return flag(_plain(value), "update")


def before_update(value: Any) -> Any:
    """An input file used as it is before a later job updates it (no producer looked for)."""
    return flag(_plain(value), "before_update")


class AccessPattern(Enum):
    RANDOM = "random"
    SEQUENTIAL = "sequential"
    MULTI = "multi"

    def __str__(self) -> str:
        return self.value


class AccessPatternFactory:
    """``access`` in the workflow namespace: ``access.random("ref.fa")`` etc."""

    @staticmethod
    def random(item: Any) -> Any:
        return flag(_plain(item), ACCESS_PATTERN, AccessPattern.RANDOM)

    @staticmethod
    def sequential(item: Any) -> Any:
        return flag(_plain(item), ACCESS_PATTERN, AccessPattern.SEQUENTIAL)

    @staticmethod
    def multi(item: Any) -> Any:
        return flag(_plain(item), ACCESS_PATTERN, AccessPattern.MULTI)


access = AccessPatternFactory

__all__ = ["update", "before_update", "access", "AccessPattern", "AccessPatternFactory",
           "ACCESS_PATTERN"]
