"""Broken workflows: each problem is reported once, as a SciflowError at the right FILE:LINE:COL.

Positions are derived by hand from the sources below (line = 1-based line of the offending
token, col = its 1-based column).
"""
from __future__ import annotations

import pytest

from sciflow.errors import (ErrorGroup, IncludeError, ParseError, RuleError, SciflowError,
                            WorkflowError)
from sciflow.parse import lint, load_workflow

CASES = [
    # (name, source, error class, line, col, words in the message)
    ("missing_colon", 'rule a:\n    input: "x"\n    output "y"\n    shell: "z"\n',
     ParseError, 3, 5, "expected ':' after 'output'"),
    ("missing_colon_rule", 'SAMPLES = []\nrule a\n    output: "y"\n',
     ParseError, 2, 1, "expected ':' after 'rule a'"),
    ("unindent", 'rule a:\n    output: "y"\n  shell: "z"\n',
     ParseError, 3, 3, "unindent does not match"),
    ("no_block", 'rule a:\noutput: "y"\n',
     ParseError, 2, 1, "'output:' is a rule directive but stands outside a rule"),
    ("empty_run", 'rule a:\n    output: "y"\n    run:\nx = 1\n', RuleError, 3, 5,
     "'run:' in rule 'a' has no value"),
    ("empty_shell", 'rule a:\n    output: "y"\n    shell:\n"""\nx\n"""\n', RuleError, 3, 5,
     "'shell:' in rule 'a' has no value"),
    ("empty_handler", 'onstart:\nx = 1\n', ParseError, 2, 1,
     "invalid Python: expected an indented block"),
    ("rule_header_with_value", 'rule a: "x"\n', ParseError, 1, 9,
     "the directives of a rule go on the next lines"),
    ("unknown_directive", 'rule a:\n    output: "y"\n    threds: 2\n',
     RuleError, 3, 5, "unknown directive 'threds'"),
    ("two_actions", 'rule a:\n    output: "y"\n    shell: "z"\n    run:\n        pass\n',
     RuleError, 4, 5, "two actions"),
    ("action_not_last", 'rule a:\n    shell: "z"\n    output: "y"\n',
     RuleError, 3, 5, "'output' comes after the action 'shell'"),
    ("duplicate_rule", 'rule a:\n    output: "y"\n\nrule a:\n    output: "z"\n',
     RuleError, 4, 1, "duplicate rule name 'a'"),
    ("python_in_value", 'rule a:\n    input:\n        "a",\n        "b" "c" +,\n    output: "y"\n',
     ParseError, 4, 18, "invalid Python in 'input' of rule 'a'"),
    ("python_in_inline_value", 'rule a:\n    input: "a" = 3\n',
     ParseError, 2, 12, "invalid Python in 'input'"),
    ("python_in_run", 'rule a:\n    output: "y"\n    run:\n        x = (1 +\n        y = 2\n',
     ParseError, 4, 13, "'(' was never closed"),
    ("python_top_level", 'x = 1 +\ny = 2\n', ParseError, 1, 8, "invalid Python"),
    ("include_missing", 'include: "missing.smk"\n', IncludeError, 1, 1, "cannot include"),
    ("include_without_colon", 'include "x.smk"\n', ParseError, 1, 1, "expected ':' after 'include'"),
    ("directive_outside_rule", 'input: "x"\n', ParseError, 1, 1, "stands outside a rule"),
    ("rule_in_rule", 'rule a:\n    rule b:\n        output: "x"\n',
     ParseError, 2, 5, "a rule cannot be defined inside another rule"),
    ("user_code_fails", 'X = 1\nY = X / 0\n', WorkflowError, 2, 5, "ZeroDivisionError"),
    ("undefined_name", 'rule a:\n    output: SAMPLES\n', WorkflowError, 2, 13, "NameError"),
    ("unclosed_bracket", 'rule a:\n    output: ("y",\n    shell: "z"\n',
     ParseError, 2, 13, "'(' was never closed"),
    ("unterminated_string", 'rule a:\n    output: "y\n', ParseError, 2, 13, "unterminated string"),
    ("mismatched_bracket", 'x = [1, 2)\n', ParseError, 1, 10, "does not match '['"),
    ("module", 'module other:\n    snakefile: "x"\n', WorkflowError, 1, 1, "snakefile x not found"),
    ("use_rule_from_module", 'use rule * from other as other_*\n', WorkflowError, 1, 1,
     "no module named 'other'"),
    ("bad_localrules", 'localrules: a b\n', ParseError, 1, 13, "expects rule names"),
    ("outputs_with_different_wildcards", 'rule a:\n    output: "{x}.a", "{y}.b"\n', RuleError,
     2, 5, "not all output, log and benchmark files of rule 'a' contain the same wildcards"),
    ("log_without_a_wildcard", 'rule a:\n    output: "{x}_{y}.a"\n    log: "{x}.log"\n',
     RuleError, 3, 5, "'{x}.log' differs by y"),
    ("benchmark_without_wildcards", 'rule a:\n    output: "{x}.a"\n    benchmark: "b.tsv"\n',
     RuleError, 3, 5, "'b.tsv' differs by x"),
    ("use_unknown_rule", 'use rule nope as b with:\n    output: "x"\n', RuleError, 1, 1,
     "no rule named 'nope'"),
]


@pytest.mark.parametrize("name,source,kind,line,col,words", CASES, ids=[c[0] for c in CASES])
def test_error_location(tmp_path, monkeypatch, name, source, kind, line, col, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Snakefile").write_text(source)
    with pytest.raises(SciflowError) as info:
        load_workflow("Snakefile")
    err = info.value
    assert not isinstance(err, ErrorGroup)
    assert type(err) is kind
    assert (err.loc.path, err.loc.line, err.loc.col) == ("Snakefile", line, col)
    assert words in err.message
    assert [str(p) for p in lint("Snakefile")] == [str(err)]


def test_format_shows_line_and_caret(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Snakefile").write_text('rule a:\n    input: "x"\n    output "y"\n')
    text = lint("Snakefile")[0].format()
    assert text.splitlines() == [
        "Snakefile:3:5: expected ':' after 'output'",
        '        output "y"',
        "        ^",
        "Write 'output:' followed by its value.",
    ]


def test_unknown_directive_suggests(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Snakefile").write_text('rule a:\n    ouput: "y"\n    shell: "z"\n')
    (err,) = lint("Snakefile")
    assert err.hint == "Did you mean 'output'?"


def test_all_static_problems_reported_together(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Snakefile").write_text(
        'rule a:\n    ouput: "y"\n    shell: "z"\n    input: "x"\n    run:\n        pass\n'
        'rule b:\n    input: "a" "b" +\n    output: "c"\n')
    with pytest.raises(ErrorGroup) as info:
        load_workflow("Snakefile")
    found = [(type(e), e.loc.line, e.loc.col) for e in info.value.errors]
    assert found == [(RuleError, 2, 5), (RuleError, 4, 5), (RuleError, 5, 5), (ParseError, 8, 20)]
    assert len(lint("Snakefile")) == 4


def test_error_in_included_file_points_there(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.smk").write_text('rule a:\n    output: "y"\n    shel: "z"\n')
    (tmp_path / "Snakefile").write_text('include: "rules/a.smk"\n')
    (err,) = lint("Snakefile")
    assert str(err).startswith("rules/a.smk:3:5: unknown directive 'shel'")


def test_runtime_error_in_included_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inc.smk").write_text('\n\nraise ValueError("boom")\n')
    (tmp_path / "Snakefile").write_text('x = 1\ninclude: "inc.smk"\n')
    (err,) = lint("Snakefile")
    assert (err.loc.path, err.loc.line) == ("inc.smk", 3)
    assert "ValueError: boom" in err.message


def test_unreadable_main_file(tmp_path):
    errs = lint(tmp_path / "nope")
    assert len(errs) == 1 and isinstance(errs[0], WorkflowError)
