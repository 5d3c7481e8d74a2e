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

from oracle import SNAKEMAKE, snakemake
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


# ------------------------------------------------------------------------------ threads, priority
def run_sciflow(cwd: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    sciflow = pathlib.Path(sys.executable).with_name("sciflow")
    return subprocess.run([str(sciflow), "run", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def run_snakemake(cwd: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    if not SNAKEMAKE.exists():
        pytest.skip("snakemake (the oracle) is not installed")
    return snakemake(cwd, *args, check=False)


THREADS = """
    rule all:
        input: expand("{x}.out", x=list("abcdef"))
    rule a:
        output: "a.out"
        threads: 2.5
        shell: "echo {threads} > {output}"
    rule b:
        output: "b.out"
        threads: 3.5
        shell: "echo {threads} > {output}"
    rule c:
        output: "c.out"
        threads: lambda wildcards: 1.5
        shell: "echo {threads} > {output}"
    rule d:
        output: "d.out"
        threads: 8
        shell: "echo {threads} > {output}"
    rule e:
        output: "e.out"
        threads: lambda wildcards, input, attempt: 0.4
        shell: "echo {threads} > {output}"
    rule f:
        output: "f.out"
        threads: 0
        shell: "echo {threads} > {output}"
"""


@pytest.mark.slow
@pytest.mark.snakemake
def test_threads_float_function_zero_and_cap_as_snakemake(tmp_path):
    """Floats are rounded (static or returned by a function), 0 stays 0, more threads than
    --cores are scaled down: the {threads} each job sees is Snakemake's."""
    outputs = {}
    for tool, runner in (("snakemake", run_snakemake), ("sciflow", run_sciflow)):
        work = tmp_path / tool
        work.mkdir()
        write(work, THREADS)
        res = runner(work, "-c", "4")
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        outputs[tool] = {x: (work / f"{x}.out").read_text() for x in "abcdef"}
    assert outputs["sciflow"] == outputs["snakemake"]


def test_threads_values_on_the_model(tmp_path, monkeypatch):
    path = write(tmp_path, """
        rule a:
            output: "a.out"
            threads: 2.5
        rule b:
            output: "b.out"
            threads: lambda wildcards: 2.7
        rule c:
            output: "c.out"
            threads: None
    """)
    wf = load(path, monkeypatch)
    assert wf.rules["a"].threads == 2
    assert wf.rules["b"].threads(Wildcards()) == 3
    assert wf.rules["c"].threads == 1


def test_threads_of_a_wrong_type_is_an_error_at_the_directive(tmp_path, monkeypatch):
    path = write(tmp_path, """
        rule a:
            output: "a.out"
            threads: "many"
    """)
    with pytest.raises(RuleError, match="threads must be an integer, a float or a function") \
            as err:
        load(path, monkeypatch)
    assert (err.value.loc.line, err.value.loc.col) == (3, 5)


PRIORITY = """
    rule all:
        input: "x.out", "y.out", "z.out", "w.out"
    rule x:
        output: "x.out"
        priority: 1.5
        shell: "echo x >> order.txt; touch {output}"
    rule y:
        output: "y.out"
        priority: lambda wildcards, input, attempt, rulename: len(rulename) + attempt + 1.2
        shell: "echo y >> order.txt; touch {output}"
    rule z:
        output: "z.out"
        priority: lambda wildcards: 10
        shell: "echo z >> order.txt; touch {output}"
    rule w:
        output: "w.out"
        priority: 2
        shell: "echo w >> order.txt; touch {output}"
"""


@pytest.mark.slow
@pytest.mark.snakemake
def test_priority_float_and_functions_order_jobs_as_snakemake(tmp_path):
    """With one core, jobs run by priority: z (10), y (1 + 1 + 1.2), w (2), x (1.5)."""
    orders = {}
    for tool, runner in (("snakemake", run_snakemake), ("sciflow", run_sciflow)):
        work = tmp_path / tool
        work.mkdir()
        write(work, PRIORITY)
        res = runner(work, "-c", "1")
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        orders[tool] = (work / "order.txt").read_text().split()
    assert orders["sciflow"] == orders["snakemake"]


def test_priority_function_must_return_a_number(tmp_path):
    write(tmp_path, """
        rule a:
            output: "a.out"
            priority: lambda wildcards: "high"
            shell: "touch {output}"
    """)
    res = run_sciflow(tmp_path, "-n")
    assert res.returncode != 0
    assert "Snakefile:3:5" in res.stderr and "must be a number" in res.stderr, res.stderr
    assert "internal error" not in res.stderr


def test_priority_of_a_wrong_type_is_an_error(tmp_path, monkeypatch):
    path = write(tmp_path, """
        rule a:
            output: "a.out"
            priority: "high"
    """)
    with pytest.raises(RuleError, match="priority must be an integer, a float or a function"):
        load(path, monkeypatch)


# ------------------------------------------------------------------------------ params
PARAMS = """
    rule all:
        input: "s1.out"
    rule a:
        output: "{s}.out"
        params: [1, 2, 3], "z", x=["a_{s}", "b"], y=[4, 5]
        shell: "echo '{params[0]}|{params}|{params.x}|{params[1]}|{params[2]}|{params.y}' > {output}"
"""


@pytest.mark.slow
@pytest.mark.snakemake
def test_list_params_are_one_param_each_as_snakemake(tmp_path):
    outputs = {}
    for tool, runner in (("snakemake", run_snakemake), ("sciflow", run_sciflow)):
        work = tmp_path / tool
        work.mkdir()
        write(work, PARAMS)
        res = runner(work, "-c", "1")
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        outputs[tool] = (work / "s1.out").read_text()
    assert outputs["sciflow"] == outputs["snakemake"]


@pytest.mark.snakemake
def test_list_params_on_the_model_as_snakemake(tmp_path, monkeypatch):
    path = write(tmp_path, """
        rule a:
            output: "a.out"
            params: [1, 2, 3], x=[4, 5], y="q"
    """)
    theirs = snakemake_rules(path)["a"]["details"]
    rule = load(path, monkeypatch).rules["a"]
    assert list(rule.params) == theirs["params"] == [[1, 2, 3], [4, 5], "q"]
    assert rule.params.keys() == theirs["param_names"]
    assert rule.params.x == [4, 5]


# ------------------------------------------------------------------------------ outputs
def test_same_output_pattern_twice_is_an_error_at_the_output(tmp_path, monkeypatch):
    """Snakemake: 'Duplicate output file pattern in rule my_rule. First two duplicate for
    entries 0 and x.'"""
    path = write(tmp_path, """
        rule default:
            input:
                "out.txt"

        rule my_rule:
            output:
                "{name}.txt",
                x="{name}.txt",
            shell:
                "touch {output}"
    """)
    with pytest.raises(RuleError, match="duplicate output file pattern '{name}.txt' in rule "
                                        "'my_rule': entries 0 and x") as err:
        load(path, monkeypatch)
    assert (err.value.loc.path, err.value.loc.line) == ("Snakefile", 6)


@pytest.mark.slow
@pytest.mark.snakemake
def test_same_output_pattern_twice_fails_in_both_tools(tmp_path):
    for tool, runner in (("snakemake", run_snakemake), ("sciflow", run_sciflow)):
        work = tmp_path / tool
        work.mkdir()
        write(work, """
            rule my_rule:
                output: "a.txt", temp("a.txt")
                shell: "touch {output}"
        """)
        res = runner(work, "-n", "-c", "1")
        assert res.returncode != 0, (tool, res.stdout, res.stderr)
        assert "uplicate output file pattern" in res.stdout + res.stderr


# ------------------------------------------------------------------------------ checkpoints
def test_checkpoint_output_items_open_like_snakemake_files(tmp_path):
    """Snakemake's file objects have ``.open()``: input functions read a checkpoint's output
    with ``checkpoints.x.get(**wildcards).output[0].open()`` (its test_checkpoints)."""
    (tmp_path / "samples").mkdir()
    for s in "ab":
        (tmp_path / "samples" / f"{s}.txt").write_text("")
    write(tmp_path, """
        rule all:
            input: "aggregated/a.txt", "aggregated/b.txt"
        checkpoint somestep:
            input: "samples/{sample}.txt"
            output: "somestep/{sample}.txt"
            shell: "echo {wildcards.sample} > {output}"
        rule post:
            input: "somestep/{sample}.txt"
            output: "post/{sample}.txt"
            shell: "echo post > {output}"
        rule alt:
            input: "somestep/{sample}.txt"
            output: "alt/{sample}.txt"
            shell: "echo alt > {output}"
        def aggregate_input(wildcards):
            with checkpoints.somestep.get(**wildcards).output[0].open() as f:
                return "post/{sample}.txt" if f.read().strip() == "a" else "alt/{sample}.txt"
        rule aggregate:
            input: aggregate_input
            output: "aggregated/{sample}.txt"
            shell: "cp {input} {output}"
    """)
    res = run_sciflow(tmp_path, "-c", "1")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert (tmp_path / "aggregated" / "a.txt").read_text() == "post\n"
    assert (tmp_path / "aggregated" / "b.txt").read_text() == "alt\n"
