"""Load a Sciflowfile (or a Snakefile) into a ``Workflow``: parse → compile → execute.

The stages live in their own modules: ``sciflow.syntax`` (lark grammar → statement nodes),
``sciflow.compile`` (nodes → Python source with the same line numbers) and
``sciflow.helpers`` (the namespace the code runs in). This module ties them together, follows
``include:``, loads config, and turns every failure into a ``SciflowError`` with a location:

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "Snakefile")
    >>> _ = open(p, "w").write('S = ["a"]\\nrule c:\\n    output: expand("{s}.txt", s=S)\\n'
    ...                        '    shell: "touch {output}"\\n')
    >>> wf = load_workflow(p)
    >>> list(wf.rules), list(wf.rules["c"].output), wf.rules["c"].loc.line
    (['c'], ['a.txt'], 2)
"""
from __future__ import annotations

import hashlib
import os
import sys
import types
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

from sciflow.compile import Compiled, compile_parsed, file_tag, syntax_problems, HANDLERS
from sciflow.errors import (ErrorGroup, IncludeError, ParseError, SciflowError, UsageError,
                            WorkflowError)
from sciflow.helpers import (LoadContext, WorkflowContext, build_namespace, read_config_file,
                             update_config)
from sciflow.model import SourceLoc, Workflow
from sciflow.syntax import parse_text

DEFAULT_FILES = ("Sciflowfile", "Snakefile", "workflow/Snakefile")


def find_workflow_file(explicit: str | None = None) -> Path:
    """The workflow file to use: ``explicit`` if given, else the first of ``Sciflowfile``,
    ``Snakefile``, ``workflow/Snakefile`` in the current directory."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise UsageError(f"workflow file {explicit!r} not found")
        return path
    for name in DEFAULT_FILES:
        if Path(name).is_file():
            return Path(name)
    raise UsageError("no workflow file found (looked for " + ", ".join(DEFAULT_FILES) + ")",
                     hint="Pass one with -s FILE.")


def load_workflow(path: str | os.PathLike, *, config_overrides: Mapping | None = None,
                  configfiles: Sequence[str] = ()) -> Workflow:
    """Parse, compile and execute the workflow at ``path``.

    ``configfiles`` (``--configfile``) and then ``config_overrides`` (``--config``) take
    precedence over ``configfile:`` statements, as in Snakemake. Raises a ``SciflowError``
    (``ErrorGroup`` when a file has several static problems) — never anything else.
    """
    path = os.fspath(path)
    raw = _read(path, None)
    wf = Workflow(path=path)
    wf.source_sha256 = hashlib.sha256(raw).hexdigest()
    overwrite: dict = {}
    for extra in configfiles:
        update_config(overwrite, read_config_file(str(extra)))
    update_config(overwrite, dict(config_overrides or {}))
    update_config(wf.config, overwrite)
    ctx = WorkflowContext(wf, path)
    loader = _Loader(wf, ctx, path)
    load = LoadContext(wf, ctx, overwrite, loader.include)
    wf.globals.update(build_namespace(load))
    wf.globals["__name__"] = "sciflow_workflow"
    loader.run_file(path, raw, None)
    for name in HANDLERS:
        handler = wf.globals.get(f"_sf_{name}")
        if handler is not None:
            setattr(wf, name, handler)
    return wf


def lint(path: str | os.PathLike) -> list[SciflowError]:
    """Every problem of the workflow at ``path`` (empty if it loads); never raises for a bad
    file."""
    return check_workflow(path)[1]


def check_workflow(path: str | os.PathLike) -> tuple[Workflow | None, list[SciflowError]]:
    """``(workflow, [])`` if the file loads, else ``(None, problems)``."""
    try:
        return load_workflow(path), []
    except ErrorGroup as group:
        return None, list(group.errors)
    except SciflowError as err:
        return None, [err]


# ------------------------------------------------------------------------------ loading
def _read(path: str, loc: SourceLoc | None) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if loc is None:
            raise WorkflowError(f"cannot read workflow file {path!r}: {reason}") from None
        raise IncludeError(f"cannot include {path!r}: {reason}", loc) from None


def _decode(raw: bytes, path: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ParseError("the file is not valid UTF-8", SourceLoc(path, line, 1)) from None


class _Loader:
    """Runs each file of the workflow (main file and includes) in the shared namespace."""

    def __init__(self, workflow: Workflow, ctx: WorkflowContext, main_path: str) -> None:
        self.workflow = workflow
        self.ctx = ctx
        self.main_dir = os.path.dirname(os.path.abspath(main_path))
        self.seen: set[str] = set()
        self.col_shifts: dict[str, dict[int, int]] = {}  # per file: see Compiled.col_shift

    def include(self, path: str, loc: SourceLoc) -> None:
        if not os.path.isabs(path):
            path = os.path.normpath(os.path.join(os.path.dirname(self.ctx.current_file), path))
        if os.path.abspath(path) in self.seen:  # Snakemake ignores repeated includes too
            return
        raw = _read(path, loc)
        self.workflow.includes.append(path)
        self.run_file(path, raw, loc)

    def run_file(self, path: str, raw: bytes, include_loc: SourceLoc | None) -> None:
        self.seen.add(os.path.abspath(path))
        code = self.compile_file(path, _decode(raw, path))
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in sys.path:  # as Snakemake: modules next to the Snakefile import
            sys.path.insert(0, folder)
        self.ctx.files.append(path)
        try:
            for chunk in code:
                exec(chunk, self.workflow.globals)
        except SciflowError as err:
            if err.loc is None:
                err.loc = _user_frame(err.__traceback__, self.col_shifts)
            raise
        except Exception as exc:  # the user's own code failed while the file was loading
            loc = _user_frame(exc.__traceback__, self.col_shifts)
            raise WorkflowError(f"{type(exc).__name__}: {exc}", loc,
                                hint="This happened while loading the workflow.") from None
        finally:
            self.ctx.files.pop()

    def compile_file(self, path: str, text: str) -> list[types.CodeType]:
        parsed = parse_text(text, path)
        rel = os.path.relpath(os.path.abspath(path), self.main_dir)
        compiled = compile_parsed(parsed, file_tag(rel))
        self.col_shifts[os.path.abspath(path)] = compiled.col_shift
        problems = list(compiled.problems)
        code = None
        try:
            with warnings.catch_warnings():  # e.g. "invalid escape sequence" in user code
                warnings.simplefilter("ignore", SyntaxWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                code = compiled.to_code(path)
        except SyntaxError as exc:
            problems.extend(syntax_problems(compiled, exc, path))
        except (ValueError, RecursionError, MemoryError) as exc:  # e.g. null bytes
            problems.append(ParseError(f"cannot compile the file: {exc}", SourceLoc(path, 1, 1)))
        if problems:
            problems.sort(key=lambda e: (e.loc.line, e.loc.col) if e.loc else (0, 0))
            raise problems[0] if len(problems) == 1 else ErrorGroup(problems)
        assert code is not None
        return code


def _user_frame(tb: Any, col_shifts: dict[str, dict[int, int]]) -> SourceLoc | None:
    """Where in a workflow file the innermost traceback frame of that file is (line and,
    from the bytecode positions, column)."""
    loc = None
    while tb is not None:
        code = tb.tb_frame.f_code
        shifts = col_shifts.get(os.path.abspath(code.co_filename))
        if shifts is not None:
            line, col = tb.tb_lineno, 1
            try:
                pos = list(code.co_positions())[tb.tb_lasti // 2]
                if pos[0] == line and pos[2] is not None:
                    col = max(pos[2] + 1 + shifts.get(line, 0), 1)
            except (IndexError, ValueError):
                pass
            loc = SourceLoc(code.co_filename, line, col)
        tb = tb.tb_next
    return loc


def compiled_source(path: str) -> Compiled:
    """The Python code generated for one file (for debugging: ``python -m sciflow.parse F``)."""
    text = _decode(_read(path, None), path)
    return compile_parsed(parse_text(text, path), file_tag(os.path.basename(path)))


if __name__ == "__main__":  # pragma: no cover - debugging aid
    print(compiled_source(sys.argv[1]).source)
