"""Compile parsed statements (``sciflow.syntax``) to Python source, line for line.

Every statement is written at the line it came from, so Python's own errors, tracebacks and
``run:`` code point at the user's file. A rule becomes one call spanning the rule's lines::

    rule count:                          _sf_rule('count', 1, 1, False, (('input', 2, 5), ...)
        input: "data/{s}.txt"            , input=_sf_args( "data/{s}.txt")
        output: "counts/{s}.tsv"         , output=_sf_args( "counts/{s}.tsv")
        shell: "wc -l {input}"           , shell=_sf_args( "wc -l {input}"))

and a rule with ``run:`` becomes a decorated function (the decorator registers the rule; the
function keeps a stable name so workers that re-load the file can find it)::

    rule plot:                           @_sf_rule('plot', 1, 1, False, (...), run=(...)
        output: "p.png"                  , output=_sf_args( "p.png"))
        run:                             def _sf_run_Snakefile_3(input, output, ...):
            make_plot(output[0])                 make_plot(output[0])

Static problems (unknown directive, two actions, action not last, ...) are collected, not
raised, so ``lint`` can report them all.
"""
from __future__ import annotations

import ast
import difflib
import re
import textwrap
import types
from dataclasses import dataclass, field

from sciflow.errors import ParseError, RuleError, SciflowError, WorkflowError
from sciflow.model import ACTIONS, DIRECTIVES, DUPLICATE_PREFIX, SourceLoc
from sciflow.modules import MODULE_DIRECTIVES
from sciflow.syntax import (DirectiveNode, DocstringNode, KeywordNode, ModuleNode, Node, Parsed,
                            PythonNode, RuleNode, Span, UseRuleNode)

RUN_ARGS = "input, output, params, wildcards, threads, resources, log, config, rule"
ACTION_NAMES = frozenset(ACTIONS)
KNOWN_DIRECTIVES = frozenset(DIRECTIVES) | ACTION_NAMES | {"containerized", "pathvars"}
HANDLERS = ("onstart", "onsuccess", "onerror")
_RULE_HEAD = re.compile(r"(rule|checkpoint)(?:[ \t]+([A-Za-z_]\w*))?[ \t]*:")
_NAME = re.compile(r"[A-Za-z_]\w*")
_USE = re.compile(r"rule\s+(?P<names>.+?)(?:\s+from\s+(?P<module>\S+?))?"
                  r"(?:\s+exclude\s+(?P<exclude>.+?))?"
                  r"(?:\s+as\s+(?P<alias>\S+?))?(?:\s+with\s*:)?\s*$", re.S)
_ALIAS = re.compile(r"[A-Za-z_*][\w*]*")


@dataclass(slots=True)
class ValueCheck:
    """A directive/keyword value, re-checked with ``ast`` to place a Python syntax error."""

    what: str  # e.g. "'input' of rule 'count'"
    text: str  # the value, right after the colon
    line: int
    col: int  # of the first character of ``text``
    end_line: int


@dataclass(slots=True)
class Compiled:
    source: str
    problems: list[SciflowError] = field(default_factory=list)
    checks: list[ValueCheck] = field(default_factory=list)
    breaks: list[int] = field(default_factory=list)  # lines where top-level statements start
    # Directive lines start with generated code (", input=_sf_args("): add this to a column of
    # the compiled line to get the column in the file.
    col_shift: dict[int, int] = field(default_factory=dict)

    def to_code(self, path: str, lines_per_chunk: int = 400) -> list[types.CodeType]:
        """Byte-compile ``source`` as a few code objects, each a run of whole top-level
        statements, to be executed in order. CPython compiles one huge module in superlinear
        time (a 5,000-rule file: ~4x slower than in chunks); each chunk is compiled alone and
        its line numbers shifted back into place. Raises SyntaxError with the file's line."""
        lines = self.source.split("\n")
        starts = [1]
        for line in self.breaks:
            if line - starts[-1] >= lines_per_chunk:
                starts.append(line)
        ends = starts[1:] + [len(lines) + 1]
        codes = []
        for start, end in zip(starts, ends):
            chunk = "\n".join(lines[start - 1:end - 1]) + "\n"
            try:
                code = compile(chunk, path, "exec", dont_inherit=True)
            except SyntaxError as exc:
                if exc.lineno is not None:
                    exc.lineno += start - 1
                    if exc.end_lineno is not None:
                        exc.end_lineno += start - 1
                raise
            codes.append(_shift(code, start - 1) if start > 1 else code)
        return codes


def _shift(code: types.CodeType, lines: int) -> types.CodeType:
    """``code`` (and the functions inside) moved down by ``lines`` lines."""
    consts = tuple(_shift(c, lines) if isinstance(c, types.CodeType) else c
                   for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + lines, co_consts=consts)


class _Writer:
    """Appends code so that each piece starts on a given source line."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.line = 1

    def at(self, line: int) -> None:
        if line > self.line:
            self.parts.append("\n" * (line - self.line))
            self.line = line

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.line += text.count("\n")

    def text(self) -> str:
        return "".join(self.parts) + "\n"


def run_function_name(file_tag: str, line: int) -> str:
    """The stable name of the function holding a ``run:`` body."""
    return f"_sf_run_{file_tag}_{line}"


def file_tag(relative_path: str) -> str:
    """``rules/align.smk`` → ``rules_align_smk`` (part of stable function names)."""
    return re.sub(r"\W", "_", relative_path).strip("_") or "workflow"


class _Compiler:
    def __init__(self, parsed: Parsed, tag: str) -> None:
        self.parsed = parsed
        self.path = parsed.path
        self.tag = tag
        self.out = _Writer()
        self.problems: list[SciflowError] = []
        self.checks: list[ValueCheck] = []
        self.breaks: list[int] = []
        self.col_shift: dict[int, int] = {}
        self.duplicates: set[int] = set()  # ids of directives given a second time in a rule

    # -------------------------------------------------------------------------- helpers
    def loc(self, line: int, col: int) -> SourceLoc:
        return SourceLoc(self.path, line, col)

    def indent_of(self, start: int, col: int) -> str:
        return self.parsed.text[start - (col - 1):start]

    def check(self, what: str, value: Span) -> str:
        code = self.parsed.code(value.start, value.end)
        self.checks.append(ValueCheck(what, code, value.line, value.col, value.end_line))
        return code

    def locs(self, items: list) -> tuple:
        """``(name, line, col)`` of each directive (the first, for one given twice)."""
        return tuple((d.name, d.head.line, d.head.column) for d in items
                     if isinstance(d, DirectiveNode) and id(d) not in self.duplicates)

    # -------------------------------------------------------------------------- statements
    def statements(self, nodes: list[Node]) -> None:
        for node in nodes:
            if isinstance(node, PythonNode):
                span = node.line
                self.out.at(span.line)
                self.out.write(self.parsed.code(span.start - (span.col - 1), span.end))
                self.statements(node.body)
            elif isinstance(node, RuleNode):
                self.rule(node)
            elif isinstance(node, KeywordNode):
                self.keyword(node)
            elif isinstance(node, UseRuleNode):
                self.use_rule(node)
            elif isinstance(node, ModuleNode):
                self.module(node)

    def module(self, node: ModuleNode) -> None:
        """``module NAME:`` → ``_sf_module('NAME', line, col, locs, snakefile=..., ...)``;
        ``module:`` with ``name: EXPR`` (Snakemake 8: the name is a value, so a ``for`` loop
        can declare several modules) → ``_sf_module(None, ..., name=EXPR, ...)``."""
        head = node.head
        m = re.match(r"module(?:\s+([A-Za-z_]\w*))?\s*:", head.value)
        named = any(isinstance(i, DirectiveNode) and i.name == "name" for i in node.items)
        if not m or not (m.group(1) or named):
            self.problems.append(ParseError(
                "expected 'module NAME:' (or 'module:' with a 'name:' inside)",
                self.loc(head.line, head.column)))
            return
        name = m.group(1)
        label = f"module '{name}'" if name else "module"
        items: list = []
        seen: set[str] = set()
        for item in node.items:
            if not isinstance(item, DirectiveNode):
                continue
            loc = self.loc(item.head.line, item.head.column)
            if item.name not in MODULE_DIRECTIVES:
                close = difflib.get_close_matches(item.name, MODULE_DIRECTIVES, n=1)
                self.problems.append(WorkflowError(
                    f"unknown keyword '{item.name}' in {label}", loc,
                    hint=f"Did you mean '{close[0]}'?" if close else
                    "A module takes: " + ", ".join(MODULE_DIRECTIVES) + "."))
            elif item.name in seen:
                self.problems.append(WorkflowError(f"'{item.name}' given twice in {label}", loc))
            else:
                seen.add(item.name)
                items.append(item)
        locs = tuple((d.name, d.head.line, d.head.column) for d in items)
        indent = self.indent_of(head.start_pos, head.column)
        self.out.at(head.line)
        self.out.write(f"{indent}_sf_module({name!r}, {head.line}, {head.column}, {locs!r}")
        self.directive_args(items, label)
        self.out.write(")")

    def rule(self, node: RuleNode) -> None:
        head = node.head
        m = _RULE_HEAD.match(head.value)
        kind, name = m.group(1), m.group(2)
        label = f"rule '{name}'" if name else "an unnamed rule"
        items = self.validate_items(node.items, label)
        run = next((d for d in items if isinstance(d, DirectiveNode)
                    and d.name in ("run", "template_engine")), None)
        locs = self.locs(items)
        indent = self.indent_of(head.start_pos, head.column)
        call = f"_sf_rule({name!r}, {head.line}, {head.column}, {kind == 'checkpoint'}, {locs!r}"
        if run is not None:
            body = self.parsed.text[run.value.start:run.value.end]
            source = textwrap.dedent(body.split("\n", 1)[1]) if body.lstrip(" \t").startswith(
                ("\n", "\r")) else body.strip()
            if run.name == "template_engine":
                source = f"template_engine: {source}"
            func = run_function_name(self.tag, run.head.line)
            call = f"@{call}, ({func!r}, {source!r})"
        self.out.at(head.line)
        self.out.write(indent + call)
        self.directive_args(items, label, skip=run)
        self.out.write(")")
        if run is not None and run.name == "template_engine":
            self.template_engine(run, func, indent, label)
        elif run is not None:
            self.out.at(run.head.line)
            code = self.parsed.code(run.value.start, run.value.end)
            self.out.write(f"{indent}def {func}({RUN_ARGS}):{code}")

    def template_engine(self, item: DirectiveNode, func: str, indent: str, label: str) -> None:
        """``template_engine: E`` → a ``run:`` function rendering the template with engine
        ``E`` (as Snakemake's parser turns it into a ``render_template(...)`` call)."""
        self.out.at(item.head.line)
        code = self.check(f"'template_engine' of {label}", item.value)
        prefix = (f"{indent}def {func}({RUN_ARGS}): from sciflow.templates import "
                  f"render_template as _sf_render; return _sf_render((")
        self.col_shift[item.value.line] = item.value.col - 1 - len(prefix)
        self.out.write(f"{prefix}{code}), input, output, params, wildcards, config, rule)")

    def directive_args(self, items, label: str, skip=None) -> None:
        for item in items:
            if item is skip:
                continue
            if isinstance(item, DocstringNode):
                span = item.span
                self.out.at(span.line)
                self.out.write(f", docstring=_sf_args({self.parsed.code(span.start, span.end)})")
                continue
            self.out.at(item.head.line)
            code = self.check(f"'{item.name}' of {label}", item.value)
            keyword = item.name
            if id(item) in self.duplicates:  # evaluated, then ignored (see validate_items)
                keyword = f"{DUPLICATE_PREFIX}{item.name}_{item.head.line}"
            prefix = f", {keyword}=_sf_args("
            self.col_shift[item.value.line] = item.value.col - 1 - len(prefix)
            self.out.write(f"{prefix}{code})")

    def validate_items(self, items, label: str, allow_actions: bool = True) -> list:
        """Drop (and report) unknown/duplicate directives; check the action rules."""
        kept: list = []
        seen: dict[str, DirectiveNode] = {}
        action: DirectiveNode | None = None
        for item in items:
            if isinstance(item, DocstringNode):
                if "docstring" in seen:
                    continue
                seen["docstring"] = item  # type: ignore[assignment]
                kept.append(item)
                continue
            name, loc = item.name, self.loc(item.head.line, item.head.column)
            if name not in KNOWN_DIRECTIVES:
                close = difflib.get_close_matches(name, sorted(KNOWN_DIRECTIVES), n=1)
                self.problems.append(RuleError(
                    f"unknown directive '{name}' in {label}", loc,
                    hint=f"Did you mean '{close[0]}'?" if close else
                    "Known directives: " + ", ".join(sorted(KNOWN_DIRECTIVES)) + "."))
                continue
            if name in ACTION_NAMES and not self.parsed.text[
                    item.value.start:item.value.end].strip():
                self.problems.append(RuleError(
                    f"'{name}:' in {label} has no value", loc,
                    hint="Write the command/path after the colon, or the code of 'run:' in an "
                         "indented block below it."))
                continue
            if name in ACTION_NAMES:
                if not allow_actions:
                    self.problems.append(RuleError(
                        f"'use rule ... with:' cannot change the action ('{name}')", loc))
                    continue
                if action is not None:
                    self.problems.append(RuleError(
                        f"{label} has two actions: '{action.name}' (line {action.head.line}) "
                        f"and '{name}'", loc, hint="A rule has at most one of shell, run, "
                        "script, notebook, wrapper."))
                    continue
                action = item
            elif action is not None:
                self.problems.append(RuleError(
                    f"'{name}' comes after the action '{action.name}' in {label}", loc,
                    hint=f"Move '{action.name}:' to the end of the rule; the action is last."))
                continue
            elif name in seen:
                # Snakemake accepts a directive given twice: both values are evaluated, the
                # first one counts (its directives are decorators, applied bottom-up).
                self.duplicates.add(id(item))
                kept.append(item)
                continue
            seen[name] = item
            kept.append(item)
        return kept

    def keyword(self, node: KeywordNode) -> None:
        head, name = node.head, node.name
        indent = self.indent_of(head.start_pos, head.column)
        self.out.at(head.line)
        if name in HANDLERS:
            code = self.parsed.code(node.value.start, node.value.end)
            self.out.write(f"{indent}def _sf_{name}(log=None):{code}")
            return
        if name in ("localrules", "ruleorder"):
            text = self.parsed.code(node.value.start, node.value.end)
            parts = [p.strip() for p in re.split(r"[,\n]" if name == "localrules" else ">", text)]
            parts = [p for p in parts if p]
            bad = [p for p in parts if not _NAME.fullmatch(p)]
            if bad or not parts:
                self.problems.append(ParseError(
                    f"'{name}:' expects rule names" + (" separated by '>'" if name == "ruleorder"
                                                       else " separated by commas") +
                    (f", got {bad[0]!r}" if bad else ""),
                    self.loc(node.value.line, node.value.col + len(text) - len(text.lstrip(" \t")))))
                return
            args = ", ".join(repr(p) for p in parts)
            self.out.write(f"{indent}_sf_keyword({name!r}, {head.line}, {head.column}, {args})")
            return
        code = self.check(f"'{name}:'", node.value)
        self.out.write(f"{indent}_sf_keyword({name!r}, {head.line}, {head.column}, {code})")

    def use_rule(self, node: UseRuleNode) -> None:
        head = node.head
        loc = self.loc(head.line, head.column)
        line_text = self.parsed.code(node.line.start, node.line.end)
        m = _USE.match(line_text)
        if not m:
            self.problems.append(ParseError(
                "expected 'use rule NAME [from MODULE] as NEW_NAME [with:]'", loc))
            return
        if m.group("module"):
            self.use_module_rule(node, m, loc)
            return
        source, alias = m.group("names").strip(), m.group("alias")
        if not _NAME.fullmatch(source) or not alias or not _NAME.fullmatch(alias):
            self.problems.append(WorkflowError(
                "only 'use rule NAME as NEW_NAME [with: ...]' is supported for rules of this "
                "workflow", loc))
            return
        items = self.validate_items(node.items, f"rule '{alias}'", allow_actions=False)
        locs = self.locs(items)
        indent = self.indent_of(head.start_pos, head.column)
        self.out.at(head.line)
        self.out.write(f"{indent}_sf_use_rule({source!r}, {alias!r}, {head.line}, {head.column}, "
                       f"{locs!r}")
        self.directive_args(items, f"rule '{alias}'")
        self.out.write(")")


    def use_module_rule(self, node: UseRuleNode, m: re.Match, loc: SourceLoc) -> None:
        """``use rule a, b|* from M [exclude x, y] [as ALIAS] [with: ...]`` →
        ``_sf_use_module('M', ('a', 'b'), ('x', 'y'), 'ALIAS', line, col, locs, ...)``."""
        module, alias = m.group("module"), m.group("alias")
        names = [n.strip() for n in m.group("names").split(",")]
        exclude = [n.strip() for n in (m.group("exclude") or "").split(",") if n.strip()]
        bad = [n for n in names + exclude if n != "*" and not _NAME.fullmatch(n)]
        if (names != ["*"] and "*" in names) or bad or not _NAME.fullmatch(module) or (
                alias is not None and not _ALIAS.fullmatch(alias)):
            self.problems.append(ParseError(
                "expected 'use rule NAME[, NAME...] from MODULE [as NEW_NAME] [with:]' or "
                "'use rule * from MODULE [exclude NAME, ...] [as PREFIX_*]'", loc))
            return
        if exclude and names != ["*"]:
            self.problems.append(ParseError("'exclude' goes with 'use rule * from ...'", loc))
            return
        label = f"rule '{alias or names[0]}'"
        items = self.validate_items(node.items, label, allow_actions=False)
        locs = self.locs(items)
        head = node.head
        indent = self.indent_of(head.start_pos, head.column)
        self.out.at(head.line)
        self.out.write(f"{indent}_sf_use_module({module!r}, {tuple(names)!r}, {tuple(exclude)!r}, "
                       f"{alias!r}, {head.line}, {head.column}, {locs!r}")
        self.directive_args(items, label)
        self.out.write(")")


def compile_parsed(parsed: Parsed, tag: str) -> Compiled:
    """Python source for ``parsed`` (same line numbers), plus the static problems found."""
    c = _Compiler(parsed, tag)
    c.statements(parsed.statements)
    breaks = [_first_line(node) for node in parsed.statements]
    return Compiled(c.out.text(), c.problems, c.checks, breaks, c.col_shift)


def _first_line(node: Node) -> int:
    if isinstance(node, PythonNode):
        return node.line.line
    return node.head.line


def syntax_problems(compiled: Compiled, error: SyntaxError, path: str) -> list[SciflowError]:
    """Place a SyntaxError of the compiled module: inside a directive value (re-checked with
    ``ast`` for the exact column; every bad value is reported), else at its own line."""
    found: list[SciflowError] = []
    covered = False
    line = error.lineno or 1
    for check in compiled.checks:
        try:
            ast.parse("_(" + check.text + "\n)", mode="eval")
        except SyntaxError as exc:
            found.append(_value_error(check, exc, path))
            covered = covered or check.line <= line <= check.end_line + 1
        except (ValueError, MemoryError, RecursionError) as exc:  # null bytes, too deep
            found.append(ParseError(f"invalid Python in {check.what}: {exc}",
                                    SourceLoc(path, check.line, check.col)))
    if not covered:
        found.append(ParseError(f"invalid Python: {error.msg}",
                                SourceLoc(path, line, max(error.offset or 1, 1))))
    found.sort(key=lambda e: (e.loc.line, e.loc.col) if e.loc else (0, 0))
    return found


def _value_error(check: ValueCheck, exc: SyntaxError, path: str) -> ParseError:
    lineno, offset = exc.lineno or 1, exc.offset or 1
    lines = check.text.rstrip().split("\n")
    if lineno > len(lines):  # at the closing parenthesis we added: point at the value's end
        lineno, offset = len(lines), len(lines[-1]) + (2 if len(lines) == 1 else 0)
    if lineno == 1:
        line, col = check.line, check.col + offset - 1 - 2
    else:
        line, col = check.line + lineno - 1, offset
    line = min(line, check.end_line)
    return ParseError(f"invalid Python in {check.what}: {exc.msg}",
                      SourceLoc(path, line, max(col, 1)))
