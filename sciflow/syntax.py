"""Lexing and parsing a Sciflowfile with the lark grammar (``grammar/sciflow.lark``).

Only the structure is parsed here; Python stays opaque text (see the grammar's header). This
module turns lark's exceptions into ``ParseError``s that say what was expected where:

    Snakefile:6:5: expected ':' after 'output'

``parse_text(text, path)`` returns a ``Parsed``: a list of small statement nodes (``RuleNode``,
``KeywordNode``, ``PythonNode``, ...) built by a lark Transformer run inside the LALR parser
(no intermediate tree: for a 5,000-rule file that halves the parse time). Positions come from
the tokens themselves, so ``propagate_positions`` is not needed: every node knows its
line/column and character span in the text.
"""
from __future__ import annotations

import functools
import re
import threading
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Iterator, Union

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.indenter import Indenter

from sciflow.errors import ParseError
from sciflow.model import SourceLoc
from sciflow.resources import grammar_dir

OPEN = {"LPAR": "(", "LSQB": "[", "LBRACE": "{"}
CLOSE = {"RPAR": "(", "RSQB": "[", "RBRACE": "{"}
_CLOSER_OF = {"(": ")", "[": "]", "{": "}"}
# Python's own tokenizer refuses deeper nesting (MAXLEVEL): refusing it here too keeps the
# bracket stack small whatever the input (a line of 50 million '(' is one error, at once).
MAX_NESTING = 200


class _IndentError(Exception):
    """Raised inside the postlexer; turned into a ParseError by ``parse_text``."""

    def __init__(self, message: str, line: int, col: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.col, self.hint = message, line, col, hint


# Workflow keywords that take ``KEYWORD: value`` where a statement may stand.
KEYWORDS = frozenset({
    "include", "configfile", "workdir", "localrules", "ruleorder", "wildcard_constraints",
    "onstart", "onsuccess", "onerror", "envvars", "container", "containerized", "conda",
    "singularity", "pepfile", "pepschema", "report", "scattergather", "resource_scopes",
    "storage", "inputflags", "outputflags", "pathvars",
})
_STATEMENT_WORDS = KEYWORDS | {"rule", "checkpoint", "module"}
_RULE_ONLY = frozenset({"input", "output", "params", "log", "benchmark", "threads", "resources",
                        "priority", "retries", "message", "shell", "run", "script", "notebook",
                        "wrapper", "default_target", "localrule"})
_ANNOTATION = re.compile(r"[^\n=#]*=(?!=)")
# What may follow a keyword-looking word at the start of a line for it to still be Python.
_PYTHON_AFTER = re.compile(r"[ \t]*(?:$|[=.(\[,)\]+\-*/%<>!&|^@]|\r?\n|#)")

_RETYPED = frozenset({"HEAD", "RULE_HEAD", "USE_KW", "MODULE_HEAD"})
# The rest of a line that ends a block head (`module:`): blanks, maybe a comment.
_BLANK_REST = re.compile(r"[ \t\f]*(?:#[^\r\n]*)?(?:\r?\n|\r|$)")
_STRING_START = re.compile(r"(?i:[rbuf]{0,2})[\"']")
_COMMENT = re.compile(r"#[^\r\n]*")
_WORD = re.compile(r"[A-Za-z_]\w*")
# Block kinds, one per indentation level.
_STMT, _RULE, _MODULE, _VALUE = "stmt", "rule", "module", "value"


class SciflowIndenter(Indenter):
    """lark's Indenter, extended: a bracket stack (so errors can name the unclosed or
    mismatched bracket), positions on _INDENT/_DEDENT, and keyword classification by block
    kind (see the grammar's header)."""

    NL_type = "_NL"
    OPEN_PAREN_types = list(OPEN)
    CLOSE_PAREN_types = list(CLOSE)
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8
    always_accept = ("_NL",)
    text = ""  # the source being parsed, set by parse_text (for error messages)
    comments: list[tuple[int, int]] = []  # (start, end) of each comment, in order

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return self._scan(stream)

    def _scan(self, stream: Iterator[Token]) -> Iterator[Token]:  # noqa: C901 - one state machine
        levels = [0]
        kinds = [_STMT]
        brackets: list[Token] = []
        last: Token | None = None
        at_line_start = True
        line_kind = None  # what the current logical line is, decided by its first token
        for tok in stream:
            last = tok
            kind = tok.type
            if kind == "_NL":
                if "#" in tok.value:
                    base = tok.start_pos
                    self.comments.extend((base + m.start(), base + m.end())
                                         for m in _COMMENT.finditer(tok.value))
                if brackets:
                    continue
                yield tok
                at_line_start = True
                tail = tok.value.rsplit("\n", 1)[-1] if "\n" in tok.value else None
                if tail is None:  # a comment at the end of the file, no newline
                    continue
                indent_str = tail[: len(tail) - len(tail.lstrip(" \t\f"))]
                if tail[len(indent_str):].startswith("#"):
                    continue  # only at the end of the file: nothing follows
                indent = len(indent_str.expandtabs(self.tab_len))
                line, col = tok.end_line, indent + 1
                if indent > levels[-1]:
                    levels.append(indent)
                    kinds.append(_block_kind(kinds[-1], line_kind))
                    yield _token("_INDENT", indent_str, tok, line, col)
                else:
                    while indent < levels[-1]:
                        levels.pop()
                        kinds.pop()
                        yield _token("_DEDENT", indent_str, tok, line, col)
                    if indent != levels[-1]:
                        raise _IndentError("unindent does not match any outer indentation level",
                                           line, col, hint="Indent this line like the block it "
                                           "belongs to (use spaces consistently).")
                continue
            if kind in OPEN:
                brackets.append(tok)
                if len(brackets) > MAX_NESTING:
                    raise _IndentError("too many nested parentheses", tok.line, tok.column,
                                       hint=f"Python allows at most {MAX_NESTING} levels of "
                                       "brackets.")
            elif kind in CLOSE:
                if not brackets:
                    raise _IndentError(f"unmatched '{tok.value}'", tok.line, tok.column)
                opener = brackets.pop()
                if CLOSE[kind] != opener.value:
                    raise _IndentError(
                        f"closing '{tok.value}' does not match '{opener.value}' opened at line "
                        f"{opener.line}", tok.line, tok.column)
            if at_line_start:
                at_line_start = False
                line_kind = self._classify_first(tok, kinds[-1])
            elif kind in _RETYPED:
                tok.type = "CHUNK"
            yield tok
        if brackets:
            opener = brackets[-1]
            raise _IndentError(f"'{opener.value}' was never closed", opener.line, opener.column,
                               hint=f"Add the missing '{_CLOSER_OF[opener.value]}'.")
        while len(levels) > 1:
            levels.pop()
            if last is None:
                yield Token("_DEDENT", "")
            else:
                yield _token("_DEDENT", "", last, last.end_line or 1, 1)

    def _classify_first(self, tok: Token, block: str) -> str:
        """Decide what a logical line is from its first token; retype that token."""
        kind = tok.type
        if block == _STMT:
            if kind == "RULE_HEAD":
                return "rule"
            if kind == "USE_KW":
                return "use"
            if kind == "MODULE_HEAD":
                if tok.value[6:].strip(" \t:") or _BLANK_REST.match(self.text, tok.end_pos):
                    return "module"
                tok.type = "CHUNK"  # `module: int = 1` (an annotation) stays Python
                return "python"
            if kind == "HEAD":
                word = _WORD.match(tok.value).group()
                if word in KEYWORDS:
                    tok.type = "KEYWORD"
                    return "keyword"
                after_colon = tok.start_pos + tok.value.index(":") + 1
                if word in _RULE_ONLY and not _ANNOTATION.match(self.text, after_colon):
                    raise _IndentError(f"'{word}:' is a rule directive but stands outside a rule",
                                       tok.line, tok.column, hint="Indent it under a 'rule NAME:' "
                                       "line (or fix the indentation of the lines above).")
            if kind == "CHUNK":
                word = _WORD.match(tok.value)
                if word and word.group() in _STATEMENT_WORDS:
                    word = word.group()
                    rest = self.text[tok.start_pos + len(word):tok.start_pos + len(word) + 80]
                    if not _PYTHON_AFTER.match(rest):
                        if word in ("rule", "checkpoint", "module"):
                            name = re.match(r"[ \t]*(\w*)", rest).group(1)
                            word = f"{word} {name}".strip()
                        raise _IndentError(f"expected ':' after '{word}'", tok.line, tok.column,
                                           hint=f"Write '{word}:'.")
        elif block in (_RULE, _MODULE):
            if kind == "RULE_HEAD":
                raise _IndentError("a rule cannot be defined inside another rule", tok.line,
                                   tok.column, hint="Check the indentation: rules start at the "
                                   "indentation of the surrounding code.")
            if kind == "HEAD":
                tok.type = "DIRECTIVE"
                return "directive"
            if kind == "STRING":
                return "docstring"
            if kind == "CHUNK" and _STRING_START.match(tok.value):
                tok.type = "STRING"  # a docstring followed by more text: let the grammar say
                return "docstring"
            word = _WORD.match(tok.value) if kind == "CHUNK" else None
            if word:
                raise _IndentError(f"expected ':' after '{word.group()}'", tok.line, tok.column,
                                   hint=f"Write '{word.group()}:' followed by its value.")
            raise _IndentError("expected a directive such as 'input:' or 'shell:'",
                               tok.line, tok.column)
        if kind in _RETYPED:
            tok.type = "CHUNK"
        return "python"


def _block_kind(outer: str, line_kind: str | None) -> str:
    """The kind of the block opened (by an indent) after a line of ``line_kind``."""
    if line_kind in ("rule", "use"):
        return _RULE
    if line_kind == "module":
        return _MODULE
    if line_kind == "python" and outer == _STMT:
        return _STMT
    return _VALUE


def _token(kind: str, value: str, like: Token, line: int, col: int) -> Token:
    tok = Token.new_borrow_pos(kind, value, like)
    tok.line = tok.end_line = line
    tok.column = tok.end_column = col
    tok.start_pos = tok.end_pos = like.end_pos
    return tok


# ------------------------------------------------------------------------------ nodes
@dataclass(slots=True)
class Span:
    """A piece of source text: ``text[start:end]``, starting at ``line``:``col``."""

    start: int
    end: int
    line: int
    col: int
    end_line: int


def _span(first: Token | Span, last: Token | Span) -> Span:
    if isinstance(first, Span):
        start, line, col = first.start, first.line, first.col
    else:
        start, line, col = first.start_pos, first.line, first.column
    end = last.end if isinstance(last, Span) else last.end_pos
    end_line = last.end_line
    return Span(start, end, line, col, end_line)


@dataclass(slots=True)
class DirectiveNode:
    """``name: value`` inside a rule (or module); ``value`` starts right after the colon
    (``head`` is the token holding the name, and maybe the start of the value)."""

    name: str
    head: Token
    value: Span


@dataclass(slots=True)
class DocstringNode:
    span: Span


@dataclass(slots=True)
class RuleNode:
    head: Token  # RULE_HEAD: "rule name:" / "checkpoint name:" / "rule:"
    items: list[DirectiveNode | DocstringNode]
    end_line: int


@dataclass(slots=True)
class KeywordNode:
    name: str
    head: Token
    value: Span


@dataclass(slots=True)
class UseRuleNode:
    head: Token
    line: Span  # the rest of the "use rule ..." line
    items: list[DirectiveNode | DocstringNode]


@dataclass(slots=True)
class ModuleNode:
    head: Token
    items: list[DirectiveNode]


@dataclass(slots=True)
class PythonNode:
    """A Python logical line and, if it opens a block, the statements inside."""

    line: Span
    body: list["Node"] = field(default_factory=list)


Node = Union[RuleNode, KeywordNode, UseRuleNode, ModuleNode, PythonNode]


@dataclass(slots=True)
class Parsed:
    text: str
    path: str
    statements: list[Node]
    comments: list[tuple[int, int]]

    def code(self, start: int, end: int) -> str:
        """``text[start:end]`` without its comments (so code can be appended after it)."""
        piece = self.text[start:end]
        if "#" not in piece:
            return piece
        i = bisect_left(self.comments, (start, -1))
        out, pos = [], start
        while i < len(self.comments) and self.comments[i][0] < end:
            c_start, c_end = self.comments[i]
            out.append(self.text[pos:c_start])
            pos = min(c_end, end)
            i += 1
        out.append(self.text[pos:end])
        return "".join(out)


def _head_value(head: Token, value: Span | None) -> tuple[str, Span]:
    """The name of ``name: value`` and the value's span, from just after the colon (the head
    token may hold the start of the value, see the grammar's HEAD)."""
    colon = head.value.index(":")
    name = head.value[:colon].rstrip()
    start = head.start_pos + colon + 1
    col = head.column + colon + 1
    if value is None:  # all of the value (maybe nothing) is inside the head token
        return name, Span(start, head.end_pos, head.line, col, head.end_line)
    return name, Span(start, value.end, head.line, col, value.end_line)


class _Build(Transformer):
    """Runs inside the LALR parser (``transformer=``): children → nodes, no tree."""

    def start(self, children):
        return children

    def python_line(self, c):
        return _span(c[0], c[-1])

    def python_block(self, c):
        return _span(c[0], c[-1])

    def value(self, c):
        if not c:  # nothing after the colon
            return None
        return _span(c[0], c[-1])

    def python_stmt(self, c):
        return PythonNode(c[0], c[1:])

    def directive(self, c):
        head, value = c
        name, span = _head_value(head, value)
        return DirectiveNode(name, head, span)

    def docstring(self, c):
        return DocstringNode(_span(c[0], c[-1]))

    def rule(self, c):
        items = c[1:]
        if not items:
            return RuleNode(c[0], items, c[0].end_line)
        last = items[-1]
        end_line = last.value.end_line if isinstance(last, DirectiveNode) else last.span.end_line
        return RuleNode(c[0], items, end_line)

    def keyword_stmt(self, c):
        head, value = c
        name, span = _head_value(head, value)
        return KeywordNode(name, head, span)

    def use_rule(self, c):
        head = c[0]
        tokens = [x for x in c[1:] if isinstance(x, Token)]
        items = [x for x in c[1:] if not isinstance(x, Token)]
        return UseRuleNode(head, _span(tokens[0], tokens[-1]), items)

    def module(self, c):
        return ModuleNode(c[0], c[1:])


_INDENTER = SciflowIndenter()


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser, built once per process (and cached on disk by lark)."""
    return Lark.open(str(grammar_dir() / "sciflow.lark"), parser="lalr", lexer="basic",
                     postlex=_INDENTER, transformer=_Build(), maybe_placeholders=False,
                     cache=True)


_LOCK = threading.Lock()  # the postlexer keeps the text being parsed: one parse at a time


def parse_text(text: str, path: str) -> Parsed:
    """Parse ``text`` (the content of ``path``); raise ``ParseError`` with a location."""
    if text.startswith("\ufeff"):  # a UTF-8 byte-order mark, as some editors write
        text = text[1:]
    if not text.endswith("\n"):
        text += "\n"
    with _LOCK:
        return _parse_locked(text, path)


def _parse_locked(text: str, path: str) -> Parsed:
    _INDENTER.text = text
    _INDENTER.comments = comments = []
    try:
        statements = parser().parse(text)
    except _IndentError as exc:
        raise ParseError(exc.message, SourceLoc(path, exc.line, exc.col), hint=exc.hint) from None
    except UnexpectedInput as exc:
        raise _describe(exc, text, path) from None
    except LarkError as exc:  # e.g. an Indenter assertion: still a located, clean error
        raise ParseError(f"cannot parse the file: {exc}", SourceLoc(path, 1, 1)) from None
    finally:
        _INDENTER.text = ""
        _INDENTER.comments = []
    return Parsed(text, path, statements, comments)


# ------------------------------------------------------------------------------ error messages
# Parse errors the postlexer does not catch itself, labelled by example (lark's
# ``UnexpectedInput.match_examples``: an error is given the label of the example that fails
# in the same parser state).
_EXAMPLES: dict[str, list[str]] = {
    "expected an indented block": [
        "rule a:\nx = 1\n", "checkpoint a:\nrule b:\n", "module m:\nx = 1\n",
        "rule a:\n", "onstart:\nx = 1\n", "rule a:\n    input:\nx = 1\n",
    ],
    "the directives of a rule go on the next lines, indented": [
        "rule a: 'x'\n", "rule a: (1)\n",
    ],
    "unexpected indent": [
        "rule a:\n    'doc'\n        'more'\n",
    ],
    "a docstring must stand on its own line": [
        "rule a:\n    'doc' + x\n",
    ],
}
_HINTS = {
    "expected an indented block": "Indent the body on the next lines.",
    "the directives of a rule go on the next lines, indented":
        "Write 'rule NAME:' alone on its line, then one directive per line, indented.",
}


def _describe(exc: UnexpectedInput, text: str, path: str) -> ParseError:
    """Turn a lark error into a message a person can act on."""
    line = getattr(exc, "line", None) or 1
    col = getattr(exc, "column", None) or 1
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = text[pos] if pos < len(text) else ""
        if ch in "\"'":
            while pos > 0 and text[pos - 1] == ch and col > 1:  # the start of '"""'
                pos, col = pos - 1, col - 1
            return ParseError("unterminated string", SourceLoc(path, line, col),
                              hint="Close the string on the same line (or use triple quotes).")
        return ParseError(f"unexpected character {ch!r}", SourceLoc(path, line, col))
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            line, col = text.count("\n", 0, len(text.rstrip())) + 1, 1
        else:
            line, col = tok.line or line, tok.column or col
        label = _match(exc)
        if label:
            return ParseError(label, SourceLoc(path, line, col), hint=_HINTS.get(label))
        if tok.type == "_INDENT":
            return ParseError("unexpected indent", SourceLoc(path, line, col))
        if tok.type == "$END":
            return ParseError("unexpected end of file", SourceLoc(path, line, col))
        return ParseError(f"unexpected {str(tok).strip()!r}", SourceLoc(path, line, col))
    return ParseError(str(exc).splitlines()[0], SourceLoc(path, line, col))


def _match(exc: UnexpectedInput) -> str | None:
    def parse(example: str):
        _INDENTER.text = example
        return parser().parse(example)
    saved = _INDENTER.text, _INDENTER.comments
    try:
        return exc.match_examples(parse, _EXAMPLES, use_accepts=True)
    except Exception:  # an example failing differently (postlexer error): no label
        return None
    finally:
        _INDENTER.text, _INDENTER.comments = saved


def _previous_word(text: str, pos: int) -> str:
    """The identifier just before ``pos`` (skipping blanks), for "after 'output'" messages."""
    end = pos
    while end > 0 and text[end - 1] in " \t\f\r\n":
        end -= 1
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    return text[start:end] or text[max(end - 1, 0):end]
