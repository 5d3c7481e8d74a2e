"""``cache: True`` / ``cache: "omit-software"`` with ``--cache``: Snakemake's between-workflow
output cache.

A cached job's outputs are stored under ``$SNAKEMAKE_OUTPUT_CACHE`` keyed by the job's
*provenance hash*; a later job (in this or any other workflow) with the same hash gets the
stored outputs copied into place instead of running. Without ``--cache`` the directive is
ignored, as in Snakemake.

The provenance hash, as Snakemake builds it, covers what determines the outputs and nothing
about where they are written: the rule's code (the shell command *before* formatting, the
script's or ``run:`` block's source, the wrapper's name), the params, the checksums of input
files that no job of the DAG produces, the software (conda environment file content or
container image; left out with ``"omit-software"``), and the hashes of the jobs producing the
other inputs (so an unchanged upstream chain gives the same key without hashing
intermediate files). Unlike Snakemake the wildcards are hashed too: two jobs of one rule that
differ only by a wildcard used in the command must not share outputs.

Layout: ``$SNAKEMAKE_OUTPUT_CACHE/sciflow-<hash>/<n>`` (the n-th output, file or directory)
and ``manifest.json``; an entry is written to a temporary name and renamed, so readers never
see half an entry.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from typing import Any, Iterable

from sciflow import hashing
from sciflow.errors import DeploymentError, RuleError

CACHE_ENV = "SNAKEMAKE_OUTPUT_CACHE"
HASH_VERSION = "sciflow-cache-1"


def cache_mode(rule: Any) -> str | None:
    """``"all"`` / ``"omit-software"`` for a rule marked ``cache:``, else None."""
    value = rule.cache
    if value in (None, False, ""):
        return None
    if value is True or value == "all":
        return "all"
    if value == "omit-software":
        return value
    raise RuleError(f"rule {rule.name!r}: cache: takes True or \"omit-software\", got {value!r}",
                    rule.loc_of("cache"))


def cache_dir(rules: Iterable[Any]) -> str:
    """``$SNAKEMAKE_OUTPUT_CACHE``, which ``--cache`` needs (a clear error otherwise)."""
    path = os.environ.get(CACHE_ENV)
    if not path:
        names = ", ".join(r.name for r in rules) or "none"
        raise DeploymentError(
            f"--cache: the environment variable {CACHE_ENV} is not set (cached rules: {names})",
            hint=f"export {CACHE_ENV}=/path/to/a/shared/cache/directory, or run without "
                 "--cache.")
    os.makedirs(path, exist_ok=True)
    return path


def _file_sha256(path: str) -> str:
    """A file's sha256 (``sciflow.hashing``: computed once per file version), or a directory's:
    its files' relative paths and checksums (this key format is the cache's own, kept so that
    existing cache entries are still found)."""
    if not os.path.isdir(path):
        return hashing.checksum(path) or hashing.sha256_file(path)  # (raises if it is missing)
    h = hashlib.sha256()
    for top, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(top, name)
            h.update(os.path.relpath(full, path).encode() + b"\0")
            h.update(_file_sha256(full).encode())
    return h.hexdigest()


class ProvenanceHasher:
    """Provenance hashes of a DAG's jobs, each computed once (dependencies recursively)."""

    def __init__(self, dag: Any, workflow: Any, workdir: str) -> None:
        self.dag = dag
        self.workflow = workflow
        self.workdir = workdir
        self._memo: dict[int, str] = {}

    def _abs(self, path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(self.workdir, path)

    def hash(self, job: Any, omit_software: bool | None = None) -> str:
        if job.jobid in self._memo:
            return self._memo[job.jobid]
        if omit_software is None:
            omit_software = cache_mode(job.rule) == "omit-software"
        h = hashlib.sha256(HASH_VERSION.encode())
        rule = job.rule
        action = rule.action
        kind = getattr(action.kind, "value", action.kind) if action else ""
        h.update(f"{kind}\0{action.source if action else ''}\0".encode())
        if kind in ("script", "notebook"):
            from sciflow.execute.spec import resolve_script
            script = resolve_script(action.source, self.workflow, job, self.workdir)
            if os.path.isfile(script):
                h.update(_file_sha256(script).encode())
        h.update(json.dumps([list(job.params), sorted(job.params.items())], sort_keys=True,
                            default=repr).encode())
        h.update(json.dumps(sorted(job.wildcards.items())).encode())
        deps = []
        for path in job.input:
            producer = self.dag.producer(str(path))
            if producer is not None and producer is not job:
                deps.append(self.hash(producer))
            elif os.path.exists(self._abs(str(path))):
                deps.append("src:" + _file_sha256(self._abs(str(path))))
            else:
                deps.append("missing:" + str(path))
        for value in sorted(deps):
            h.update(value.encode())
        if not omit_software:
            if rule.conda:
                from sciflow.execute.spec import resolve_conda
                env = resolve_conda(rule.conda, self.workflow, job, self.workdir)
                h.update(_file_sha256(env).encode() if env and os.path.isfile(env)
                         else str(env).encode())
            if rule.container:
                h.update(str(rule.container).encode())
        self._memo[job.jobid] = h.hexdigest()
        return self._memo[job.jobid]


# --------------------------------------------------------------------------- worker side
def entry(cache_root: str, key: str) -> str:
    return os.path.join(cache_root, f"sciflow-{key}")


def restore(cache_root: str, key: str, targets: list[str]) -> bool:
    """Copy a stored entry's outputs to ``targets`` (absolute); False if there is none."""
    where = entry(cache_root, key)
    try:
        with open(os.path.join(where, "manifest.json"), encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError):
        return False
    if len(manifest.get("outputs", ())) != len(targets):
        return False
    for i, target in enumerate(targets):
        source = os.path.join(where, str(i))
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        if os.path.isdir(source):
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
    return True


def store(cache_root: str, key: str, outputs: list[str], names: list[str]) -> None:
    """Store ``outputs`` (absolute paths) as the entry ``key``; an existing entry is kept."""
    where = entry(cache_root, key)
    if os.path.exists(where):
        return
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=cache_root)
    try:
        for i, path in enumerate(outputs):
            if os.path.isdir(path):
                shutil.copytree(path, os.path.join(tmp, str(i)), symlinks=True)
            else:
                shutil.copy2(path, os.path.join(tmp, str(i)))
        with open(os.path.join(tmp, "manifest.json"), "w", encoding="utf-8") as fh:
            json.dump({"outputs": names}, fh)
        try:
            os.rename(tmp, where)
        except OSError:  # another job stored the same entry meanwhile
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def restore_attempt(attempt: Any, result: Any) -> bool:
    """Before a job's action (``sciflow.execute.runner._Attempt``): fill its outputs from
    the cache (at the paths the action would write); True on a hit."""
    spec = attempt.spec
    if not (spec.cache_key and spec.cache_dir):
        return False
    targets = [attempt.abs(str(p).rstrip("/")) for p in attempt.temp_output()]
    if not restore(spec.cache_dir, spec.cache_key, targets):
        return False
    result.cached = True
    return True


def store_attempt(attempt: Any, result: Any) -> None:
    """After a successful action: store the job's outputs (not after a cache hit)."""
    spec = attempt.spec
    if spec.cache_key and spec.cache_dir and not result.cached:
        store(spec.cache_dir, spec.cache_key,
              [attempt.abs(o.rstrip("/") or o) for o in attempt.outputs], list(attempt.outputs))
