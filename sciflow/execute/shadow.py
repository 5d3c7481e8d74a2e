"""``shadow:``: run a job in a scratch directory so that whatever it writes besides its declared
outputs and logs is thrown away.

Modes, as Snakemake's:

* ``minimal`` — only the job's inputs are symlinked into the shadow directory;
* ``copy-minimal`` — the inputs are copied (for tools that resolve symlinks or write next to
  their input);
* ``shallow`` — every top-level entry of the working directory is symlinked (so writes into
  sub-directories land in the real ones, as in Snakemake);
* ``full`` — the whole tree is rebuilt with directories created and every file symlinked.

The shadow directory is ``.sciflow/shadow/<random>/`` (Snakemake's ``.snakemake/shadow/``) or
below ``--shadow-prefix``. After a successful action the declared outputs (and logs, also
after a failure, so the user can read them) are moved back into the working directory; then
the shadow directory is removed with everything else in it. Absolute paths are not shadowed.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Iterable

from sciflow import layout
from sciflow.confine import safe_remove
from sciflow.errors import RuleError
from sciflow.execute.spec import temp_path

MODES = ("minimal", "copy-minimal", "shallow", "full")
SKIP = layout.TOOL_STATE_DIRS  # never mirrored: the tools' own state


def check_mode(value: object, rule: str = "", loc=None) -> str | None:
    """The shadow mode of a rule (None when off); a bad value is a ``RuleError``."""
    if value in (None, False, ""):
        return None
    if value is True:  # Snakemake accepts only strings; True reads as the common "full"
        return "full"
    if value not in MODES:
        raise RuleError(f"rule {rule!r}: unknown shadow mode {value!r}", loc,
                        hint=f"Use one of: {', '.join(MODES)}.")
    return str(value)


class Shadow:
    """One job attempt's shadow directory: ``setup`` before the action, ``bring_back`` after,
    ``remove`` at the end."""

    def __init__(self, mode: str, workdir: str, prefix: str | None = None) -> None:
        self.mode = mode
        self.workdir = os.path.abspath(workdir)
        root = (os.path.join(self.workdir, prefix) if prefix and not os.path.isabs(prefix)
                else prefix) or os.fspath(layout.state_dir(self.workdir))
        root = os.path.join(root, "shadow")
        os.makedirs(root, exist_ok=True)
        self.dir = tempfile.mkdtemp(dir=root)

    def _rel(self, path: str) -> str | None:
        """``path`` relative to the working directory, or None if it lies outside."""
        full = os.path.normpath(os.path.join(self.workdir, path))
        rel = os.path.relpath(full, self.workdir)
        return None if rel.startswith("..") or os.path.isabs(rel) else rel

    def setup(self, inputs: Iterable[str], writes: Iterable[str]) -> str:
        """Mirror what the mode asks for, create the directories of ``writes`` (outputs,
        logs); return the directory the action runs in."""
        if self.mode in ("minimal", "copy-minimal"):
            for path in inputs:
                rel = self._rel(str(path))
                if rel is None or rel == ".":
                    continue
                self._place(rel, copy=self.mode == "copy-minimal")
        elif self.mode == "shallow":
            for name in os.listdir(self.workdir):
                if name not in SKIP:
                    os.symlink(os.path.join(self.workdir, name), os.path.join(self.dir, name))
        elif self.mode == "full":
            self._mirror_tree()
        for path in writes:
            rel = self._rel(str(path).rstrip("/"))
            if rel is None:
                continue
            parent = os.path.dirname(os.path.join(self.dir, rel))
            if not os.path.lexists(parent):
                os.makedirs(parent, exist_ok=True)
        return self.dir

    def _place(self, rel: str, copy: bool) -> None:
        source = os.path.join(self.workdir, rel)
        target = os.path.join(self.dir, rel)
        if os.path.lexists(target) or not os.path.lexists(source):
            return
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not copy:
            os.symlink(source, target)
        elif os.path.isdir(source):
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy2(source, target)

    def _mirror_tree(self) -> None:
        for top, dirs, files in os.walk(self.workdir):
            rel_top = os.path.relpath(top, self.workdir)
            if rel_top == ".":
                dirs[:] = [d for d in dirs if d not in SKIP]
            target_top = os.path.normpath(os.path.join(self.dir, rel_top))
            os.makedirs(target_top, exist_ok=True)
            for name in files:
                os.symlink(os.path.join(top, name), os.path.join(target_top, name))

    def bring_back(self, paths: Iterable[str]) -> None:
        """Move each of ``paths`` (relative to the working directory) that the action made in
        the shadow directory to its real place."""
        for path in paths:
            rel = self._rel(str(path).rstrip("/"))
            if rel is None:
                continue
            made = os.path.join(self.dir, rel)
            real = os.path.join(self.workdir, rel)
            if not os.path.lexists(made) or not self._made_here(made):
                continue  # not made here (or a mirrored input: the real file is the one)
            if os.path.lexists(real) and os.path.realpath(made) == os.path.realpath(real):
                continue  # written through a symlinked directory: already in place
            os.makedirs(os.path.dirname(real), exist_ok=True)
            if os.path.lexists(real):  # checked right before deletion, as every removal
                safe_remove(real, self.workdir, declared=rel)
            shutil.move(made, real)

    def _made_here(self, made: str) -> bool:
        """Whether ``made`` is the action's own file: anything but a symlink this shadow
        set up towards the working directory. A symlink the action made pointing inside
        the shadow directory by an absolute path is remade relative (as Snakemake does),
        so that it still points at the right file once moved back."""
        if not os.path.islink(made):
            return True
        dest = os.readlink(made)
        if not os.path.isabs(dest):
            return True  # `ln -s x.out link.out`: the action's own link
        inside = os.path.normpath(dest)
        if inside == self.dir or inside.startswith(self.dir + os.sep):
            os.remove(made)
            os.symlink(os.path.relpath(inside, os.path.dirname(made)), made)
            return True
        return False

    def remove(self) -> None:
        try:
            here = os.getcwd()
        except FileNotFoundError:
            here = ""
        if here == self.dir or here.startswith(self.dir + os.sep):
            layout.enter_directory(self.workdir)  # a run: block moved this worker in here
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------- the runner's hooks
def _written(attempt: Any) -> list[str]:
    spec = attempt.spec
    paths = list(attempt.outputs) + [str(p) for p in spec.log or ()]
    if spec.temp_outputs:  # --atomic-outputs: the action writes the temp paths
        paths += [temp_path(o, spec.key) for o in attempt.outputs]
    return paths


def enter(attempt: Any) -> None:
    """Before the action of a ``shadow:`` job (``sciflow.execute.runner._Attempt``): make the
    shadow directory and run the action there (``attempt.cwd``)."""
    spec = attempt.spec
    if not spec.shadow:
        return
    attempt.shadow = Shadow(spec.shadow, attempt.workdir, spec.shadow_prefix)
    attempt.cwd = attempt.shadow.setup([str(i) for i in spec.input or ()], _written(attempt))


def leave(attempt: Any, ok: bool) -> None:
    """After it: declared outputs (on success) and logs come back; the rest is discarded."""
    current = getattr(attempt, "shadow", None)
    if current is None:
        return
    attempt.shadow = None
    try:
        current.bring_back(_written(attempt) if ok else [str(p) for p in attempt.spec.log or ()])
    finally:
        attempt.cwd = attempt.workdir
        current.remove()
