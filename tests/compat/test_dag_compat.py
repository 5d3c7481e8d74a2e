"""Issue 7, DAG and planning side: causes found by replaying Snakemake's own test cases
(benchmarks/snakemake-suite-differences.md), each checked against Snakemake 9 as the oracle.

Differential: the same folder is dry-run by Snakemake (its "Job stats" table) and by sciflow's
engine (the plan's jobs per rule), and, where a run shows more, run by both and every file
each left behind is compared.
"""
from __future__ import annotations

import os
import pathlib

import pytest

from helpers import files_below

import helpers
from oracle import dry_run_counts, snakemake

from sciflow.engine import RunOptions, run
from sciflow.errors import RuleError, SciflowError



def write_tree(root: pathlib.Path, snakefile: str, files: dict[str, str] | None = None
               ) -> pathlib.Path:
    return helpers.write_tree(root, files or {}, snakefile=snakefile, dedent=False)


def sciflow_counts(cwd: pathlib.Path, **options) -> dict[str, int]:
    summary = run(RunOptions(directory=str(cwd), dry_run=True, **options))
    return dict(summary.plan.counts_by_rule())


tree = files_below


def both_run(tmp_path: pathlib.Path, snakefile: str, files: dict[str, str] | None = None,
             cores: int = 4) -> tuple[dict[str, str], dict[str, str]]:
    """Run the workflow with Snakemake and with sciflow in two copies; their files."""
    theirs = write_tree(tmp_path / "snakemake", snakefile, files)
    ours = write_tree(tmp_path / "sciflow", snakefile, files)
    snakemake(theirs, "--cores", "4")
    summary = run(RunOptions(directory=str(ours), cores=cores, provenance=False))
    assert summary.ok
    return tree(theirs), tree(ours)


# ------------------------------------------------------------------------------ cases
LOG_INPUT = '''
    rule all:
        input: "m/x.log", "test.a.txt"

    rule make:
        output: "m/{a}.txt"
        log: "m/{a}.log"
        shell: "echo made {wildcards.a} > {output}; echo log {wildcards.a} > {log}"

    rule a:
        output: "unused.{sample}.txt"
        log: "logs/{sample}.txt"
        shell: "echo {wildcards.sample} > {log}; touch {output}"

    rule b:
        input: "logs/{sample}.txt"
        output: "test.{sample}.txt"
        shell: "cp {input} {output}"
'''

BENCHMARK_INPUT = '''
    rule all:
        input: "bm/q.tsv"

    rule timed:
        output: "bm/{a}.out"
        benchmark: "bm/{a}.tsv"
        shell: "touch {output}"
'''

RULE_DEPENDENCY = '''
    rule all:
        input: "x.out"

    rule a:
        output: "{s}.in"
        shell: "echo a > {output}"

    rule b:
        input: rules.a.output
        output: "{s}.mid"
        shell: "cp {input} {output}; echo b >> {output}"

    rule c:
        input: "{s}.in"
        output: "{s}.mid"
        shell: "exit 1"

    rule d:
        input: rules.b.output
        output: "{s}.out"
        shell: "cp {input} {output}; echo d >> {output}"
'''

# A resource function of the input sizes: Snakemake leaves it <TBD> while the inputs do not
# exist and evaluates it just before the job runs.
SIZED_RESOURCES = '''
    import os

    rule all:
        input: "results/bar.txt"

    rule foo:
        output: "results/foo.txt"
        shell: "echo hello > {output}"

    def exact_size(wildcards):
        assert os.path.isfile("results/foo.txt"), "evaluated before the input exists"
        return os.path.getsize("results/foo.txt")

    rule bar:
        input: "results/foo.txt"
        output: "results/bar.txt"
        resources:
            mem_mb=lambda wildcards, input, attempt: int(input.size_mb) + 100 * attempt,
            size=exact_size
        shell: "echo {resources.size} {resources.mem_mb} > {output}"
'''

FLOAT_THREADS = '''
    rule all:
        input: "three.txt", "one.txt"

    rule three:
        output: "three.txt"
        threads: 2.6
        shell: "echo {threads} > {output}"

    rule one:
        output: "one.txt"
        threads: lambda wildcards: 1.4
        shell: "echo {threads} > {output}"
'''

CHECKPOINT_OPEN = '''
    rule all:
        input: "aggregated/a.txt", "aggregated/b.txt"

    checkpoint decide:
        output: "decided/{sample}.txt"
        shell: "echo {wildcards.sample} > {output}"

    rule post:
        output: "post/{sample}.txt"
        shell: "echo post > {output}"

    rule alt:
        output: "alt/{sample}.txt"
        shell: "echo alt > {output}"

    def choose(wildcards):
        with checkpoints.decide.get(**wildcards).output[0].open() as f:
            return "post/{sample}.txt" if f.read().strip() == "a" else "alt/{sample}.txt"

    rule aggregate:
        input: choose
        output: "aggregated/{sample}.txt"
        shell: "cp {input} {output}"
'''

GROUPID_INPUT = '''
    rule all:
        input: expand("bar{i}.txt", i=range(3))

    rule grouplocal:
        output: "foo.{groupid}.txt"
        group: "foo"
        shell: "echo {wildcards.groupid} > {output}"

    def get_input(wildcards, groupid):
        return f"foo.{groupid}.txt"

    rule consumer:
        input: get_input
        output: "bar{i}.txt"
        group: "foo"
        shell: "cp {input} {output}"
'''

# threads and resources evaluated per attempt: 1 100, 2 200, 3 300, then the job succeeds
PER_ATTEMPT = '''
    rule all:
        input: "out.txt"

    rule a:
        output: "out.txt"
        threads: lambda wildcards, attempt: attempt
        resources: mem_mb=lambda wildcards, attempt: 100 * attempt
        retries: 3
        shell: "echo {threads} {resources.mem_mb} >> attempts.txt; test {threads} -ge 3 && echo ok > {output}"
'''

ANCIENT_CLI = '''
    rule all:
        input: "2", "4"

    rule A:
        input: "1"
        output: "2"
        shell: "cat {input} > {output}"

    rule B:
        input: x="3"
        output: "4"
        shell: "cat {input} > {output}"
'''


def _inputs_newer(wd: pathlib.Path) -> None:
    for name, when in (("2", 1000), ("4", 1000), ("1", 2000), ("3", 2000)):
        (wd / name).write_text(name + "\n")
        os.utime(wd / name, (when, when))


DRY_CASES = {
    "log_input": (LOG_INPUT, {}, (), {}),
    "benchmark_input": (BENCHMARK_INPUT, {}, (), {}),
    "rule_dependency": (RULE_DEPENDENCY, {}, (), {}),
    "sized_resources": (SIZED_RESOURCES.replace("size=exact_size", "").replace(
        "{resources.size} ", ""), {}, (), {}),
    "float_threads": (FLOAT_THREADS, {}, (), {}),
    "checkpoint_output_open": (CHECKPOINT_OPEN, {"decided/a.txt": "a\n", "decided/b.txt": "b\n"},
                               (), {}),
    "no_rules": ("x = 1\n", {}, (), {}),
    "only_empty_include": ('include: "empty.smk"\n', {"empty.smk": "# nothing\n"}, (), {}),
    "consider_ancient": (ANCIENT_CLI, _inputs_newer, ("--consider-ancient", "A=0", "B=x"),
                         {"consider_ancient": ["A=0", "B=x"]}),
    "consider_ancient_only_one": (ANCIENT_CLI, _inputs_newer, ("--consider-ancient", "A=0"),
                                  {"consider_ancient": ["A=0"]}),
    "newer_inputs_without_flag": (ANCIENT_CLI, _inputs_newer, (), {}),
}


@pytest.mark.snakemake
@pytest.mark.parametrize("name", sorted(DRY_CASES))
def test_dry_run_jobs_per_rule_match_snakemake(name, tmp_path):
    snakefile, files, their_args, our_options = DRY_CASES[name]
    dirs = []
    for side in ("snakemake", "sciflow"):
        wd = write_tree(tmp_path / side, snakefile, files if isinstance(files, dict) else None)
        if callable(files):
            files(wd)
        dirs.append(wd)
    expected = dry_run_counts(dirs[0], *their_args, cores=4)
    assert sciflow_counts(dirs[1], **our_options) == expected


RUN_CASES = {
    "log_input": LOG_INPUT,
    "rule_dependency": RULE_DEPENDENCY,
    "lazy_resources": SIZED_RESOURCES,
    "float_threads": FLOAT_THREADS,
    "checkpoint_output_open": CHECKPOINT_OPEN,
    "groupid_input_function": GROUPID_INPUT,
    "threads_and_resources_per_attempt": PER_ATTEMPT,
}


@pytest.mark.slow  # two real runs each (~20 s on the shared machine)
@pytest.mark.snakemake
@pytest.mark.parametrize("name", sorted(RUN_CASES))
def test_run_leaves_the_files_snakemake_leaves(name, tmp_path):
    theirs, ours = both_run(tmp_path, RUN_CASES[name])
    assert ours == theirs


def test_retry_threads_stay_within_the_cores_the_first_attempt_was_scaled_to(tmp_path):
    from sciflow.parse import load_workflow
    from sciflow.dag import build_dag
    from sciflow.resources_config import threads_for_attempt

    wd = write_tree(tmp_path, '''
        rule a:
            output: "out.txt"
            threads: lambda wildcards, attempt: 4 * attempt
            shell: "touch {output}"
    ''')
    job = build_dag(load_workflow(str(wd / "Snakefile"))).jobs[0]
    assert job.threads == 4
    assert threads_for_attempt(job, 2) == 8   # not scaled: grows with the attempt
    job.threads = 2                           # the scheduler scaled attempt 1 to 2 cores
    assert threads_for_attempt(job, 2) == 2


def test_priority_functions_and_floats_are_evaluated_per_job(tmp_path):
    """Snakemake's ``priority: lambda wildcards: ...`` (also with ``input``/``attempt``/
    ``rulename``) and float priorities. The DAG evaluates them; the rule is given the value
    here directly because sciflow/model.py still refuses non-integers when loading."""
    from sciflow.dag import build_dag
    from sciflow.parse import load_workflow

    wd = write_tree(tmp_path, '''
        rule all:
            input: "a.out", "bb.out", "c.out"
        rule echo:
            output: "{i}.out"
            shell: "touch {output}"
        rule other:
            output: "c.out"
            shell: "touch {output}"
    ''')
    wf = load_workflow(str(wd / "Snakefile"))
    wf.rules["echo"].priority = lambda wildcards, input, attempt, rulename: (
        len(wildcards.i) + len(input) + attempt + len(rulename))
    wf.rules["other"].priority = 3.14
    jobs = {tuple(j.output): j.priority for j in build_dag(wf).jobs if j.output}
    assert jobs == {("a.out",): 1 + 0 + 1 + 4, ("bb.out",): 2 + 0 + 1 + 4, ("c.out",): 3.14}
    wf.rules["echo"].priority = "high"
    with pytest.raises(SciflowError) as info:
        build_dag(wf)
    assert "priority of rule echo" in info.value.format()


def test_input_function_gets_groupid_local(tmp_path):
    """An input function may take ``groupid``: "local" for a local run, as Snakemake's local
    runs give it (its test_groupid_expand expects foo.local.txt; its dry run shows per-group
    uuids instead, so the differential for this is the slow run above)."""
    wd = write_tree(tmp_path, GROUPID_INPUT)
    plan = run(RunOptions(directory=str(wd), dry_run=True)).plan
    assert [list(j.output) for j in plan.jobs if j.rule.name == "grouplocal"] == [["foo.local.txt"]]


# ------------------------------------------------------------------------------ errors
@pytest.mark.snakemake
def test_duplicate_output_pattern_is_an_error_as_in_snakemake(tmp_path):
    """Snakemake refuses a rule giving one output pattern twice, even an unused rule."""
    text = '''
        rule all:
            input: "out.txt"
        rule m:
            output: "{n}.txt"
            shell: "touch {output}"
        rule unused:
            output: "z{n}.csv", "z{n}.csv"
            shell: "touch {output}"
    '''
    theirs = write_tree(tmp_path / "snakemake", text)
    res = snakemake(theirs, "-n", "--cores", "4", check=False)
    assert res.returncode != 0 and "Duplicate output file pattern" in res.stdout + res.stderr
    ours = write_tree(tmp_path / "sciflow", text)
    with pytest.raises(RuleError) as info:
        run(RunOptions(directory=str(ours), dry_run=True))
    assert "duplicate output file pattern 'z{n}.csv' in rule 'unused'" in info.value.message
    assert info.value.loc is not None and info.value.loc.line == 7


def test_resource_function_failing_once_inputs_exist_is_a_rule_error(tmp_path):
    """Deferred only while an input is missing: with every input there, the failure is the
    rule's and is reported at planning, naming the rule (no traceback)."""
    wd = write_tree(tmp_path, '''
        rule all:
            input: "out.txt"
        rule r:
            input: "in.txt"
            output: "out.txt"
            resources: mem_mb=lambda wildcards, input: 1 // 0
            shell: "touch {output}"
    ''', {"in.txt": "x\\n"})
    with pytest.raises(RuleError) as info:
        run(RunOptions(directory=str(wd), dry_run=True))
    assert "rule r" in info.value.message and "ZeroDivisionError" in info.value.message


def test_deferred_resource_is_evaluated_at_submit_with_the_attempt(tmp_path):
    """A resource function needing a missing input is not in the planned job; the run
    evaluates it with the input there and the attempt number."""
    wd = write_tree(tmp_path, SIZED_RESOURCES)
    summary = run(RunOptions(directory=str(wd), dry_run=True))
    bar = next(j for j in summary.plan.jobs if j.rule.name == "bar")
    assert "mem_mb" not in bar.resources and "size" not in bar.resources
    summary = run(RunOptions(directory=str(wd), cores=1, provenance=False))
    assert summary.ok
    assert (wd / "results/bar.txt").read_text() == "6 100\n"


@pytest.mark.parametrize("item, words", [("A=y", "no input named 'y'"),
                                         ("A=5", "no input named '5'"),
                                         ("B=0", "no input named '0'"),
                                         ("Z=0", "rules the workflow does not have: Z")])
def test_consider_ancient_names_unknown_items_clearly(tmp_path, item, words):
    wd = write_tree(tmp_path, ANCIENT_CLI)
    _inputs_newer(wd)
    with pytest.raises(SciflowError) as info:
        run(RunOptions(directory=str(wd), dry_run=True, consider_ancient=[item]))
    assert words in info.value.message


def test_consider_ancient_bad_syntax_is_a_usage_error():
    from sciflow.errors import UsageError
    from sciflow.plan import parse_consider_ancient

    assert parse_consider_ancient(["A=0,x", "B=y"]) == {"A": {"0", "x"}, "B": {"y"}}
    with pytest.raises(UsageError):
        parse_consider_ancient(["A"])
    with pytest.raises(UsageError):
        parse_consider_ancient(["A=x-y"])


def test_rule_reference_keeps_names_and_ties_to_its_rule(tmp_path):
    """``rules.b.output`` reads as the rule's outputs (names kept; flags dropped, as
    Snakemake's rule proxy gives them), each tied to rule b, and a rule reached that way
    still shows its other directives."""
    from sciflow.parse import load_workflow

    wd = write_tree(tmp_path, '''
        rule b:
            output: main=temp("{s}.mid"), extra="{s}.extra"
            threads: 3
            shell: "touch {output}"
        NAMES = (rules.b.output.main, rules.b.output[1], rules.b.threads, rules.b.name)
        rule d:
            input: rules.b.output.main
            output: "{s}.out"
            shell: "touch {output}"
    ''')
    wf = load_workflow(str(wd / "Snakefile"))
    main, extra, threads, name = wf.globals["NAMES"]
    assert (main, extra, threads, name) == ("{s}.mid", "{s}.extra", 3, "b")
    assert not main.is_flagged("temp") and main.rule_name == "b"
    assert list(wf.rules["d"].input)[0].rule_name == "b"


def test_sciflow_dag_and_plan_agree_on_log_inputs(tmp_path, monkeypatch):
    """`sciflow dag` had the producer of a log file read as input; the plan now has it too."""
    from sciflow.dag import build_dag
    from sciflow.parse import load_workflow

    wd = write_tree(tmp_path, LOG_INPUT)
    monkeypatch.chdir(wd)
    in_dag = sorted(j.rule.name for j in build_dag(load_workflow("Snakefile")).jobs)
    planned = sciflow_counts(wd)
    assert sorted(r for r, n in planned.items() for _ in range(n)) == in_dag
