"""The notebook's names, made visible to a workflow written in a cell.

Rules in a cell call functions and read values defined in earlier cells. The workflow file is
loaded twice over: in the kernel (the DAG, input functions, params) and on every Dask worker
process (``run:`` blocks), which have never seen the notebook. So the names are saved beside
the workflow file (``sciflow.layout.cell_namespace``), each value pickled on its own with
cloudpickle (functions and classes defined in the notebook travel by value; imported modules
by name), and every load of that file starts from them: kernel and workers see the same
names. The saved names are tied to the file's sha256: a file edited since (or run later from
a terminal) is loaded without them.

Loading a pickle is running code; the file sits in the working directory's ``.sciflow/``
beside the workflow code it belongs to, which is run anyway.
"""
from __future__ import annotations

import os
import pickle
from typing import Any, Mapping

from sciflow import layout

# IPython's own names and history (In, Out, _1, ...) are not the user's
SKIP = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})
MAX_VALUE_BYTES = 8 * 2 ** 20  # a large data frame is not worth copying on every run


def visible_names(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The user's names of an IPython namespace (no ``_``-names, no IPython helpers)."""
    return {k: v for k, v in namespace.items()
            if not k.startswith("_") and k not in SKIP and not _is_ipython(v)}


def _is_ipython(value: Any) -> bool:
    module = getattr(type(value), "__module__", "") or ""
    return module.startswith(("IPython.", "ipykernel.", "sciflow.")) and not isinstance(value, type)


def save_namespace(workflow_file: str, source_sha256: str,
                   namespace: Mapping[str, Any]) -> dict[str, str]:
    """Save the picklable names of ``namespace`` for ``workflow_file``; return the names left
    out and why (unpicklable, too large). The file is rewritten only when it changed, and
    then the workflow file's mtime is bumped too, so workers reload the workflow."""
    import cloudpickle

    values: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    for name, value in visible_names(namespace).items():
        try:
            data = cloudpickle.dumps(value)
        except Exception as exc:  # sockets, clients, open files...
            skipped[name] = f"cannot be pickled: {type(exc).__name__}"
            continue
        if len(data) > MAX_VALUE_BYTES:
            skipped[name] = f"larger than {MAX_VALUE_BYTES // 2 ** 20} MiB"
            continue
        values[name] = data
    blob = pickle.dumps({"source_sha256": source_sha256, "values": values})
    path = layout.cell_namespace(workflow_file)
    try:
        with open(path, "rb") as fh:
            if fh.read() == blob:
                return skipped
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(blob)
    os.replace(tmp, path)
    os.utime(workflow_file)  # workers cache a loaded workflow by the file's mtime
    return skipped


def load_namespace(workflow_file: str, source_sha256: str) -> dict[str, Any]:
    """The names saved for ``workflow_file`` if they belong to this very text, else none.
    A value that does not load here (a module not installed on a worker) is left out."""
    path = layout.cell_namespace(workflow_file)
    try:
        with open(path, "rb") as fh:
            saved = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError):
        return {}
    if not isinstance(saved, dict) or saved.get("source_sha256") != source_sha256:
        return {}
    out = {}
    for name, data in saved.get("values", {}).items():
        try:
            out[name] = pickle.loads(data)
        except Exception:
            continue
    return out
