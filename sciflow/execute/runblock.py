"""``run:`` blocks on a worker: the rule's function, found again by loading the workflow.

The worker never receives the live namespace (``JobSpec`` is plain data): it loads the
workflow file once per worker process (a few kept, keyed by file, mtime and config) and looks
the rule's function up by name. Also here: ``bench_iteration`` as Snakemake's ``run:`` blocks
see it, the working directory a ``run:`` block's relative paths need, and the part of a
traceback that belongs to the user's code.
"""
from __future__ import annotations

import functools
import json
import os
import threading
import traceback
import types
from typing import Any, Callable

from sciflow import layout
from sciflow.errors import JobFailedError
from sciflow.execute.base import JobSpec
from sciflow.execute.procguard import HOST

MAX_LOADED = 4  # workflows kept per worker process (distinct files/configs)

_WORKFLOWS: dict[tuple, Any] = {}
_LOAD_LOCK = threading.Lock()


def workflow_function(spec: JobSpec) -> Callable[..., Any]:
    """The rule's ``run:`` function, from the workflow loaded once per worker process."""
    try:
        mtime = os.stat(spec.workflow_path).st_mtime_ns
    except OSError:
        raise JobFailedError(f"workflow file not found on worker {HOST}: "
                             f"{spec.workflow_path}") from None
    key = (spec.workflow_path, mtime, json.dumps(spec.config, sort_keys=True, default=str))
    with _LOAD_LOCK:  # threads of one worker must not load (or evict) concurrently
        workflow = _WORKFLOWS.get(key)
        if workflow is None:
            from sciflow.parse import load_workflow
            layout.enter_directory(spec.workdir)
            workflow = load_workflow(spec.workflow_path, config_overrides=spec.config)
            if len(_WORKFLOWS) >= MAX_LOADED:
                _WORKFLOWS.pop(next(iter(_WORKFLOWS)))
            _WORKFLOWS[key] = workflow
    rule = workflow.rules.get(spec.rule)
    if rule is None or rule.action is None or not rule.action.func_name:
        raise JobFailedError(f"rule {spec.rule!r} has no run: block in {spec.workflow_path}")
    func = workflow.globals.get(rule.action.func_name)
    if func is None:
        raise JobFailedError(f"the run: function of rule {spec.rule!r} was not defined")
    return func


def with_bench_iteration(func: Callable[..., Any], iteration: int | None) -> Callable[..., Any]:
    """Snakemake's ``run:`` blocks see ``bench_iteration`` (None, or the index of the
    ``benchmark: repeat(...)`` run). A function taking it as a parameter gets it as one;
    otherwise the name is looked up in the function's globals (by its code, or by ``shell()``
    formatting ``{bench_iteration}``): with a benchmark, the function is called through a copy
    of it whose globals add the name (threads of one worker may be running other iterations),
    without one the worker's namespace gets it as None."""
    code = getattr(func, "__code__", None)
    if code is None:
        return func
    if "bench_iteration" in code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]:
        return functools.partial(func, bench_iteration=iteration)
    if iteration is None:
        func.__globals__.setdefault("bench_iteration", None)
        return func
    clone = types.FunctionType(code, {**func.__globals__, "bench_iteration": iteration},
                               func.__name__, func.__defaults__, func.__closure__)
    clone.__kwdefaults__ = func.__kwdefaults__
    return clone


def user_traceback(err: BaseException, spec: JobSpec) -> str | None:
    """The traceback frames that belong to the user's code (not sciflow's)."""
    if spec.action != "run" or err.__traceback__ is None:
        return None
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not os.path.abspath(f.filename).startswith(here)]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(err), err)
    return "".join(lines).rstrip()[-4000:] or None
