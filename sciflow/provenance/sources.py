"""The files that shaped a run, archived so the run can be rebuilt from provenance alone.

The store records the workflow file's sha256 and the merged config, but a later edit of the
Snakefile, a config file or a ``script:`` would make the recorded run impossible to repeat.
So when a run starts the recorder copies them, content-addressed, into
``layout.sources_dir(workdir)/<sha256>`` (each version once, whatever the number of runs), and
writes a manifest ``runs/<run_id>.json``: every file's path relative to the working directory
with its sha256, which one is the workflow file, the merged config, the targets and the command
line. ``sciflow prov reproduce`` (reproduce.py) reads it back.

Archived: the workflow file, every included file (modules' too: each rule's source file),
every config file, and every ``script:``/``notebook:`` file whose path has no wildcard. Python
modules that ``run:`` blocks import from the project are not (the software of a job is
recorded, its local imports are not).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sciflow import layout
from sciflow.hashing import checksum

MANIFEST_VERSION = 1
MAX_FILE_BYTES = 64 << 20  # a "config file" larger than this is data, not archived


def source_files(workflow: Any, workdir: str) -> list[str]:
    """The absolute paths of the files that define ``workflow`` (see the module docstring).
    Relative paths are taken from ``workdir``, where the workflow was loaded."""
    if workflow is None:
        return []

    def absolute(path: str, base: str = workdir) -> str:
        return os.path.normpath(path if os.path.isabs(path) else os.path.join(base, path))

    main = absolute(workflow.path) if workflow.path else None
    found = [main] if main else []
    found += [absolute(p) for p in getattr(workflow, "includes", ())]
    found += [absolute(p) for p in getattr(workflow, "configfiles", ())]
    for rule in getattr(workflow, "rules", {}).values():
        loc = getattr(rule, "loc", None)
        src = absolute(str(loc.path)) if loc is not None and loc.path else main
        if src:
            found.append(src)
        action = rule.action
        if action is not None and str(getattr(action.kind, "value", action.kind)) in ("script", "notebook") \
                and "{" not in action.source and "://" not in action.source:
            found.append(absolute(action.source, os.path.dirname(src or workdir)))
    return [f for f in dict.fromkeys(found) if os.path.isfile(f)]


def archive_run(workdir: str | os.PathLike, run: Any) -> Path | None:
    """Copy the run's source files into the archive and write its manifest; the manifest's
    path, or None when there was nothing to archive. Never raises for an unreadable file: an
    archive that misses one file still lets reproduce say which."""
    workdir = os.path.abspath(run.workdir or workdir)
    root = layout.sources_dir(workdir)
    files: dict[str, str] = {}
    workflow_rel = None
    for full in source_files(run.workflow, workdir):
        try:
            if os.path.getsize(full) > MAX_FILE_BYTES:
                continue
            sha = checksum(full)
            if sha is None:
                continue
            _store(root, full, sha)
        except OSError:
            continue
        rel = os.path.relpath(full, workdir)
        files[rel] = sha
        if run.workflow is not None and os.path.normpath(os.path.join(workdir, run.workflow.path)) == full:
            workflow_rel = rel
    if not files:
        return None
    if workflow_rel is None and run.workflow_path:
        workflow_rel = os.path.relpath(os.path.join(workdir, run.workflow_path), workdir)
    manifest = {
        "version": MANIFEST_VERSION, "run_id": run.run_id, "workdir": workdir,
        "workflow": workflow_rel, "files": files, "config": _jsonable(run.config),
        "targets": [str(t) for t in run.targets], "command_line": list(run.command_line),
    }
    path = manifest_path(workdir, run.run_id)
    _atomic_write(path, json.dumps(manifest, indent=1, sort_keys=True).encode())
    return path


def manifest_path(workdir: str | os.PathLike, run_id: str) -> Path:
    return layout.sources_dir(workdir) / "runs" / f"{run_id}.json"


def load_manifest(workdir: str | os.PathLike, run_id: str) -> dict | None:
    try:
        return json.loads(manifest_path(workdir, run_id).read_text())
    except (OSError, ValueError):
        return None


def archived(workdir: str | os.PathLike, sha256: str) -> Path:
    """Where the archived copy of the content ``sha256`` is (it may be missing)."""
    return layout.sources_dir(workdir) / sha256


def _store(root: Path, full: str, sha: str) -> None:
    dest = root / sha
    if dest.exists():
        return
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-")
    os.close(fd)
    try:
        shutil.copyfile(full, tmp)
        if checksum(tmp) != sha:  # changed while copying: archive nothing rather than a lie
            return
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _jsonable(config: Any) -> Any:
    """The merged config as JSON, or None when it holds values JSON cannot carry (then
    reproduce relies on the archived config files alone)."""
    from sciflow.configload import bounded_plain

    try:
        value = bounded_plain(dict(config or {}))
        json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return None
    return None if "sciflow:truncated" in value else value


__all__ = ["archive_run", "archived", "load_manifest", "manifest_path", "source_files"]
