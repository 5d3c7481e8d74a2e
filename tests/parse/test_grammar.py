"""The grammar written from named parts (issue 11): short, no depth limit on brackets, the
same parse trees as the hand-expanded grammar it replaced, and linear in the input.

The old grammar is kept in ``tests/parse/legacy/`` as the oracle: every corpus file, every
multi-line string in the test suite and thousands of generated and mutated files must give
the same tree (or the same error) with both.
"""
from __future__ import annotations

import ast
import io
import os
import re
import textwrap
import tokenize
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sciflow.errors import ParseError
from sciflow.parse import load_workflow
from sciflow.resources import grammar_dir
from sciflow.syntax import PythonNode, RuleNode, parse_text
from tests.parse.legacy.oracle import outcome
from tests.parse.test_mutations import mutated

ROOT = Path(__file__).resolve().parents[2]
GRAMMAR = grammar_dir() / "sciflow.lark"
EXAMPLES = int(os.environ.get("SCIFLOW_GRAMMAR_EXAMPLES", "300"))


def _workflow_files() -> list[Path]:
    found = []
    for root in ("tests/parse/corpus", "workflows", "tests/workflows"):
        for p in sorted((ROOT / root).rglob("*")):
            if p.is_file() and (p.name in ("Snakefile", "Sciflowfile") or p.suffix == ".smk"):
                found.append(p)
    return found


def _test_suite_snippets() -> list[str]:
    """Every multi-line string constant in the test suite (most are Snakefiles)."""
    out = []
    for f in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value:
                out.append(node.value)
    return out


def _python_rejects(source: str) -> bool:
    """Python's own tokenizer finds an unclosed bracket or an unterminated multi-line string."""
    try:
        list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return True
    return False


def _where(error: str) -> str:
    """'error: Snakefile:16:12: unexpected …' -> 'Snakefile:16:12'."""
    return ":".join(error.split(": ", 2)[1].split(":")[:3]) if error.count(": ") >= 2 else error


def assert_parses_as_before(source: str) -> None:
    """Same tree or error as the legacy grammar, except where the legacy grammar accepted a
    file that Python itself rejects (its three-level expansion misread adjacent quotes such
    as ``\"\"\"t\"\"\"\"(#)\"``): there the new grammar must be the one that says no."""
    new, old = outcome(source), outcome(source, legacy=True)
    if new == old:
        return
    if isinstance(new, str) and isinstance(old, str) and _where(new) == _where(old):
        return  # both errors at the same file:line:column; the quoted token may be shorter
    def is_error(o) -> bool:
        return isinstance(o, str) and o.startswith("error")
    assert is_error(new) and not is_error(old) and _python_rejects(source), \
        (source, new, old)


# ------------------------------------------------------------------------------ the grammar
def test_grammar_is_written_from_short_named_parts():
    text = GRAMMAR.read_text()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert len(text) < 6000
    # each quote form is written once; everything else refers to it by name
    assert text.count('"""[^"\\\\]') == 1 and text.count("'''[^'\\\\]") == 1
    terminals = re.findall(r"^([A-Z_]+)(?:\.\d)?:", text, re.M)
    assert {"STRING", "CHUNK", "HEAD", "_QUOTED"} <= set(terminals)


def test_corpus_files_parse_as_before():
    files = _workflow_files()
    assert len(files) >= 20
    for path in files:
        text = path.read_text()
        assert outcome(text) == outcome(text, legacy=True), path


def test_test_suite_snippets_parse_as_before():
    snippets = _test_suite_snippets()
    assert len(snippets) > 100
    for text in snippets:
        assert_parses_as_before(text)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(source=mutated())
def test_mutated_files_parse_as_before(source):
    assert_parses_as_before(source)


# Lines built from brackets, quote forms, comments and code, up to 6 brackets deep (the
# old grammar swallowed 3 levels in one token and fell back to bracket tokens beyond that).
_ATOMS = ["x", "f", "1", ",", " ", ":", "=", "a.b", "lambda w: w", "+", "\\x", '"s"', "'s'",
          'r"\\d"', "b'\\''", 'f"{a}"', '"""t"""', "'''t'''", '"(#)"', "'[{'", '"\\""',
          '"""a\nb"""']


@st.composite
def _nested(draw, depth=0):
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        if depth < 6 and draw(st.integers(0, 3)) == 0:
            opener, closer = draw(st.sampled_from(["()", "[]", "{}"]))
            inner = draw(_nested(depth + 1))
            if draw(st.integers(0, 9)) == 0:  # sometimes broken: unclosed or over a line
                closer = draw(st.sampled_from(["", ")", "]", "}", "\n)"]))
            parts.append(opener + inner + closer)
        else:
            parts.append(draw(st.sampled_from(_ATOMS)))
    return "".join(parts)


@st.composite
def _files(draw):
    line = draw(_nested())
    comment = draw(st.sampled_from(["", "  # c (", " # ]"]))
    form = draw(st.sampled_from(["x = {}{}\n", "rule a:\n    input: {}{}\n    shell: 'c'\n",
                                 "rule a:\n    params: p={}{}\n", "f({}){}\n",
                                 "include: {}{}\n", "if x:\n    y = {}{}\n"]))
    return form.format(line, comment)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=_files())
def test_generated_nesting_parses_as_before(source):
    assert_parses_as_before(source)


@pytest.mark.parametrize("source", [
    'x = {"""t""""(#)"{"s""""t"""}\n',                       # outer { never closed
])
def test_files_the_legacy_grammar_wrongly_accepted_are_errors(source):
    """Found by the property tests above: Python rejects both; so does sciflow."""
    assert _python_rejects(source)
    assert str(outcome(source)).startswith("error")


# ------------------------------------------------------------------------------ behaviour
def _load(tmp_path, monkeypatch, source: str):
    (tmp_path / "Snakefile").write_text(textwrap.dedent(source))
    monkeypatch.chdir(tmp_path)
    return load_workflow("Snakefile")


def test_four_levels_of_nesting_on_one_line_in_a_directive(tmp_path, monkeypatch):
    wf = _load(tmp_path, monkeypatch, """
        rule a:
            output: "o.txt"
            params: deep=[{"k": ({"j": [1, (2, [3, {4: (5,)}])]},)}], n=len([[[[1]]]])
            shell: "echo {params.deep}"
        """)
    params = wf.rules["a"].params
    assert params.deep == [{"k": ({"j": [1, (2, [3, {4: (5,)}])]},)}]
    assert params.n == 1


def test_fifty_levels_of_nesting_have_no_limit(tmp_path, monkeypatch):
    deep = "[" * 50 + "7" + "]" * 50
    wf = _load(tmp_path, monkeypatch, f"""
        X = {deep}
        rule a:
            output: "o.txt"
            params: v={deep}  # a comment (with [brackets]
            shell: "true"
        """)
    v = wf.rules["a"].params.v
    for _ in range(50):
        v = v[0]
    assert v == 7


def test_deep_nesting_spanning_lines_and_comments(tmp_path, monkeypatch):
    wf = _load(tmp_path, monkeypatch, """
        rule a:
            output: "o.txt"
            params:
                v=dict(a=[(1, {2: [3,  # ) ] } a comment with brackets
                          4]})],  # and another (
                       b="x")
            shell: "true"
        """)
    assert wf.rules["a"].params.v == {"a": [(1, {2: [3, 4]})], "b": "x"}


QUOTES = {
    "single": ("'a(b'", "a(b"),
    "double": ('"a]b"', "a]b"),
    "triple_single": ("'''a\n{b'''", "a\n{b"),
    "triple_double": ('"""a"b""c\n"""', 'a"b""c\n'),
    "raw": ('r"\\d+(#)"', "\\d+(#)"),
    "raw_upper": ("R'\\n'", "\\n"),
    "bytes": ("b'x]'", b"x]"),
    "raw_bytes": ('rb"\\x("', b"\\x("),
    "bytes_raw": ("Br'\\)'", b"\\)"),
    "unicode": ('u"é#"', "é#"),
    "escaped_double": ('"a\\"(b"', 'a"(b'),
    "escaped_single": ("'a\\'[b'", "a'[b"),
    "escaped_backslash": ('"a\\\\"', "a\\"),
    "hash": ('"# not a comment"', "# not a comment"),
    "fstring": ('f"{N}-{ {1: [2]}[1][0] }"', "3-2"),
    "fstring_nested_format": ('f"{N:{W}}|{D[\'k\']}"', "  3|v"),
    "raw_fstring": ('rf"{N}\\d"', "3\\d"),
    "fr_upper": ('FR"{N}("', "3("),
    "triple_fstring": ('f"""{ [N, (N,)] }\n"""', "[3, (3,)]\n"),
}


@pytest.mark.parametrize("name", sorted(QUOTES))
def test_every_quote_form_as_a_value_and_on_a_python_line(tmp_path, monkeypatch, name):
    literal, expected = QUOTES[name]
    source = ("N, W, D = 3, 3, {'k': 'v'}\n"
              f"TOP = ({literal}, [1])  # {{ comment\n"
              "rule a:\n"
              "    output: 'o.txt'\n"
              f"    params: v={literal}, w=[({literal})]\n"
              "    shell: 'true'\n")
    (tmp_path / "Snakefile").write_text(source)
    monkeypatch.chdir(tmp_path)
    wf = load_workflow("Snakefile")
    assert wf.rules["a"].params.v == expected
    assert wf.rules["a"].params.w == [expected]


@pytest.mark.parametrize("name", sorted(QUOTES))
def test_every_quote_form_parses_as_before(name):
    literal, _ = QUOTES[name]
    for source in (f"x = {literal}  # c\n", f"rule a:\n    params: {literal}, ({literal})\n",
                   f"rule a:\n    {literal}\n    shell: {literal}\n"):
        assert outcome(source) == outcome(source, legacy=True)


def test_a_docstring_and_code_after_brackets_keep_their_spans():
    text = 'rule a:\n    "doc"\n    input: f([1, (2)]) + "x"  # c\nx = [1]\n'
    parsed = parse_text(text, "Snakefile")
    rule, line = parsed.statements
    assert isinstance(rule, RuleNode) and isinstance(line, PythonNode)
    value = rule.items[1].value
    assert text[value.start:value.end].strip() == 'f([1, (2)]) + "x"'
    assert text[line.line.start:line.line.end] == "x = [1]"


@pytest.mark.parametrize("source, message", [
    ("x = [1, (2]\n", "closing ']' does not match '('"),
    ("rule a:\n    input: f([[[[1]]]\n", "'[' was never closed"),
    ("x = 'abc\n", "unterminated string"),
    ('x = [1, """abc\n', "unterminated string"),
])
def test_bracket_and_string_errors_are_located(source, message):
    with pytest.raises(ParseError) as info:
        parse_text(source, "Snakefile")
    assert message in str(info.value)
    assert outcome(source) == outcome(source, legacy=True)


def test_nesting_stops_where_pythons_does():
    """Python's tokenizer allows 200 levels; so does the postlexer, which keeps the bracket
    stack bounded on hostile input."""
    for depth, ok in ((200, True), (201, False)):
        source = "x = " + "[" * depth + "]" * depth + "\n"
        try:
            compile(source, "f", "exec")
            python_ok = True
        except SyntaxError:
            python_ok = False
        assert python_ok is ok
        if ok:
            parse_text(source, "Snakefile")
        else:
            with pytest.raises(ParseError, match="too many nested parentheses") as info:
                parse_text(source, "Snakefile")
            assert info.value.loc.col == 4 + 201
