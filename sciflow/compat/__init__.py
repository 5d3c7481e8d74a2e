"""The ``snakemake`` API that Snakefiles, ``script:`` files and notebooks import — served by
sciflow, with or without a real Snakemake installed.

Real workflows start with ``from snakemake.utils import min_version, validate``; scripts do
``from snakemake.script import snakemake`` or ``from snakemake.shell import shell``. A sciflow
user has no Snakemake installed, and a user who has one must not find it replaced.

**Mechanism: an import scoped to the importing code, not to the process.** Python's
``import`` statement calls ``__import__(name, globals, ...)`` with the importing module's
globals. sciflow answers ``snakemake`` and ``snakemake.*`` from ``sciflow.compat.snakemake``
exactly when that importing code is workflow code:

* the workflow namespace (every Snakefile, every included file, and every function defined
  in them — input functions, ``run:`` blocks — even when called later) gets a private
  ``__builtins__`` whose ``__import__`` is :func:`compat_import`. Nothing process-wide changes:
  sciflow itself, the test suite, and any library in the same process still get the real
  Snakemake (or ``ModuleNotFoundError``) from ``import snakemake``.
* a ``script:`` (its own process) and a ``notebook:`` kernel: the preamble marks the script's
  globals (:data:`MARKER`) and installs :func:`compat_import` as ``builtins.__import__``; it
  serves only imports made by marked code and passes every other import through unchanged,
  so a library the script imports that itself imports Snakemake gets the real one.

Why not a ``sys.meta_path`` finder: finders are consulted only when a module is not yet in
``sys.modules``, so they cannot tell *who* imports. Whichever of sciflow's or the real
Snakemake's ``snakemake`` got there first would then be served to everyone in the process —
a workflow's behaviour would depend on whether Snakemake happened to be imported earlier, and
a real Snakemake would be shadowed. Keyed on the importer, a workflow always gets sciflow's
semantics (the same whether or not Snakemake is installed) and nothing else is touched.
Our modules live in ``sys.modules`` under their own names (``sciflow.compat.snakemake.utils``)
and never under ``snakemake``.

Limits: ``importlib.import_module("snakemake.utils")`` in workflow code bypasses
``__import__`` and gets the real Snakemake if installed (no published workflow does this);
helper modules *imported by* a Snakefile or script are ordinary modules and get the real one.
"""
from __future__ import annotations

import builtins
import importlib
from types import ModuleType
from typing import Any, Mapping

MARKER = "__sciflow_snakemake_api__"
PACKAGE = "sciflow.compat.snakemake"
SUBMODULES = ("utils", "io", "iocontainers", "ioutils", "ioflags", "shell", "logging",
              "exceptions", "script", "workflow", "settings", "remote")

_real_import = builtins.__import__


def is_snakemake_name(name: str) -> bool:
    """``snakemake`` or ``snakemake.<sub>`` (and not e.g. ``snakemake_wrapper_utils``)."""
    return name == "snakemake" or name.startswith("snakemake.")


def resolve(name: str, fromlist: Any = ()) -> ModuleType:
    """What ``import <name>`` (``fromlist`` empty: the top package) or ``from <name> import
    ...`` (the named module) returns, from sciflow's implementation."""
    target = PACKAGE + name[len("snakemake"):]
    try:
        leaf = importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith(PACKAGE):
            raise
        message = (f"No module named {name!r}: sciflow provides "
                   + ", ".join(["snakemake"] + [f"snakemake.{s}" for s in SUBMODULES])
                   + " to workflows, scripts and notebooks")
        if name.startswith("snakemake.remote"):
            message += (" (remote providers were removed in Snakemake 8 as well: download the "
                        "files first, and use local paths)")
        raise ModuleNotFoundError(message, name=name) from None
    if not fromlist:
        return importlib.import_module(PACKAGE)
    for item in fromlist:  # ``from snakemake import utils`` imports the submodule
        if item != "*" and not hasattr(leaf, item):
            try:
                importlib.import_module(f"{target}.{item}")
            except ModuleNotFoundError:
                pass  # the caller's IMPORT_FROM raises the usual ImportError
    return leaf


def compat_import(name: str, globals: Mapping[str, Any] | None = None, locals: Any = None,
                  fromlist: Any = (), level: int = 0) -> ModuleType:
    """``__import__`` that serves ``snakemake*`` to marked (workflow/script) code only."""
    if level == 0 and is_snakemake_name(name) and globals is not None \
            and globals.get(MARKER):
        return resolve(name, fromlist)
    return _real_import(name, globals, locals, fromlist, level)


def workflow_builtins() -> dict[str, Any]:
    """A ``__builtins__`` for the workflow namespace: the usual builtins, with
    :func:`compat_import` as ``__import__``. Code compiled into a namespace holding this (and
    :data:`MARKER` = True) gets sciflow's ``snakemake``; nothing outside it is affected.
    (Snakemake-internal names get a clear NameError: :mod:`sciflow.compat.namespace`.)"""
    from sciflow.compat.namespace import workflow_builtins as make
    return make()


def activate(namespace: dict[str, Any], snakemake_object: Any = None) -> None:
    """For a script or notebook process: mark ``namespace`` (the script's globals) and route
    ``import`` through :func:`compat_import` (idempotent). ``snakemake_object`` becomes
    ``snakemake.script.snakemake``, as Snakemake's own preamble sets it."""
    namespace[MARKER] = True
    if builtins.__import__ is not compat_import:
        builtins.__import__ = compat_import
    if snakemake_object is not None:
        script = importlib.import_module(PACKAGE + ".script")
        script.snakemake = snakemake_object


__all__ = ["MARKER", "compat_import", "workflow_builtins", "activate", "resolve",
           "is_snakemake_name"]
