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

import ast
import hashlib
import os
import re
import sys
import types
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

from sciflow.compile import Compiled, compile_parsed, file_tag, syntax_problems, HANDLERS
from sciflow.directives import LoadOptions, extend_namespace, remote_import_hint
from sciflow.errors import (ErrorGroup, IncludeError, ParseError, SciflowError, WorkflowError)
from sciflow.helpers import (LoadContext, WorkflowContext, build_namespace, read_config_file,
                             update_config)
from sciflow.model import SourceLoc, Workflow
from sciflow.modules import Module
from sciflow.syntax import KeywordNode, ModuleNode, Parsed, PythonNode, parse_text

def load_workflow(path: str | os.PathLike, *, config_overrides: Mapping | None = None,
                  configfiles: Sequence[str] = (),
                  scatter: Mapping[str, int] | None = None,
                  replace_config: bool = False) -> Workflow:
    """Parse, compile and execute the workflow at ``path``.

    ``configfiles`` (``--configfile``; relative paths are taken from the current directory)
    and then ``config_overrides`` (``--config``) take precedence over ``configfile:``
    statements, as in Snakemake; with ``configfiles`` given, a ``configfile:`` whose file is
    absent is skipped; ``replace_config`` (``--replace-workflow-config``): they replace the
    config a ``configfile:`` read instead of updating it. ``scatter`` (``--set-scatter``) overrides ``scattergather:`` counts.
    Every file named by a literal ``include:`` (or module ``snakefile:``) is parsed before any
    code runs. Raises a ``SciflowError`` (``ErrorGroup`` when a file has several static
    problems) — never anything else.
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
    options = LoadOptions(path, overwrite, configfiles_given=bool(configfiles),
                          scatter=dict(scatter or {}), replace_config=replace_config)
    from sciflow.notebook.namespace import load_namespace

    # a workflow written in a notebook cell sees the notebook's names (saved beside it)
    wf.globals.update(load_namespace(path, wf.source_sha256))
    _load_into(wf, path, raw, None, options)
    for name in HANDLERS:
        handler = wf.globals.get(f"_sf_{name}")
        if handler is not None:
            setattr(wf, name, handler)
    return wf


def _load_into(wf: Workflow, path: str, raw: bytes, loc: SourceLoc | None, options: LoadOptions,
               module: Module | None = None) -> None:
    """Run the file at ``path`` in a fresh namespace for ``wf`` (the main workflow, or a
    module's own workflow)."""
    ctx = WorkflowContext(wf, options.main_path)  # workflow.basedir: the main file's folder
    loader = _Loader(wf, ctx, options, module.name if module else "")
    overwrite = {} if module is not None and module.config is not None else \
        options.overwrite_config
    load = LoadContext(wf, ctx, overwrite, loader.include)
    wf.globals.update(build_namespace(load))
    wf.globals["__name__"] = "sciflow_workflow"
    extend_namespace(wf.globals, wf, ctx, options, lambda m: _load_module(m, options),
                     module_config=module is not None and module.config is not None)
    loader.run_file(path, raw, loc)


def _load_module(module: Module, options: LoadOptions) -> Workflow:
    """A module's Snakefile loaded into its own workflow (own config, own globals); its
    rules get the module's path changes as they are made."""
    sub = Workflow(path=module.snakefile)
    if module.config is not None:
        sub.config = module.config  # the mapping itself (changes are seen by both), as Snakemake
    else:
        update_config(sub.config, options.overwrite_config)
    sub.path_modifier = module.modifier
    raw = _read(module.snakefile, module.loc)
    _load_into(sub, module.snakefile, raw, module.loc, options, module)
    sub.path_modifier = None
    return sub


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
    """Runs each file of one workflow (main file and includes) in its namespace.

    Before the first line of a file runs, every file it names in a literal ``include:`` (or
    a module's literal ``snakefile:``) is parsed and compiled too, recursively, so a syntax
    error in any of them is reported before the workflow's code has had side effects."""

    def __init__(self, workflow: Workflow, ctx: WorkflowContext, options: LoadOptions,
                 module: str = "") -> None:
        self.workflow = workflow
        self.ctx = ctx
        self.options = options
        self.module = module  # prefix of run: function names (a file may be two modules)
        self.main_dir = os.path.dirname(os.path.abspath(options.main_path))
        self.seen: set[str] = set()
        self.col_shifts = options.col_shifts  # per file: see Compiled.col_shift

    def include(self, path: str, loc: SourceLoc) -> None:
        if not os.path.isabs(path):
            path = os.path.normpath(os.path.join(os.path.dirname(self.ctx.current_file), path))
        if os.path.abspath(path) in self.seen:  # Snakemake ignores repeated includes too
            return
        raw = _read(path, loc)
        self.workflow.includes.append(path)
        before = set(self.workflow.rules)
        self.run_file(path, raw, loc)
        self.workflow.included_rules.update(set(self.workflow.rules) - before)

    def run_file(self, path: str, raw: bytes, include_loc: SourceLoc | None) -> None:
        self.seen.add(os.path.abspath(path))
        if include_loc is None or self.module and not self.ctx.files:
            self.preparse(path, raw)
        code = self.code_of(path, raw)
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
            hint = remote_import_hint(getattr(exc, "name", None)) if isinstance(
                exc, ImportError) else None
            raise WorkflowError(f"{type(exc).__name__}: {exc}", loc,
                                hint=hint or "This happened while loading the workflow.") from None
        finally:
            self.ctx.files.pop()

    def code_of(self, path: str, raw: bytes | None = None,
                module: str | None = None) -> list[types.CodeType]:
        """The compiled code of a file (compiled once per load; see ``preparse``)."""
        module = self.module if module is None else module
        key = (os.path.abspath(path), module)
        found = self.options.compiled.get(key)
        if found is None:
            if raw is None:
                raw = _read(path, None)
            parsed = parse_text(_decode(raw, path), path)
            found = self.options.compiled[key] = (self.compile_file(path, parsed, module), parsed)
        return found[0]

    def preparse(self, path: str, raw: bytes | None = None) -> None:
        """Parse and compile every file reachable from ``path`` through literal ``include:``
        and module ``snakefile:`` paths; raise all their static problems at once."""
        problems: list[SciflowError] = []
        todo = [(path, self.module)]  # paths as the user would write them (for messages)
        done: set[tuple[str, str]] = set()
        while todo:
            file, module = todo.pop()
            key = (os.path.abspath(file), module)
            if key in done:
                continue
            done.add(key)
            try:
                self.code_of(file, raw if file == path else None, module)
            except ErrorGroup as group:
                problems.extend(group.errors)
                continue
            except SciflowError as err:
                problems.append(err)
                continue
            parsed = self.options.compiled[key][1]
            for target, target_module in _static_files(parsed, parsed.statements, module):
                full = os.path.normpath(os.path.join(os.path.dirname(file), target))
                if os.path.isfile(full):
                    todo.append((full, target_module))
        if problems:
            raise problems[0] if len(problems) == 1 else ErrorGroup(problems)

    def compile_file(self, path: str, parsed: Parsed, module: str) -> list[types.CodeType]:
        rel = os.path.relpath(os.path.abspath(path), self.main_dir)
        compiled = compile_parsed(parsed, file_tag((module + "/" if module else "") + rel))
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


def _static_files(parsed: Parsed, nodes: list, module: str) -> list[tuple[str, str]]:
    """``(path, module)`` of each literal ``include:`` path and module ``snakefile:`` in
    ``nodes`` (also inside ``if``/``for`` blocks)."""
    found: list[tuple[str, str]] = []
    for node in nodes:
        if isinstance(node, PythonNode):
            found.extend(_static_files(parsed, node.body, module))
        elif isinstance(node, KeywordNode) and node.name == "include":
            found.extend((p, module) for p in _literal_paths(parsed.code(node.value.start, node.value.end)))
        elif isinstance(node, ModuleNode):
            m = re.match(r"module\s+([A-Za-z_]\w*)", node.head.value)
            for item in node.items:
                if getattr(item, "name", None) == "snakefile" and m:
                    found.extend((p, m.group(1)) for p in _literal_paths(parsed.code(item.value.start, item.value.end)))
    return found


def _literal_paths(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return []
    values = value if isinstance(value, (list, tuple)) else [value]
    return [v for v in values if isinstance(v, str) and "://" not in v]


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
