"""Confinement: what a run may write and delete.

A job's outputs, logs and benchmarks are removed before it runs (so nothing stale passes as
new) and after it fails. A path that names the working directory, one of its ancestors, the
run's own state (``.sciflow/``, ``.snakemake/``) or the workflow's own files would make that
removal destroy the project, so such paths are never outputs. Paths outside the working
directory — absolute, escaping through ``..``, or through a symlinked directory — are refused
unless the rule opts in with the ``external()`` flag (``output: external("/scratch/x.bam")``);
the forbidden set stays forbidden even then.

Checks happen three times, for defence in depth: ``lint_workflow`` (``sciflow lint``: the
patterns as written), ``check_job_paths`` (planning: every job's concrete paths, with the
rule's file:line) and ``safe_remove`` (right before anything is deleted, because a symlink may
have been planted since planning). ``safe_remove`` resolves the *parent* of a path, so a
symlink that is itself an output is unlinked, never followed, and ``shutil.rmtree`` never
follows symlinks inside a directory output (it unlinks them).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     try:
    ...         check_output_path(".", d)
    ...     except ConfinementError as e:
    ...         print("refused")
    refused
"""
from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any, Iterable

from sciflow import layout
from sciflow.errors import ConfinementError
from sciflow.model import flag

if TYPE_CHECKING:  # pragma: no cover
    from sciflow.jobs import Job
    from sciflow.model import SourceLoc, Workflow

STATE_DIRS = (layout.STATE_DIR, ".snakemake")
EXTERNAL = "external"
_HINT = ("Write outputs, logs and benchmarks below the working directory (e.g. results/...). "
         "To write outside it on purpose, mark the path external(\"/path\").")


def external(value: Any) -> Any:
    """The rule's opt-in to write (and delete) this path outside the working directory."""
    if isinstance(value, os.PathLike) and not isinstance(value, str):
        value = os.fspath(value)
    return flag(value, EXTERNAL)


def _flagged(path: Any, name: str) -> bool:
    flags = getattr(path, "flags", None)
    return bool(flags) and name in flags


def _inside(path: str, root: str) -> bool:
    """``path`` equals ``root`` or lies below it (both absolute and normalised)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class _Resolver:
    """Resolves paths as a removal would see them: symlinks in the parent directories are
    followed, the last component is not. Parent directories are cached (most outputs of a
    workflow share a handful), so checking 100k job outputs costs a dict lookup each."""

    def __init__(self, workdir: str, protected: Iterable[str] = ()) -> None:
        self.workdir = os.path.abspath(workdir)
        self.real_workdir = os.path.realpath(self.workdir)
        self.state_dirs = [os.path.join(self.real_workdir, d) for d in STATE_DIRS]
        self.protected = sorted({os.path.realpath(os.path.join(self.workdir, p))
                                 for p in protected if p})
        # Each protected file and every directory holding it: one set lookup per path.
        self._holders: dict[str, str] = {}
        for own in self.protected:
            d = own
            while d not in self._holders:
                self._holders[d] = own
                parent = os.path.dirname(d)
                if parent == d:
                    break
                d = parent
        self._prefix = self.real_workdir.rstrip(os.sep) + os.sep
        self._parents: dict[str, str] = {}

    def resolve(self, path: str) -> tuple[str, str]:
        """(lexical absolute path, path with the parent's symlinks resolved)."""
        lexical = os.path.normpath(os.path.join(self.workdir, path))
        parent, base = os.path.split(lexical)
        real_parent = self._real_dir(parent)
        return lexical, (os.path.join(real_parent, base) if base else real_parent)

    def _real_dir(self, directory: str) -> str:
        """``os.path.realpath(directory)``, built from the cached real parent with one
        ``lstat`` per distinct directory (``realpath`` stats every component each time)."""
        real = self._parents.get(directory)
        if real is not None:
            return real
        head, base = os.path.split(directory)
        if not base or head == directory:
            real = os.path.realpath(directory)
        else:
            candidate = os.path.join(self._real_dir(head), base)
            real = os.path.realpath(candidate) if os.path.islink(candidate) else candidate
        self._parents[directory] = real
        return real

    def problem(self, path: str, allow_external: bool) -> str | None:
        """Why ``path`` may not be written or deleted, or None."""
        if not isinstance(path, str) or not path.strip():
            return "is empty"
        if "\x00" in path:
            return "contains a NUL byte"
        lexical, real = self.resolve(path)
        wd = self.real_workdir
        if real.startswith(self._prefix):  # the usual case: strictly inside the workdir
            if real[len(self._prefix):].split(os.sep, 1)[0] in STATE_DIRS:
                return f"is (or holds) sciflow's own state {real[len(self._prefix):].split(os.sep, 1)[0]}/"
            own = self._holders.get(real)
            if own is not None:
                return f"{'is' if own == real else 'holds'} a file of the workflow itself ({own})"
            return None
        if real == wd or lexical == self.workdir:
            return "is the working directory itself"
        if _inside(wd, real) or _inside(self.workdir, lexical):
            return f"is an ancestor of the working directory ({real})"
        for state in self.state_dirs:
            if _inside(real, state) or _inside(state, real):
                return f"is (or holds) sciflow's own state {os.path.basename(state)}/"
        for own in self.protected:
            if _inside(own, real):
                what = "is" if own == real else "holds"
                return f"{what} a file of the workflow itself ({own})"
        if _inside(real, wd):
            return None
        if allow_external:
            return None
        if _inside(lexical, self.workdir):
            return f"leads outside the working directory through a symlink (to {real})"
        how = "is absolute" if os.path.isabs(path) else "escapes through '..'"
        return f"{how}: it lies outside the working directory ({real})"


def check_output_path(path: str, workdir: str | os.PathLike[str], *, allow_external: bool = False,
                      protected: Iterable[str] = (), kind: str = "output",
                      loc: "SourceLoc | None" = None, rule: str | None = None) -> None:
    """Raise ``ConfinementError`` (at ``loc``) if a job may not write ``path``."""
    why = _Resolver(os.fspath(workdir), protected).problem(path, allow_external)
    if why is not None:
        raise _error(kind, path, why, loc, rule, allow_external)


def _error(kind: str, path: str, why: str, loc: Any, rule: str | None,
           allow_external: bool) -> ConfinementError:
    shown = repr(path) if isinstance(path, str) else repr(str(path))
    where = f" of rule {rule!r}" if rule else ""
    outside = "outside the working directory" in why or "symlink" in why
    hint = _HINT if outside and not allow_external else (
        "This path can never be an output: removing it before the job runs would destroy "
        "the project. Choose a path below the working directory.")
    return ConfinementError(f"{kind} {shown}{where} {why}", loc, hint=hint)


def workflow_files(workflow: "Workflow") -> list[str]:
    """The workflow's own files (main file, includes, config files, scripts), absolute."""
    files = [workflow.path, *workflow.includes, *workflow.configfiles]
    base = os.path.dirname(os.path.abspath(workflow.path or "."))
    for rule in workflow.rules.values():
        action = rule.action
        if action is not None and action.kind in ("script", "notebook") and "{" not in action.source:
            files.append(os.path.join(base, action.source))
    return [os.path.abspath(f) for f in files if f]


def _job_paths(job: "Job") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = [("output", o) for o in job.output]
    items += [("log", f) for f in job.log]
    if job.benchmark:
        items.append(("benchmark", job.benchmark))
    return items


def check_job_paths(jobs: Iterable["Job"], workdir: str | os.PathLike[str],
                    workflow: "Workflow | None" = None) -> None:
    """Planning: every output, log and benchmark of ``jobs`` must be confined (or opt in)."""
    resolver = _Resolver(os.fspath(workdir), workflow_files(workflow) if workflow else ())
    for job in jobs:
        for kind, path in _job_paths(job):
            why = resolver.problem(str(path) if isinstance(path, str) else path,
                                   _flagged(path, EXTERNAL))
            if why is not None:
                raise _error(kind, str(path) if isinstance(path, str) else repr(path), why,
                             job.rule.loc_of(kind), job.rule.name, _flagged(path, EXTERNAL))


def lint_workflow(workflow: "Workflow", workdir: str | os.PathLike[str]) -> list[ConfinementError]:
    """``sciflow lint``: the patterns as written (wildcards left in) that are already wrong."""
    resolver = _Resolver(os.fspath(workdir), workflow_files(workflow))
    problems: list[ConfinementError] = []
    for rule in workflow.rules.values():
        items = [("output", o) for o in rule.output] + [("log", f) for f in rule.log]
        if rule.benchmark:
            items.append(("benchmark", rule.benchmark))
        for kind, pattern in items:
            if not isinstance(pattern, str):
                continue  # a function: only its result can be checked (at planning)
            if "{" in pattern and "\x00" not in pattern:
                # Only the part before the first wildcard is fixed; check it if it says enough.
                fixed = pattern.split("{", 1)[0]
                if not (os.path.isabs(fixed) or fixed.startswith("..")):
                    continue
                pattern_checked = fixed.rsplit("/", 1)[0] + "/x" if "/" in fixed else fixed
            else:
                pattern_checked = pattern
            why = resolver.problem(pattern_checked, _flagged(pattern, EXTERNAL))
            if why is not None:
                problems.append(_error(kind, pattern, why, rule.loc_of(kind), rule.name,
                                       _flagged(pattern, EXTERNAL)))
    return problems


def safe_remove(path: str, workdir: str | os.PathLike[str], *, declared: str | None = None) -> None:
    """Remove an output (file, symlink or directory tree) after checking, at this moment,
    that it is confined. A path *declared* inside the working directory must still resolve
    inside it (a symlink planted since planning is refused); a path declared outside it
    (only possible with ``external()``, checked at planning) must not be in the forbidden
    set. Symlinks are unlinked, never followed; ``rmtree`` does not follow links inside."""
    workdir = os.fspath(workdir)
    resolver = _Resolver(workdir)
    declared = declared if declared is not None else path
    lexical_declared = os.path.normpath(os.path.join(resolver.workdir, declared))
    allow_external = not _inside(lexical_declared, resolver.workdir)
    why = resolver.problem(path, allow_external)
    if why is not None:
        raise ConfinementError(f"refusing to delete {path!r}: it {why}",
                               hint="Nothing was deleted. Check for symlinks planted in the "
                                    "working directory since the run started.")
    target = os.path.join(resolver.workdir, path)
    try:
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        else:
            os.unlink(target)
    except FileNotFoundError:
        pass
