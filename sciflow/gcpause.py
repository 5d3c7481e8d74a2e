"""Pausing Python's cyclic garbage collector around bulk graph work.

Both the DAG builder and the planner use it; it lives here so neither imports the other for it.
"""
from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: building (and planning) allocates millions of small
    acyclic objects and frees none, and its repeated full scans would make the work
    quadratic-ish (a third of the planning time at 50k jobs)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
