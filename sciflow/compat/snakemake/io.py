"""``snakemake.io``: the file-pattern functions and flags of Snakefiles, and the names of
Snakemake's containers (``Namedlist``, ``InputFiles``, ``OutputFiles``, ...). Everything is
sciflow's own implementation (:mod:`sciflow.wildcards`, :mod:`sciflow.helpers`); this module
only gathers it under Snakemake's module name."""
from __future__ import annotations

import logging
import queue as queue_module
from typing import Any, Iterable, Mapping

from sciflow.compat.snakemake.ioflags import access, before_update, update
from sciflow.errors import WorkflowError
from sciflow.helpers import (ancient, directory, ensure, local, pipe, protected, report, service,
                             temp, touch, unpack)
from sciflow.model import IOFile, NamedList, Wildcards, flag
from sciflow.wildcards import (apply_wildcards, compile_pattern, constant_prefix,
                               constant_suffix, expand, glob_wildcards, has_wildcards, multiext,
                               wildcard_names)

temporary = temp
AnnotatedString = IOFile  # a string carrying flags
get_wildcard_names = wildcard_names
contains_wildcard = has_wildcards


def is_flagged(value: Any, name: str) -> bool:
    """Whether ``value`` (a pattern returned by ``temp()``, ``directory()``, ...) carries the
    flag ``name``."""
    flags = getattr(value, "flags", None)
    return bool(flags) and name in flags


def regex_from_filepattern(pattern: str) -> str:
    """The regular expression (full match, one named group per wildcard) of a pattern."""
    return compile_pattern(pattern).pattern


regex = regex_from_filepattern


class Namedlist(NamedList):
    """Snakemake's ``Namedlist`` constructor on sciflow's named list: ``Namedlist(["a"])``,
    ``Namedlist(fromdict={"x": 1})``, ``Namedlist(toclone=other)`` (names kept)."""

    __slots__ = ()

    def __init__(self, toclone: Iterable[Any] | None = None,
                 fromdict: Mapping[str, Any] | None = None, **_ignored: Any) -> None:
        super().__init__((), None, flatten=False)
        if toclone is not None:
            list.extend(self, toclone)
            self._names = dict(getattr(toclone, "_names", {}))
        for name, value in (fromdict or {}).items():
            self._names[name] = (len(self), None)
            list.append(self, value)

    def __reduce_ex__(self, protocol: int):
        return (_rebuild, (type(self), list(self), dict(self._names)))


def _rebuild(cls: type, items: list, names: dict) -> "Namedlist":
    obj = cls(items)
    obj._names = names
    return obj


class InputFiles(Namedlist):
    __slots__ = ()


class OutputFiles(Namedlist):
    __slots__ = ()


class Params(Namedlist):
    __slots__ = ()


class Log(Namedlist):
    __slots__ = ()


class Resources(Namedlist):
    __slots__ = ()


class QueueInput:
    """``from_queue(q, finish_sentinel=S)``: the input of a rule without wildcards is the
    items put into the queue ``q`` (by a thread of the workflow) until ``S`` is put.

    Snakemake re-plans while the queue fills and starts jobs for items as they arrive; sciflow
    plans once, so it waits here, while planning, for the finish sentinel and then plans jobs
    for every item. The files made are the same; the jobs start after the queue is finished.
    Called again (a later planning pass), it gives the same items."""

    def __init__(self, items: queue_module.Queue, finish_sentinel: Any) -> None:
        self.queue = items
        self.finish_sentinel = finish_sentinel
        self.items: list[Any] = []
        self.finished = False

    def __call__(self, wildcards: Any) -> list[Any]:
        if len(wildcards):
            raise WorkflowError("from_queue() may not be used in rules with wildcards.")
        if not self.finished:
            logging.getLogger("sciflow.workflow").info(
                "waiting for the finish sentinel of a from_queue() input")
            while True:
                item = self.queue.get()
                self.queue.task_done()
                if item is self.finish_sentinel:
                    break
                self.items.append(item)
            self.finished = True
        return list(self.items)


def from_queue(items: queue_module.Queue, finish_sentinel: Any = None) -> QueueInput:
    """Input taken from a queue filled while the workflow runs (see :class:`QueueInput`)."""
    if finish_sentinel is None:
        raise WorkflowError("Please provide a finish sentinel to from_queue.",
                            hint="from_queue(q, finish_sentinel=S): the thread filling q puts "
                                 "S when it is done.")
    if not hasattr(items, "get") or not hasattr(items, "task_done"):
        raise WorkflowError(f"from_queue() takes a queue.Queue, got {type(items).__name__}")
    return QueueInput(items, finish_sentinel)


__all__ = ["from_queue", "QueueInput", "update", "before_update", "access", "expand", "glob_wildcards", "multiext", "temp", "temporary", "protected",
           "directory", "touch", "ancient", "unpack", "pipe", "service", "ensure", "report",
           "local", "flag", "is_flagged", "IOFile", "AnnotatedString", "Namedlist", "InputFiles", "OutputFiles",
           "Params", "Log", "Resources", "Wildcards", "apply_wildcards", "get_wildcard_names",
           "contains_wildcard", "regex_from_filepattern", "regex", "constant_prefix",
           "constant_suffix"]
