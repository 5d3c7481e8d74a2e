"""Where sciflow keeps its own state in a working directory: the ``.sciflow/`` layout, in one place.

Every module that reads or writes below ``.sciflow/`` asks this module for the path, so the
layout is written down once (and in ``docs/ARCHITECTURE.md``, which lists who writes and who
reads each entry). Functions only build paths; none creates anything, because whether a
missing directory is an error or is made on first use is the caller's decision.

    .sciflow/
      meta.sqlite          job metadata: output versions, incomplete markers   (metadata.py)
      prov/                the provenance store (Oxigraph/RocksDB)            (provenance/store.py)
      prov-hash.sqlite     sha256 cache keyed by file version                 (hashing.py)
      content-fp.sqlite    HDF5/NetCDF content fingerprints per version/sha256 (provenance/fingerprint.py)
      sources/             workflow, config and script files of each run, by sha256 (provenance/sources.py)
      prov-want/           runs waiting for the store's hand-over             (provenance/store.py)
      prov-journal/        finished jobs' quads (N-Quads) not yet in prov/    (provenance/journal.py)
      lock/                one lock file per live run; dead/ for the dead ones (lock.py)
      logs/<run>.log       the run's log; logs/<rule>/<jobid>.log per job      (engine.py, runner.py)
      procs/<run>/         one record per job attempt (process groups)        (execute/procguard.py)
      scripts/             long shell commands and script: copies per job      (execute/runner.py)
      shadow/              shadow directories of running jobs                  (execute/shadow.py)
      conda/               environments built from conda: files                (execute/envs.py)
      wrappers/            wrapper cache keyed by URL                          (execute/deploy.py)
      jobqueue/            batch-system logs and certificates                  (execute/hpc.py)
      cells/<file>.namespace.pickle  a notebook's names for a workflow written in a cell
                                                                               (notebook/namespace.py)
"""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Iterator

from sciflow.errors import UsageError

WORKFLOW_FILES = ("Sciflowfile", "Snakefile", "workflow/Snakefile")
"""The names looked for, in order, when no workflow file is given (Snakemake's, Sciflowfile first)."""

STATE_DIR = ".sciflow"
"""The name of sciflow's state directory inside a working directory."""

TOOL_STATE_DIRS = (STATE_DIR, ".snakemake")
"""Directories of a workflow manager's own state (ours, and Snakemake's beside it in a shared
working directory): never workflow data, so never mirrored into a shadow directory nor searched
for raw inputs."""


def state_dir(workdir: str | os.PathLike) -> Path:
    return Path(workdir) / STATE_DIR


def metadata_db(workdir: str | os.PathLike) -> Path:
    return state_dir(workdir) / "meta.sqlite"


def prov_store(workdir: str | os.PathLike) -> Path:
    return state_dir(workdir) / "prov"


def prov_hash_db(workdir: str | os.PathLike) -> Path:
    return state_dir(workdir) / "prov-hash.sqlite"


def content_fingerprint_db(workdir: str | os.PathLike) -> Path:
    return state_dir(workdir) / "content-fp.sqlite"


def sources_dir(workdir: str | os.PathLike) -> Path:
    """Content-addressed copies of the files that shaped each run (``<sha256>``), and one
    manifest per run (``runs/<run_id>.json``): what ``sciflow prov reproduce`` rebuilds from."""
    return state_dir(workdir) / "sources"


def prov_want_dir(workdir: str | os.PathLike) -> Path:
    return state_dir(workdir) / "prov-want"


def prov_journal_dir(workdir: str | os.PathLike) -> Path:
    """Each recording run's journal: ``<writer>.lock`` (held while the run lives) and
    ``<writer>.<seq>.nq`` segments of finished jobs' quads waiting to be loaded into ``prov/``."""
    return state_dir(workdir) / "prov-journal"


def lock_dir(workdir: str | os.PathLike) -> Path:
    return state_dir(workdir) / "lock"


def run_log(workdir: str | os.PathLike, run_id: str) -> Path:
    return state_dir(workdir) / "logs" / f"{run_id}.log"


def job_log(workdir: str | os.PathLike, rule: str, jobid: int | str) -> str:
    """The captured stdout/stderr of one job (a str: the worker side works with os.path)."""
    return os.path.join(os.fspath(state_dir(workdir)), "logs", rule, f"{jobid}.log")


def procs_dir(workdir: str | os.PathLike, run_id: str) -> str:
    return os.path.join(os.fspath(state_dir(workdir)), "procs", run_id)


def scripts_dir(workdir: str | os.PathLike) -> str:
    return os.path.join(os.fspath(state_dir(workdir)), "scripts")


def conda_dir(workdir: str | os.PathLike) -> str:
    return os.path.join(os.path.abspath(workdir), STATE_DIR, "conda")


def wrappers_cache(workdir: str | os.PathLike) -> str:
    return os.path.join(os.fspath(state_dir(workdir)), "wrappers")


def jobqueue_dir(workdir: str | os.PathLike) -> str:
    return os.path.join(os.fspath(state_dir(workdir)), "jobqueue")


def cell_namespace(workflow_file: str | os.PathLike) -> str:
    """The notebook namespace saved for a workflow file written from a cell (the file lives in
    the working directory, so this is in that directory's ``.sciflow/``)."""
    path = os.path.abspath(workflow_file)
    return os.path.join(os.fspath(state_dir(os.path.dirname(path))), "cells",
                        os.path.basename(path) + ".namespace.pickle")


def find_workflow_file(explicit: str | os.PathLike | None = None,
                       workdir: str | os.PathLike | None = None) -> Path:
    """The workflow file of a command: the one finder every command uses (run, lint, dag, rules,
    report, the API), so ``-s``/``-d`` mean the same everywhere.

    ``explicit`` (``-s``) is taken as given, else inside ``workdir`` (``-d``); without it, the
    first of ``WORKFLOW_FILES`` in ``workdir``. With ``workdir`` the result is absolute;
    without it, relative to the current directory as found (so errors say ``Snakefile:3``).
    """
    base = Path(workdir) if workdir is not None else None
    if explicit:
        candidates = [Path(explicit)] + ([base / explicit] if base is not None else [])
        for cand in candidates:
            if cand.is_file():
                return cand.absolute() if base is not None else cand
        raise UsageError(f"workflow file not found: {os.fspath(explicit)}")
    for name in WORKFLOW_FILES:
        cand = (base / name) if base is not None else Path(name)
        if cand.is_file():
            return cand.absolute() if base is not None else cand
    where = f" in {os.fspath(base)}" if base is not None else ""
    raise UsageError(f"no workflow file found{where} (looked for {', '.join(WORKFLOW_FILES)})",
                     hint="Name one with -s FILE.")


_cwd_lock = threading.RLock()


@contextlib.contextmanager
def in_directory(path: str | os.PathLike) -> Iterator[None]:
    """Run user code (workflow top level, input functions, handlers) inside ``path``: the one
    way the driver enters a working directory (the current directory is per process, so
    entering it is serialised). Workers use ``enter_directory``."""
    with _cwd_lock:
        old = os.getcwd()
        os.chdir(path)
        try:
            yield
        finally:
            os.chdir(old)


def enter_directory(path: str | os.PathLike) -> None:
    """Move this process into ``path`` and stay there: how a worker enters the working
    directory (``run:`` code uses relative paths; restoring the old directory would pull the
    floor from under a ``run:`` job still running in another thread of the worker). Serialised
    with ``in_directory`` by the same lock."""
    with _cwd_lock:
        if os.getcwd() != os.fspath(path):
            os.chdir(path)
