"""Directive values the compiler and the model read as Snakemake 9 does (the oracle: Snakemake
itself, run on the same tiny Snakefile, where that is cheap).

- a directive given twice in a rule: accepted, both values evaluated, the first one counts;
- ``threads:`` as a float (rounded, as Snakemake's resources round) or a function (its float
  result rounded too); ``priority:`` as a float or a function;
- ``params: [1, 2, 3]``: one param (a list), not three;
- the same output pattern twice in a rule: an error at the rule's output directive.
"""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import textwrap

import pytest

from sciflow.errors import RuleError, WorkflowError
from sciflow.model import Wildcards
from sciflow.parse import load_workflow

ORACLE = pathlib.Path(__file__).parents[1] / "parse" / "snakemake_oracle.py"


def write(tmp_path: pathlib.Path, text: str, name: str = "Snakefile") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def snakemake_rules(path: pathlib.Path) -> dict[str, dict]:
    """The rules as Snakemake reads them (tests/parse/snakemake_oracle.py)."""
    pytest.importorskip("snakemake")
    res = subprocess.run([sys.executable, str(ORACLE), path.name], cwd=path.parent,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return {r["name"]: r for r in json.loads(res.stdout.strip().splitlines()[-1])["rules"]}


def load(path: pathlib.Path, monkeypatch):
    monkeypatch.chdir(path.parent)
    return load_workflow(path.name)


# ------------------------------------------------------------------------------ twice
TWICE = """
    rule a:
        input: "i1.txt"
        input: "i2.txt"
        output: "a.txt"
        benchmark: "b1.tsv"
        benchmark: "b2.tsv"
        log: "l1.log"
        log: "l2.log"
        params: x=1
        params: y=2
        threads: 2
        threads: 3
        priority: 4
        priority: 5
        message: "m1"
        message: "m2"
        shell: "touch {output}"

    use rule a as b with:
        output: "b.txt"
        output: "c.txt"
"""


@pytest.mark.snakemake
def test_directive_given_twice_first_counts_as_in_snakemake(tmp_path, monkeypatch):
    path = write(tmp_path, TWICE)
    theirs = snakemake_rules(path)
    wf = load(path, monkeypatch)
    for name in ("a", "b"):
        rule, other = wf.rules[name], theirs[name]
        assert list(rule.input) == other["input"]
        assert list(rule.output) == other["output"]
        assert rule.benchmark == other["details"]["benchmark"]
        assert [str(f) for f in rule.log] == other["details"]["log"]
        assert list(rule.params) == other["details"]["params"]
        assert rule.params.keys() == other["details"]["param_names"]
        assert rule.threads == other["details"]["threads"]
        assert rule.priority == other["details"]["priority"]
        assert rule.message == other["details"]["message"]
    # and where sciflow points for the directive: the first one
    assert wf.rules["a"].loc_of("input").line == 2


def test_directive_given_twice_second_value_is_still_evaluated(tmp_path, monkeypatch):
    """Snakemake evaluates both values (a NameError in the second one stops it)."""
    path = write(tmp_path, """
        rule a:
            output: "a.txt"
            params: x=1
            params: y=undefined_name
            shell: "touch {output}"
    """)
    with pytest.raises(WorkflowError, match="undefined_name") as err:
        load(path, monkeypatch)
    assert err.value.loc.line == 4


def test_action_given_twice_is_still_an_error(tmp_path, monkeypatch):
    """Snakemake: 'Multiple run/shell/script/... keywords in rule a'."""
    path = write(tmp_path, """
        rule a:
            output: "a.txt"
            shell: "touch {output}"
            shell: "echo x > {output}"
    """)
    with pytest.raises(RuleError, match="two actions") as err:
        load(path, monkeypatch)
    assert err.value.loc.line == 4
