"""Two causes measured on published pipelines (benchmarks/COMPAT.md): a module's name is its
namespace once its rules are used (``m.samples``, ``m.final()``), and nested lists written in a
Snakefile's ``input:`` are flattened while an input function returning one is an error — each
as Snakemake 9 plans it (differential dry runs)."""
from __future__ import annotations

import pytest

from sciflow.errors import RuleError

from oracle import dry_run_counts

from .test_dag_compat import sciflow_counts, write_tree

MODULE = '''
SAMPLES = ["a", "b"]
def final():
    return [[f"out/{s}.txt" for s in SAMPLES], "out/all.txt"]
rule all:
    input: final()
rule one:
    output: "out/{s}.txt"
    shell: "touch {output}"
rule allfile:
    output: "out/all.txt"
    shell: "touch {output}"
'''

MAIN = '''
module m:
    snakefile: "mod/Snakefile"
use rule * from m as m_*
rule top:
    input: [m.final(), [["x/" + s + ".y"] for s in m.SAMPLES]]
    default_target: True
rule y:
    output: "x/{s}.y"
    shell: "touch {output}"
'''


@pytest.mark.snakemake
def test_module_namespace_and_nested_inputs_plan_as_snakemake(tmp_path):
    (tmp_path / "sm").mkdir()
    (tmp_path / "sf").mkdir()
    for root in (tmp_path / "sm", tmp_path / "sf"):
        write_tree(root, MAIN, {"mod/Snakefile": MODULE})
    expected = dry_run_counts(tmp_path / "sm", cores=4)
    assert expected == {"m_one": 2, "m_allfile": 1, "y": 2, "top": 1}
    assert sciflow_counts(tmp_path / "sf") == expected


def test_an_input_function_returning_nested_lists_is_an_error(tmp_path):
    write_tree(tmp_path, '''
        rule top:
            input: lambda wc: [["a.txt", "b.txt"], "c.txt"]
        rule make:
            output: "{x}.txt"
            shell: "touch {output}"
        ''')
    with pytest.raises(RuleError, match="an input function of rule top .* returned list"):
        sciflow_counts(tmp_path)


@pytest.mark.snakemake
def test_the_main_files_default_target_wins_over_a_modules(tmp_path):
    """The msisensor-pro test layout: the published workflow's ``rule all`` (marked
    ``default_target: True``) is used as a module, and the test Snakefile's own rule, marked
    later, is the default target — as Snakemake, where each mark overrides the one before."""
    module = '''
rule all:
    input: "a.txt"
    default_target: True
rule a:
    output: "a.txt"
    shell: "touch {output}"
'''
    main = '''
module w:
    snakefile: "mod/Snakefile"
use rule * from w
rule testing_all:
    input: rules.all.input, "b.txt"
    default_target: True
rule b:
    output: "b.txt"
    shell: "touch {output}"
'''
    for root in (tmp_path / "sm", tmp_path / "sf"):
        write_tree(root, main, {"mod/Snakefile": module})
    expected = dry_run_counts(tmp_path / "sm", cores=4)
    assert expected == {"a": 1, "b": 1, "testing_all": 1}
    assert sciflow_counts(tmp_path / "sf") == expected
