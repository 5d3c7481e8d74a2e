"""build_dag on workflows built directly with WorkflowBuilder (hand-derived expectations,
each following a Snakemake rule of the documentation; the Snakefile-level differential tests
against Snakemake itself are in test_snakemake_diff.py)."""
from __future__ import annotations

import pytest

from sciflow.dag import build_dag
from sciflow.errors import (AmbiguousRuleError, CyclicDependencyError, ErrorGroup,
                            MissingInputError, RuleError, UnknownTargetError, WildcardError)
from sciflow.model import IOFile, flag

from .conftest import Flow


def summary(dag):
    return sorted((j.rule.name, tuple(sorted(j.wildcards.items()))) for j in dag.jobs)


def touch(path):
    import pathlib
    p = pathlib.Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("x")


# ------------------------------------------------------------------ basics
def test_chain_topological_ids_and_navigation(in_tmp):
    touch("raw/a.in"), touch("raw/b.in")
    f = (Flow().rule("all", 1, input=["c/a.txt", "c/b.txt"])
         .rule("first", 3, input="raw/{s}.in", output="b/{s}.txt")
         .rule("second", 7, input="b/{s}.txt", output="c/{s}.txt"))
    dag = build_dag(f.wf)
    jobs = dag.jobs
    assert [j.jobid for j in jobs] == list(range(1, 6))
    pos = {j: i for i, j in enumerate(jobs)}
    for j in jobs:
        for d in dag.dependencies(j):
            assert pos[d] < pos[j]
            assert j in dag.dependents(d)
    assert summary(dag) == [("all", ()), ("first", (("s", "a"),)), ("first", (("s", "b"),)),
                            ("second", (("s", "a"),)), ("second", (("s", "b"),))]
    second_a = dag.producer("c/a.txt")
    assert second_a.rule.name == "second" and list(second_a.input) == ["b/a.txt"]
    assert dag.producer("raw/a.in") is None
    assert [j.rule.name for j in dag.targets] == ["all"]
    assert not dag.pending_checkpoints


def test_file_target_and_rule_target(in_tmp):
    touch("in.txt")
    f = (Flow().rule("all", 1, input="out/x.txt")
         .rule("make", 3, input="in.txt", output="out/{n}.txt"))
    dag = build_dag(f.wf, ["out/y.txt", "./out/z.txt"])
    assert summary(dag) == [("make", (("n", "y"),)), ("make", (("n", "z"),))]
    assert build_dag(f.wf, ["make"] if False else ["all"]).jobs[-1].rule.name == "all"


def test_target_rule_with_wildcards_is_an_error(in_tmp):
    f = Flow().rule("make", 3, output="out/{n}.txt")
    with pytest.raises(WildcardError) as err:
        build_dag(f.wf)
    assert "make (Snakefile:3)" in str(err.value) and err.value.loc.line == 3


def test_one_job_per_rule_and_wildcards(in_tmp):
    f = (Flow().rule("all", 1, input=["p/a.txt", "p/a.log2", "q/a.txt"])
         .rule("pair", 3, output=["p/{s}.txt", "p/{s}.log2"])
         .rule("use", 6, input=["p/{s}.txt", "p/{s}.log2"], output="q/{s}.txt"))
    dag = build_dag(f.wf)
    assert summary(dag) == [("all", ()), ("pair", (("s", "a"),)), ("use", (("s", "a"),))]
    pair = dag.producer("p/a.log2")
    assert dag.producer("p/a.txt") is pair
    assert dag.dependencies(dag.targets[0]).count(pair) == 1


# ------------------------------------------------------------------ wildcard matching
def test_global_rule_and_inline_constraints(in_tmp):
    f = (Flow().rule("all", 1, input=["n/12.txt", "w/ab.txt", "i/7.txt"])
         .rule("num", 3, output="n/{x}.txt", wildcard_constraints={"x": "[0-9]+"})
         .rule("num_other", 4, output="n/{x}.txt", wildcard_constraints={"x": "[a-z]+"})
         .rule("word", 5, output="w/{y}.txt")
         .rule("word_digits", 6, output="w/{y}.txt")
         .rule("inline", 7, output="i/{z,[0-9]}.txt")
         .rule("inline_other", 8, output="i/{z,[a-z]}.txt"))
    f.wf.wildcard_constraints["y"] = "[a-z]+"
    f.wf.rules["word_digits"].wildcard_constraints = {"y": "[0-9]+"}  # rule beats global
    dag = build_dag(f.wf)
    assert {j.rule.name for j in dag.jobs} == {"all", "num", "word", "inline"}


def test_repeated_wildcard_must_match_equal_text(in_tmp):
    touch("x/x.in")
    f = (Flow().rule("all", 1, input=["pair/a_a.txt"])
         .rule("same", 3, output="pair/{s}_{s}.txt")
         .rule("diff", 4, output="pair/{s}_{t}.txt", input="{s}/{t}.in"))
    # "pair/a_a.txt" matches both rules; "diff" cannot run (a/a.in is missing): "same" it is
    dag = build_dag(f.wf)
    assert {j.rule.name for j in dag.jobs} == {"all", "same"}
    assert dag.producer("pair/a_a.txt").wildcards.s == "a"
    # a_b only matches "diff"
    with pytest.raises(MissingInputError):
        build_dag(f.wf, ["pair/a_b.txt"])
    with pytest.raises(AmbiguousRuleError):  # both can run for x_x (x/x.in exists)
        build_dag(f.wf, ["pair/x_x.txt"])


def test_shortest_wildcard_values_win_between_products(in_tmp):
    f = Flow().rule("r", 1, output=["{a}.txt", "{a}.txt.bak"])
    job = build_dag(f.wf, ["z.txt.bak"]).jobs[0]
    assert job.wildcards.a == "z"


# ------------------------------------------------------------------ choosing the producer
def test_backtracking_past_rule_whose_input_cannot_be_made(in_tmp):
    touch("d/s1.dat")
    f = (Flow().rule("all", 1, input="t/s1.txt")
         .rule("from_csv", 3, input="d/{s}.csv", output="t/{s}.txt")
         .rule("from_dat", 6, input="d/{s}.dat", output="t/{s}.txt"))
    dag = build_dag(f.wf)
    assert dag.producer("t/s1.txt").rule.name == "from_dat"


def test_backtracking_several_levels_deep(in_tmp):
    touch("src/a.y")
    f = (Flow().rule("all", 1, input="top/a")
         .rule("viax", 2, input="mid/{s}.x", output="top/{s}")
         .rule("viay", 3, input="mid/{s}.y", output="top/{s}")
         .rule("x", 4, input="src/{s}.x", output="mid/{s}.x")
         .rule("y", 5, input="src/{s}.y", output="mid/{s}.y"))
    dag = build_dag(f.wf)
    assert {j.rule.name for j in dag.jobs} == {"all", "viay", "y"}


def test_ambiguity_error_names_both_rules_with_lines_and_hint(in_tmp):
    f = (Flow().rule("all", 1, input="t/s1.txt")
         .rule("one", 3, output="t/{s}.txt")
         .rule("two", 6, output="t/{s}.txt"))
    with pytest.raises(AmbiguousRuleError) as err:
        build_dag(f.wf)
    text = err.value.format()
    assert "one (Snakefile:3)" in text and "two (Snakefile:6)" in text
    assert "t/s1.txt" in text
    assert "Consider starting rule output with a unique prefix, constrain your wildcards, or " \
           "use the ruleorder directive." in text


def test_ruleorder_resolves_ambiguity_later_clause_wins(in_tmp):
    f = (Flow().rule("all", 1, input="t/s1.txt")
         .rule("one", 3, output="t/{s}.txt")
         .rule("two", 6, output="t/{s}.txt")
         .ruleorder("two", "one"))
    assert build_dag(f.wf).producer("t/s1.txt").rule.name == "two"
    f.ruleorder("one", "two")  # a later clause overrides an earlier one (Snakemake)
    assert build_dag(f.wf).producer("t/s1.txt").rule.name == "one"


def test_ruleorder_falls_back_when_preferred_rule_cannot_run(in_tmp):
    touch("in/s1.b")
    f = (Flow().rule("all", 1, input="t/s1.txt")
         .rule("one", 3, input="in/{s}.a", output="t/{s}.txt")
         .rule("two", 6, input="in/{s}.b", output="t/{s}.txt")
         .ruleorder("one", "two"))
    assert build_dag(f.wf).producer("t/s1.txt").rule.name == "two"


def test_rule_without_wildcards_wins(in_tmp):
    f = (Flow().rule("all", 1, input="t/special.txt")
         .rule("generic", 3, output="t/{s}.txt")
         .rule("special", 6, output="t/special.txt"))
    assert build_dag(f.wf).producer("t/special.txt").rule.name == "special"


# ------------------------------------------------------------------ errors
def test_cycle_prints_rule_chain_with_locations(in_tmp):
    f = (Flow().rule("all", 1, input="a/x")
         .rule("a", 3, input="b/{s}", output="a/{s}")
         .rule("b", 9, input="a/{s}", output="b/{s}"))
    with pytest.raises(CyclicDependencyError) as err:
        build_dag(f.wf)
    assert "a (Snakefile:3) -> b (Snakefile:9) -> a" in str(err.value)


def test_self_cycle(in_tmp):
    f = Flow().rule("all", 1, input="x.txt").rule("loop", 2, input="x.txt", output="x.txt")
    with pytest.raises(CyclicDependencyError) as err:
        build_dag(f.wf)
    assert "loop (Snakefile:2) -> loop" in str(err.value)


def test_missing_input_names_file_rule_and_job(in_tmp):
    touch("data/a.txt")
    f = (Flow().rule("all", 1, input=["counts/a.tsv", "counts/c.tsv"])
         .rule("count", 3, input="data/{sample}.txt", output="counts/{sample}.tsv"))
    with pytest.raises(MissingInputError) as err:
        build_dag(f.wf)
    e = err.value
    assert e.loc.path == "Snakefile" and e.loc.line == 3
    assert "data/c.txt" in e.message and "count (Snakefile:3)" in e.message
    assert "sample=c" in e.message and e.files == ["data/c.txt"]


def test_independent_missing_inputs_are_collected(in_tmp):
    f = (Flow().rule("all", 1, input=["x/a.out", "y/b.out"])
         .rule("rx", 3, input="x/{s}.in", output="x/{s}.out")
         .rule("ry", 5, input="y/{s}.in", output="y/{s}.out"))
    with pytest.raises(ErrorGroup) as err:
        build_dag(f.wf)
    texts = [e.message for e in err.value.errors]
    assert len(texts) == 2 and any("x/a.in" in t for t in texts) and any("y/b.in" in t for t in texts)
    assert "2 errors" in err.value.format()


def test_unknown_target_suggests_similar_outputs(in_tmp):
    f = (Flow().rule("all", 1, input="results/a.txt")
         .rule("make", 3, output="results/{sample}.txt")
         .rule("other", 5, output="plots/{x}.png"))
    with pytest.raises(UnknownTargetError) as err:
        build_dag(f.wf, ["result/a.txt"])
    assert "result/a.txt" in str(err.value)
    assert "make (Snakefile:3): results/{sample}.txt" in err.value.hint
    assert err.value.suggestions[0] == "make"


def test_existing_file_with_producer_is_linked_and_without_is_a_leaf(in_tmp):
    touch("made/a.txt"), touch("given.txt")
    f = (Flow().rule("all", 1, input=["made/a.txt", "given.txt"])
         .rule("make", 3, output="made/{s}.txt"))
    dag = build_dag(f.wf)
    assert dag.producer("made/a.txt").rule.name == "make"
    assert [d.rule.name for d in dag.dependencies(dag.targets[0])] == ["make"]


def test_existing_file_whose_producer_cannot_run_is_used_as_is(in_tmp):
    touch("made/a.txt")
    f = (Flow().rule("all", 1, input="made/a.txt")
         .rule("make", 3, input="nowhere/{s}", output="made/{s}.txt"))
    dag = build_dag(f.wf)
    assert [j.rule.name for j in dag.jobs] == ["all"]


# ------------------------------------------------------------------ job contents
def test_input_functions_unpack_params_threads_resources(in_tmp):
    for p in ("r/a_1.fq", "r/a_2.fq", "ref.fa", "idx/a.bin"):
        touch(p)
    from sciflow.model import Unpack

    def named_inputs(wildcards):
        return {"ref": "ref.fa", "index": f"idx/{wildcards.s}.bin"}

    f = (Flow().rule("all", 1, input="out/a.bam")
         .rule("map", 3,
               input=((lambda wc: [f"r/{wc.s}_1.fq", "r/{s}_2.fq"], Unpack(named_inputs)), {}),
               output="out/{s}.bam",
               params=((), {"sample": "{s}", "n": lambda wildcards, input: len(input),
                            "outname": lambda wildcards, output, threads: f"{output[0]}:{threads}",
                            "fixed": 3}),
               threads=lambda wildcards: 4,
               resources={"mem_mb": lambda wildcards, input, threads: 100 * threads,
                          "disk": 5}))
    job = build_dag(f.wf).producer("out/a.bam")
    assert list(job.input) == ["r/a_1.fq", "r/a_2.fq", "ref.fa", "idx/a.bin"]
    assert job.input.ref == "ref.fa" and job.input["index"] == "idx/a.bin"
    assert job.params.sample == "a" and job.params.n == 4 and job.params.fixed == 3
    assert job.params.outname == "out/a.bam:4"
    assert job.threads == 4 and job.resources == {"mem_mb": 400, "disk": 5}


def test_unpack_list_and_named_input_lists(in_tmp):
    for p in ("a1", "a2", "b1"):
        touch(p)
    from sciflow.model import Unpack
    f = (Flow().rule("all", 1, input="o")
         .rule("r", 2, input=((Unpack(lambda wc: ["a1", "a2"]),), {"more": ["b1"]}), output="o"))
    job = build_dag(f.wf).producer("o")
    assert list(job.input) == ["a1", "a2", "b1"] and job.input.more == ["b1"]


def test_input_function_error_names_rule_and_wildcards(in_tmp):
    f = (Flow().rule("all", 1, input="o/a")
         .rule("r", 2, input=lambda wc: {"k": 1}["missing"], output="o/{s}"))
    with pytest.raises(RuleError) as err:
        build_dag(f.wf)
    assert "r (Snakefile:2)" in str(err.value) and "KeyError" in str(err.value)
    assert "s=a" in str(err.value)


def test_expand_multiext_and_flags_carried(in_tmp):
    from sciflow.wildcards import expand, multiext
    touch("in.txt")
    f = (Flow().rule("all", 1, input=expand("res/{s}.bam", s=["a", "b"]))
         .rule("make", 3, input=flag("in.txt", "ancient"),
               output=(tuple(flag(multiext("res/{s}", ".bam", ".bai"), "temp")),
                       {"d": flag("dirs/{s}", "directory"), "p": flag("keep/{s}", "protected")}),
               log="logs/{s}.log"))
    dag = build_dag(f.wf)
    job = dag.producer("res/a.bam")
    assert list(job.output) == ["res/a.bam", "res/a.bai", "dirs/a", "keep/a"]
    assert all(isinstance(o, IOFile) for o in job.output)
    assert job.output[0].is_flagged("temp") and job.output[1].is_flagged("temp")
    assert job.output.d.is_flagged("directory") and job.output.p.is_flagged("protected")
    assert job.input[0].is_flagged("ancient")
    assert list(job.log) == ["logs/a.log"]
    assert dag.producer("logs/b.log").wildcards.s == "b"  # a log is a product, as in Snakemake
    assert len(dag.jobs) == 3


def test_flagged_input_function(in_tmp):
    touch("x/a")
    f = (Flow().rule("all", 1, input="o/a")
         .rule("r", 2, input=flag(lambda wc: f"x/{wc.s}", "ancient"), output="o/{s}"))
    job = build_dag(f.wf).producer("o/a")
    assert job.input[0] == "x/a" and job.input[0].is_flagged("ancient")


def test_params_with_unknown_wildcard_is_a_located_error(in_tmp):
    f = (Flow().rule("all", 1, input="o/a")
         .rule("r", 2, output="o/{s}", params=((), {"p": "{nope}"})))
    with pytest.raises(WildcardError) as err:
        build_dag(f.wf)
    assert "nope" in str(err.value) and err.value.loc.line == 2


def test_deep_chain_needs_no_recursion(in_tmp):
    depth = 3000
    f = Flow().rule("all", 1, input=f"s/{depth}")
    f.rule("step", 2, input=lambda wc: [f"s/{int(wc.i) - 1}"] if int(wc.i) > 0 else [],
           output="s/{i}")
    dag = build_dag(f.wf)
    assert len(dag.jobs) == depth + 2


def test_periodic_wildcard_stops_endless_self_feeding(in_tmp):
    # a/k.txt <- a/k_x.txt <- a/k_x_x.txt <- ... : Snakemake's PeriodicWildcardError
    f = (Flow().rule("all", 1, input="a/k.txt")
         .rule("grow", 3, input="a/{s}_x.txt", output="a/{s}.txt"))
    with pytest.raises(WildcardError) as err:
        build_dag(f.wf)
    assert "periodically repeated" in str(err.value) and "grow (Snakefile:3)" in str(err.value)


def test_periodic_wildcard_candidate_is_skipped_when_file_exists(in_tmp):
    touch("b/k.txt")
    f = (Flow().rule("all", 1, input="a/k.txt")
         .rule("grow", 3, input="a/{s}_x.txt", output="a/{s}.txt")
         .rule("base", 5, input="b/{s}.txt", output="a/{s}_x.txt"))
    # a/k.txt <- grow(k) <- a/k_x.txt: candidates grow(k_x) and base(k); base runs, so the
    # ambiguity-free choice is found without descending forever
    dag = build_dag(f.wf)
    assert dag.producer("a/k_x.txt").rule.name == "base"


def test_growing_prefix_recursion_ends_as_snakemake_does(in_tmp):
    # b/q.txt <- b/pre_q.txt <- b/pre_pre_q.txt ...: "plain" can make every one of them,
    # so once paths become impossible (> 255 bytes per name) "grow" stops and the two
    # rules are ambiguous, the error Snakemake reports after its recursion limit
    f = (Flow().rule("all", 1, input="b/q.txt")
         .rule("plain", 3, output="b/{s}.txt")
         .rule("grow", 5, input="b/pre_{s}.txt", output="b/{s}.txt"))
    with pytest.raises(AmbiguousRuleError) as err:
        build_dag(f.wf)
    assert "plain (Snakefile:3)" in str(err.value) and "grow (Snakefile:5)" in str(err.value)
