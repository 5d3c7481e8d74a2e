"""Differential tests: the jobs per rule of sciflow's DAG equal Snakemake's dry run.

Each case is a real Snakefile plus the files that exist before the run. Snakemake (the
oracle, ``.venv/bin/snakemake``) runs ``-n`` in a copy of the folder and its "Job stats"
table is parsed; sciflow loads the same file and counts the jobs of ``build_dag``. Where
some outputs already exist the case uses ``--forceall`` so Snakemake lists every job of its
DAG, which is what ``build_dag`` returns (the plan prunes later).
"""
from __future__ import annotations

import collections
import os
import pathlib
import textwrap

import pytest

from oracle import dry_run_counts, needs_snakemake, snakemake

pytestmark = pytest.mark.snakemake


CASES: dict[str, dict] = {
    "chain_expand_constraints": dict(
        snakefile='''
            SAMPLES = ["a", "b", "c1"]
            wildcard_constraints:
                s="[a-z0-9]+"
            rule all:
                input: expand("c/{s}.txt", s=SAMPLES), "n/12.num"
            rule first:
                input: "raw/{s}.in"
                output: "b/{s}.txt"
                shell: "cp {input} {output}"
            rule second:
                input: "b/{s}.txt"
                output: "c/{s}.txt"
                shell: "cp {input} {output}"
            rule digits:
                output: "n/{x}.num"
                wildcard_constraints: x="[0-9]+"
                shell: "touch {output}"
            rule letters:
                output: "n/{x}.num"
                wildcard_constraints: x="[a-z]+"
                shell: "touch {output}"
        ''',
        files=["raw/a.in", "raw/b.in", "raw/c1.in"]),
    "backtracking_and_ruleorder": dict(
        snakefile='''
            ruleorder: fast > slow
            rule all:
                input: "t/s1.txt", "t/s2.txt", "u/x.out", "special/only.txt"
            rule from_csv:
                input: "d/{s}.csv"
                output: "t/{s}.txt"
                shell: "cp {input} {output}"
            rule from_dat:
                input: "d/{s}.dat"
                output: "t/{s}.txt"
                shell: "cp {input} {output}"
            rule fast:
                input: "in/{n}.a"
                output: "u/{n}.out"
                shell: "touch {output}"
            rule slow:
                input: "in/{n}.b"
                output: "u/{n}.out"
                shell: "touch {output}"
            rule generic:
                output: "special/{name}.txt"
                shell: "touch {output}"
            rule only:
                output: "special/only.txt"
                shell: "touch {output}"
        ''',
        files=["d/s1.dat", "d/s2.csv", "in/x.b"]),
    "functions_unpack_params_multiext": dict(
        snakefile='''
            SAMPLES = {"a": ["r/a_1.fq", "r/a_2.fq"], "b": ["r/b_1.fq"]}
            def reads(wildcards):
                return SAMPLES[wildcards.s]
            def refs(wildcards):
                return {"ref": "ref.fa", "idx": f"idx/{wildcards.s}.bin"}
            rule all:
                input: expand("bam/{s}.bam", s=SAMPLES), expand("stats/{s}_{k}.txt", zip, s=["a", "b"], k=["1", "2"])
            rule index:
                input: "ref.fa"
                output: multiext("idx/{s}", ".bin", ".aux")
                shell: "touch {output}"
            rule map:
                input: reads, unpack(refs)
                output: "bam/{s}.bam"
                params: n=lambda wildcards, input: len(input), s="{s}"
                threads: lambda wildcards: 2
                log: "logs/map/{s}.log"
                shell: "touch {output} {log}"
            rule stats:
                input: lambda wc: f"bam/{wc.s}.bam", log="logs/map/{s}.log"
                output: "stats/{s}_{k}.txt"
                shell: "touch {output}"
        ''',
        files=["r/a_1.fq", "r/a_2.fq", "r/b_1.fq", "ref.fa"]),
    "existing_intermediates": dict(
        snakefile='''
            rule all:
                input: "made/a.txt", "made/b.txt", "given.txt"
            rule make:
                input: "src/{s}.txt"
                output: "made/{s}.txt"
                shell: "cp {input} {output}"
            rule src:
                output: "src/{s}.txt"
                shell: "touch {output}"
        ''',
        files=["made/a.txt", "given.txt", "src/b.txt"], forceall=True),
    "existing_file_with_unbuildable_producer": dict(
        snakefile='''
            rule all:
                input: "made/a.txt", "made/b.txt"
            rule make:
                input: "nowhere/{s}"
                output: "made/{s}.txt"
                shell: "cp {input} {output}"
            rule b:
                output: "nowhere/b"
                shell: "touch {output}"
        ''',
        files=["made/a.txt"], forceall=True),
    "repeated_wildcards_and_directory": dict(
        snakefile='''
            rule all:
                input: "pair/a_a.txt", "pair/a_b.txt", "out/d.done"
            rule same:
                output: "pair/{s}_{s}.txt"
                shell: "touch {output}"
            rule diff:
                input: "x/{s}{t}.in"
                output: "pair/{s}_{t}.txt"
                shell: "touch {output}"
            rule mkdir:
                output: directory("dirs/{n}")
                shell: "mkdir -p {output}"
            rule use_dir:
                input: "dirs/{n}"
                output: "out/{n}.done"
                shell: "touch {output}"
        ''',
        files=["x/ab.in"]),
    "pending_checkpoint": dict(
        snakefile='''
            checkpoint split:
                input: "in/{s}.txt"
                output: directory("split/{s}")
                shell: "mkdir -p {output}; touch {output}/1.txt {output}/2.txt"
            rule process:
                input: "split/{s}/{i}.txt"
                output: "proc/{s}/{i}.out"
                shell: "cp {input} {output}"
            def agg(wildcards):
                out = checkpoints.split.get(s=wildcards.s).output[0]
                ids = glob_wildcards(os.path.join(out, "{i}.txt")).i
                return expand("proc/{s}/{i}.out", s=wildcards.s, i=ids)
            rule aggregate:
                input: agg
                output: "agg/{s}.txt"
                shell: "cat {input} > {output}"
            rule all:
                input: "agg/a.txt", "agg/b.txt"
                default_target: True
        ''',
        files=["in/a.txt", "in/b.txt"]),
    "targets_rule_refs_named_lists": dict(
        snakefile='''
            rule all:
                input: "never/made.txt"
            rule pre:
                output: "pre/{x}.txt"
                shell: "touch {output}"
            rule use:
                input: many=expand("pre/{x}.txt", x=["1", "2", "3"]), one=rules.pre.output[0].format(x="9")
                output: "use/{y}.txt"
                params: mem=lambda wildcards, resources: resources.mem_mb
                resources: mem_mb=lambda wildcards, input, threads: 10 * len(input)
                shell: "touch {output}"
            rule final:
                input: lambda wc: [f"use/{v}.txt" for v in range(int(wc.n))]
                output: "final/{n}.txt"
                shell: "touch {output}"
        ''',
        files=[], targets=["final/3.txt", "pre/z.txt"]),
    "periodic_wildcards": dict(
        snakefile='''
            rule all:
                input: "a/k.txt"
            rule grow:
                input: "a/{s}_x.txt"
                output: "a/{s}.txt"
                shell: "cp {input} {output}"
            rule base:
                input: "b/{s}.txt"
                output: "a/{s}_x.txt"
                shell: "cp {input} {output}"
        ''',
        files=["b/k.txt"]),
    "checkpoint_already_run": dict(
        snakefile='''
            checkpoint split:
                input: "in/{s}.txt"
                output: directory("split/{s}")
                shell: "mkdir -p {output}; touch {output}/1.txt {output}/2.txt"
            rule process:
                input: "split/{s}/{i}.txt"
                output: "proc/{s}/{i}.out"
                shell: "cp {input} {output}"
            def agg(wildcards):
                out = checkpoints.split.get(s=wildcards.s).output[0]
                ids = glob_wildcards(os.path.join(out, "{i}.txt")).i
                return expand("proc/{s}/{i}.out", s=wildcards.s, i=ids)
            rule aggregate:
                input: agg
                output: "agg/{s}.txt"
                shell: "cat {input} > {output}"
            rule all:
                input: "agg/a.txt"
                default_target: True
        ''',
        files=["in/a.txt", "split/a/1.txt", "split/a/2.txt", "split/a/3.txt"],
        older=["in/a.txt"], plan=True),  # the DAG keeps the checkpoint job; the plan skips it
}


def _materialise(case: dict, where: pathlib.Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    (where / "Snakefile").write_text(textwrap.dedent(case["snakefile"]).lstrip())
    for name in case["files"]:
        p = where / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x\n")
    for name in case.get("older", ()):  # make inputs older than the outputs made from them
        os.utime(where / name, (1_000_000, 1_000_000))


def snakemake_counts(folder: pathlib.Path, targets=(), forceall=False) -> dict[str, int]:
    # targets first: ``--quiet`` takes a list and would swallow the names after it
    return dry_run_counts(folder, *targets, "--quiet", "rules", *(["-F"] if forceall else []),
                          timeout=120)




def sciflow_counts(folder: pathlib.Path, targets=(), plan=False) -> dict[str, int]:
    from sciflow.dag import build_dag
    from sciflow.parse import load_workflow

    old = os.getcwd()
    os.chdir(folder)
    try:
        dag = build_dag(load_workflow("Snakefile"), list(targets))
        if plan:  # compare what runs, not the whole DAG
            from sciflow.plan import make_plan
            return make_plan(dag, None).counts_by_rule()
        return dict(collections.Counter(j.rule.name for j in dag.jobs))
    finally:
        os.chdir(old)


@needs_snakemake
@pytest.mark.parametrize("name", sorted(CASES))
def test_job_counts_match_snakemake(name, tmp_path):
    case = CASES[name]
    ours_dir, theirs_dir = tmp_path / "sciflow", tmp_path / "snakemake"
    _materialise(case, ours_dir)
    _materialise(case, theirs_dir)
    expected = snakemake_counts(theirs_dir, case.get("targets", ()), case.get("forceall", False))
    assert sciflow_counts(ours_dir, case.get("targets", ()), case.get("plan", False)) == expected


# ------------------------------------------------------------------ both must refuse
FAILING: dict[str, dict] = {
    "ambiguous": dict(
        snakefile='''
            rule all:
                input: "t/x.txt"
            rule one:
                output: "t/{s}.txt"
                shell: "touch {output}"
            rule two:
                output: "t/{s}.txt"
                shell: "touch {output}"
        ''', files=[], error="AmbiguousRuleError", words=["one", "two", "t/x.txt"]),
    "cycle": dict(
        snakefile='''
            rule all:
                input: "a/x"
            rule a:
                input: "b/{s}"
                output: "a/{s}"
                shell: "touch {output}"
            rule b:
                input: "a/{s}"
                output: "b/{s}"
                shell: "touch {output}"
        ''', files=[], error="CyclicDependencyError", words=["a (Snakefile:3) -> b (Snakefile:7) -> a"]),
    "missing_input": dict(
        snakefile='''
            rule all:
                input: "counts/a.tsv", "counts/c.tsv"
            rule count:
                input: "data/{sample}.txt"
                output: "counts/{sample}.tsv"
                shell: "wc -l {input} > {output}"
        ''', files=["data/a.txt"], error="MissingInputError", words=["data/c.txt", "count"]),
    "unknown_target": dict(
        snakefile='''
            rule make:
                output: "results/{sample}.txt"
                shell: "touch {output}"
        ''', files=[], targets=["result/a.txt"], error="UnknownTargetError",
        words=["make (Snakefile:1)"]),
}


@needs_snakemake
@pytest.mark.parametrize("name", sorted(FAILING))
def test_both_refuse_the_workflow(name, tmp_path):
    from sciflow.dag import build_dag
    from sciflow.errors import SciflowError
    from sciflow.parse import load_workflow

    case = FAILING[name]
    ours_dir, theirs_dir = tmp_path / "sciflow", tmp_path / "snakemake"
    _materialise(case, ours_dir)
    _materialise(case, theirs_dir)
    proc = snakemake(theirs_dir, "-n", "--cores", "1", *case.get("targets", ()), check=False,
                     timeout=120)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    old = os.getcwd()
    os.chdir(ours_dir)
    try:
        with pytest.raises(SciflowError) as err:
            build_dag(load_workflow("Snakefile"), case.get("targets", []))
    finally:
        os.chdir(old)
    assert type(err.value).__name__ == case["error"]
    text = err.value.format()
    for word in case["words"]:
        assert word in text
