"""One local Dask cluster for a whole notebook session.

``sciflow run`` starts a cluster per run and stops it at the end (3.7–4.1 s of a short run).
In a notebook a researcher runs, edits and runs again: the session keeps the cluster the first
run started and hands its client to every later run, until the kernel exits (``atexit``) or
``sciflow.close()``. A run asking for a different number of cores gets a new cluster of that
size. Workers keep loaded workflows by file and mtime, so edits are still picked up.
"""
from __future__ import annotations

import atexit
import os
import threading
from typing import Any

_lock = threading.Lock()
_executor: Any = None    # the DaskExecutor that owns the session's cluster
_cores: int | None = None
_registered = False


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell with a kernel, not a terminal IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def session_client(cores: int | None = None) -> Any:
    """The session's ``distributed.Client`` (starting its cluster on first use)."""
    global _executor, _cores, _registered
    from sciflow.execute.dask import DaskExecutor

    wanted = int(cores or os.cpu_count() or 1)
    with _lock:
        if _executor is not None and (_cores != wanted or not _alive(_executor)):
            _close_locked()
        if _executor is None:
            executor = DaskExecutor(cores=wanted, quiet=True)
            executor.start()
            _executor, _cores = executor, wanted
            if not _registered:
                atexit.register(close)
                _registered = True
        return _executor.client


def dashboard_link() -> str | None:
    """The session cluster's dashboard URL (None without a cluster or without bokeh)."""
    executor = _executor
    return getattr(executor, "dashboard_link", None) if executor is not None else None


def session_info() -> dict[str, Any] | None:
    """The session cluster: scheduler address, workers, cores, dashboard; None if none."""
    executor = _executor
    if executor is None or executor.client is None:
        return None
    return {"scheduler": executor.client.scheduler.address, "cores": _cores,
            "workers": len(executor.client.scheduler_info(n_workers=-1).get("workers", {})),
            "dashboard": dashboard_link()}


def close() -> None:
    """Close the session's cluster now (the next notebook run starts a new one)."""
    with _lock:
        _close_locked()


def _close_locked() -> None:
    global _executor, _cores
    executor, _executor, _cores = _executor, None, None
    if executor is not None:
        executor.shutdown()


def _alive(executor: Any) -> bool:
    client = executor.client
    return client is not None and getattr(client, "status", "") == "running"
