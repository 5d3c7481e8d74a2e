"""Issue 7, published pipelines: planning constructs met in snakemake-workflows pipelines
(benchmarks/COMPAT.md), each written here as a small Snakefile of our own and dry-run by
Snakemake 9 (the oracle: its "Job stats") and by sciflow's engine (jobs per rule, wildcards).
"""
from __future__ import annotations

import pathlib
import re

import helpers
from oracle import dry_run_counts, snakemake

from sciflow.engine import RunOptions, run


def write_tree(root: pathlib.Path, snakefile: str, files: dict[str, str] | None = None
               ) -> pathlib.Path:
    return helpers.write_tree(root, files or {}, snakefile=snakefile, dedent=False)


def plan_as_snakemake(ours: pathlib.Path, theirs: pathlib.Path | None = None):
    """sciflow's dry-run plan of ``ours``, checked to run as many jobs per rule as Snakemake's
    dry run of ``theirs`` (the same folder by default)."""
    plan = run(RunOptions(directory=str(ours), dry_run=True)).plan
    assert dict(plan.counts_by_rule()) == dry_run_counts(theirs or ours, cores=4)
    return plan


# rna-seq-kallisto-sleuth: rule all asks for "results/spia/x/" (a directory, trailing slash)
TRAILING_SLASH = '''
    rule all:
        input: "out/d_x/", lambda w: ["out/d_y/"]

    rule mk:
        input: "in.{name}.txt"
        output: directory("out/d_{name}/")
        shell: "mkdir -p {output}"

    rule src:
        output: "in.{name}.txt"
        shell: "touch {output}"
'''


def test_directory_with_trailing_slash_binds_the_wildcard_without_it(tmp_path):
    root = write_tree(tmp_path, TRAILING_SLASH)
    plan = plan_as_snakemake(root)
    made = sorted(str(j.input[0]) for j in plan.jobs if j.rule.name == "mk")
    assert made == ["in.x.txt", "in.y.txt"]
    assert sorted(str(o) for j in plan.jobs if j.rule.name == "mk" for o in j.output) == \
        ["out/d_x", "out/d_y"]


# cyrcular-calling: the scatter output escapes the rule's own wildcard ({{sample}}), which
# scatter.NAME() turns into {sample} (it expands), so the log's {sample} is the same wildcard
SCATTER_ESCAPED = '''
    scattergather:
        split=3,

    rule all:
        input: expand("out/{sample}.gathered.txt", sample=["a", "b"])

    rule scatter_it:
        input: "in/{sample}.txt"
        output: scatter.split("parts/{{sample}}.{scatteritem}.txt")
        log: "logs/scatter/{sample}.log"
        benchmark: "bench/scatter/{sample}.txt"
        shell: "for f in {output}; do echo x > $f; done; touch {log}"

    rule gather_it:
        input: gather.split("parts/{{sample}}.{scatteritem}.txt")
        output: "out/{sample}.gathered.txt"
        shell: "cat {input} > {output}"

    rule src:
        output: "in/{sample}.txt"
        shell: "touch {output}"
'''


def test_scatter_pattern_with_escaped_wildcard_becomes_the_rules_wildcard(tmp_path):
    root = write_tree(tmp_path, SCATTER_ESCAPED)
    plan = plan_as_snakemake(root)
    outputs = sorted(str(o) for j in plan.jobs if j.rule.name == "scatter_it"
                     and j.wildcards["sample"] == "a" for o in j.output)
    assert outputs == [f"parts/a.{i}-of-3.txt" for i in (1, 2, 3)]


def test_sciflow_brings_the_snakemake_dependencies_snakefiles_import():
    """chipseq's common.smk does ``from smart_open import open``: it works under Snakemake
    because Snakemake depends on smart-open, so a sciflow install must bring it too."""
    from importlib.metadata import requires

    declared = {re.split(r"[<>=!~ ;\\[]", r, maxsplit=1)[0].lower().replace("_", "-")
                for r in requires("sciflow") or () if "extra ==" not in r}
    assert "smart-open" in declared


# cyrcular-calling: a params function reads the job's input (a table made upstream); Snakemake
# evaluates params only when they are needed, so its dry run plans and its run sees the file
PARAMS_READ_INPUT = '''
    rule all:
        input: "out/x.txt"

    rule table:
        output: "tables/{g}.tsv"
        shell: "printf 'id\\\\n7\\\\n9\\\\n' > {output}"

    def ids(wildcards, input):
        with open(input.table) as fh:
            return ",".join(line.strip() for line in fh.readlines()[1:])

    rule use:
        input: table="tables/{g}.tsv"
        output: "out/{g}.txt"
        params: ids=ids, plain="p"
        shell: "echo {params.ids} {params.plain} > {output}"
'''


def test_params_function_reading_inputs_waits_until_they_exist(tmp_path):
    ours = write_tree(tmp_path / "sciflow", PARAMS_READ_INPUT)
    theirs = write_tree(tmp_path / "smk", PARAMS_READ_INPUT)
    plan = plan_as_snakemake(ours, theirs)
    use = next(j for j in plan.jobs if j.rule.name == "use")
    assert list(use.params) == ["<TBD>", "p"]  # as Snakemake's dry run shows unknown values
    assert run(RunOptions(directory=str(ours), cores=2, provenance=False)).ok
    snakemake(theirs, "-c2")
    assert (ours / "out/x.txt").read_text() == (theirs / "out/x.txt").read_text() == "7,9 p\n"


# cyrcular-calling: `output: index="genome.fa.fai"` read as rules.genome_faidx.output.index
NAMED_INDEX = '''
    rule all:
        input: "use.txt"

    rule faidx:
        output: index="genome.fa.fai", sort="sorted.txt"
        shell: "echo i > {output.index}; echo s > {output.sort}"

    rule use:
        input: idx=rules.faidx.output.index, srt=rules.faidx.output.sort
        output: "use.txt"
        shell: "cat {input.idx} {input.srt} > {output}"
'''


def test_items_named_index_and_sort_are_the_items_not_list_methods(tmp_path):
    ours = write_tree(tmp_path / "sciflow", NAMED_INDEX)
    theirs = write_tree(tmp_path / "smk", NAMED_INDEX)
    plan_as_snakemake(ours, theirs)
    assert run(RunOptions(directory=str(ours), cores=1, provenance=False)).ok
    snakemake(theirs, "-c1")
    assert (ours / "use.txt").read_text() == (theirs / "use.txt").read_text() == "i\ns\n"


# cyrcular-calling: an input function sets an attribute on its wildcards for a helper
WILDCARDS_ATTRIBUTE = '''
    GROUPS = {"a": "g1", "b": "g2"}

    def scenario(wildcards):
        return "x" if wildcards.group == "g1" else "y"

    def candidates(wildcards):
        wildcards.group = GROUPS[wildcards.sample]
        return f"cand/{wildcards.group}.{scenario(wildcards)}.txt"

    rule all:
        input: expand("out/{s}.txt", s=GROUPS)

    rule use:
        input: candidates
        output: "out/{sample}.txt"
        shell: "cp {input} {output}"

    rule cand:
        output: "cand/{g}.{x}.txt"
        shell: "echo {wildcards.g} > {output}"
'''


def test_input_function_may_set_attributes_on_its_wildcards(tmp_path):
    root = write_tree(tmp_path, WILDCARDS_ATTRIBUTE)
    plan = plan_as_snakemake(root)
    made = sorted(str(o) for j in plan.jobs if j.rule.name == "cand" for o in j.output)
    assert made == ["cand/g1.x.txt", "cand/g2.y.txt"]
