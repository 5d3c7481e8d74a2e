"""Modules, includes and load-time constructs, against Snakemake as the oracle.

Differential cases: the same folder is dry-run by Snakemake (``-n``, its "Job stats" table)
and by sciflow's engine (the plan's jobs per rule); they must be equal. The rest checks what
a dry run cannot show: values kept on the model, and clear errors where sciflow refuses.
"""
from __future__ import annotations

import os
import pathlib
import sys

import pytest

from helpers import write_tree
from oracle import dry_run_counts

from sciflow.errors import SciflowError, WorkflowError

def sciflow_counts(cwd: pathlib.Path, *, snakefile="Snakefile", directory=None, targets=(),
                   configfiles=(), set_scatter=None) -> dict[str, int]:
    from sciflow.engine import RunOptions, run

    old = os.getcwd()
    os.chdir(cwd)
    try:
        summary = run(RunOptions(snakefile=snakefile, directory=directory, targets=list(targets),
                                 configfiles=list(configfiles), dry_run=True,
                                 set_scatter=dict(set_scatter or {})))
    finally:
        os.chdir(old)
    return dict(summary.plan.counts_by_rule())


MODULE = {
    "pipe/workflow/Snakefile": '''
        configfile: "config/config.yaml"
        include: "rules/a.smk"
        rule all:
            input: expand("res/{s}.out", s=config["samples"]), "res/fn.out"
        rule make:
            input: "raw/{s}.txt"
            output: "res/{s}.out"
            log: "log/{s}.log"
            shell: "cp {input} {output}"
        rule by_function:
            input: lambda wc: "res/" + config["samples"][0] + ".out"
            output: "res/fn.out"
            shell: "cp {input} {output}"
        ''',
    "pipe/workflow/rules/a.smk": '''
        rule raw:
            output: "raw/{s}.txt"
            shell: "touch {output}"
        ''',
    "config/config.yaml": "samples: [a]\nmod: {samples: [a, b, c]}\n",
}

CASES = {
    # include: before rule all: the main file's first rule is the default target.
    "include_before_all": ({
        "Snakefile": '''
            include: "inc.smk"
            rule all:
                input: "main.txt"
            rule mk:
                output: "main.txt"
                shell: "touch {output}"
            ''',
        "inc.smk": '''
            rule inc:
                output: "inc.txt"
                default_target: True
                shell: "touch {output}"
            '''}, ()),
    # Only included files define rules: no default target, nothing to do.
    "only_includes": ({
        "Snakefile": 'include: "inc.smk"\n',
        "inc.smk": 'rule inc:\n    output: "inc.txt"\n    shell: "touch {output}"\n'}, ()),
    # Module with config:, prefix: (also on the results of input functions) and a rename.
    "module_prefix": ({**MODULE, "Snakefile": '''
        configfile: "config/config.yaml"
        module pipe:
            snakefile: "pipe/workflow/Snakefile"
            config: config["mod"]
            prefix: "out"
        use rule * from pipe as pipe_*
        '''}, ()),
    # replace_prefix:, exclude, names kept, the module's own configfile:, a with: override.
    "module_replace_exclude_with": ({**MODULE, "Snakefile": '''
        rule all:
            input: "new/a.out", "special/b.out"
        module pipe:
            snakefile: "pipe/workflow/Snakefile"
            replace_prefix: {"res/": "new/"}
        use rule make, raw from pipe
        use rule * from pipe exclude make, raw as p_*
        use rule make from pipe as make_special with:
            output: "special/{s}.out"
        '''}, ()),
    # A module file used twice, with two configs: two namespaces.
    "module_twice": ({**MODULE, "Snakefile": '''
        module one:
            snakefile: "pipe/workflow/Snakefile"
            config: {"samples": ["a"]}
            prefix: "one"
        module two:
            snakefile: "pipe/workflow/Snakefile"
            config: {"samples": ["a", "b", "c"]}
            prefix: "two"
        rule all:
            input: rules.one_all.input if False else [], "one/res/fn.out", "two/res/fn.out", "two/res/c.out"
        use rule * from one as one_*
        use rule * from two as two_*
        '''}, ()),
    # The snakemake-workflows layout (workflow/Snakefile, rules/, schemas/, envs/, report/)
    # deployed from a user's Snakefile, its own config passed in, rules renamed; the
    # pipeline's directives (container, conda, wrapper, report, shadow...) are only planned.
    "published_layout": ({
        "pipeline/workflow/Snakefile": '''
            import os.path
            container: "docker://continuumio/miniconda3"
            configfile: "config/config.yaml"
            report: "report/workflow.rst"
            include: "rules/common.smk"
            rule all:
                input: expand("results/qc/{s}.html", s=SAMPLES), "results/plots/summary.svg"
            include: "rules/qc.smk"
            ''',
        "pipeline/workflow/rules/common.smk": '''
            import pandas as pd
            samples = pd.read_csv(config["samples"], sep="\\t").set_index("sample", drop=False)
            SAMPLES = list(samples["sample"])
            def fastq(wildcards):
                return samples.loc[wildcards.s, "fq"]
            ''',
        "pipeline/workflow/rules/qc.smk": '''
            rule fastqc:
                input: fastq
                output: html="results/qc/{s}.html", zip="results/qc/{s}_fastqc.zip"
                log: "logs/fastqc/{s}.log"
                benchmark: repeat("benchmarks/fastqc/{s}.tsv", 2)
                threads: 2
                wrapper: "v3.0.0/bio/fastqc"
            rule plot:
                input: expand("results/qc/{s}_fastqc.zip", s=SAMPLES)
                output: report("results/plots/summary.svg", caption="../report/plot.rst", category="QC")
                conda: "../envs/plot.yaml"
                shadow: "minimal"
                cache: "omit-software"
                script: "../scripts/plot.py"
            ''',
        "pipeline/workflow/envs/plot.yaml": "dependencies: [python]\n",
        "pipeline/workflow/scripts/plot.py": "open(snakemake.output[0], 'w').close()\n",
        "config/config.yaml": "samples: config/samples.tsv\n",
        "config/samples.tsv": "sample\tfq\nA\tdata/A.fq\nB\tdata/B.fq\n",
        "data/A.fq": "", "data/B.fq": "",
        "Snakefile": '''
            configfile: "config/config.yaml"
            module qc:
                snakefile: "pipeline/workflow/Snakefile"
                config: config
            use rule * from qc exclude fastqc as qc_*
            use rule fastqc from qc as qc_fastqc with:
                threads: 4
            '''}, ()),
    # Snakemake 8: `module:` named by `name:`, declared in a loop; `use rule * from VAR as
    # ALIAS*` resolves both variables; `use rule x ... with:` after `use rule *` replaces x;
    # a module's own `use rule ... with: output:` and expand(rules.x.output) under
    # replace_prefix move each path once; a module's config may be a list
    "modules_dynamic": ({
        **{f"m{i}/Snakefile": f'''
            def value():
                return {i}
            rule a:
                output: temp("results/a/{{n}}.out")
                shell: "echo {{config[k]}} > {{output}}"
            rule b:
                input: expand(rules.a.output, n="x")
                output: "results/b/{{n}}.out"
                shell: "cat {{input}} > {{output}}"
            use rule b as b2 with:
                output: "results/b2/{{n}}.out"
            ''' for i in (1, 2)},
        "Snakefile": '''
            config["k"] = 1
            for mod, alias in zip(["m1", "m2"], ["one", "two"]):
                module:
                    name: mod
                    snakefile: f"{mod}/Snakefile"
                    config: config
                    replace_prefix: {"results/": f"results/{mod}/"}
                use rule * from mod as alias*
            module:
                name: "m3"
                snakefile: "m1/Snakefile"
                config: {"k": 3}
                prefix: "third"
            use rule * from m3 as m3_*
            use rule b from m3 as m3_* with:
                output: "results/b/{n}.final"
            assert m1.value() == 1 and m2.value() == 2
            rule all:
                input: "results/m1/b/y.out", "results/m2/b2/y.out", "results/b/y.final"
                default_target: True
            '''}, ()),
    # local("x") inside a module with prefix: the file of the including folder, not moved
    "modules_prefix_local": ({
        "m/Snakefile": '''
            rule a:
                input: local("in.txt")
                output: "final.txt"
                shell: "cat {input} > {output}"
            ''',
        "in.txt": "x\n",
        "Snakefile": '''
            module m:
                snakefile: "m/Snakefile"
                prefix: "out"
            use rule * from m as m_*
            rule all:
                input: "out/final.txt"
                default_target: True
            '''}, ()),
    "scattergather_set": ({
        "Snakefile": '''
            scattergather:
                split=2
            rule all:
                input: gather.split("p/{scatteritem}.txt")
            rule split:
                output: scatter.split("p/{scatteritem}.txt")
                shell: "touch {output}"
            '''}, ("--set-scatter", "split=5")),
}


@pytest.mark.snakemake
@pytest.mark.parametrize("name", sorted(CASES))
def test_jobs_per_rule_match_snakemake(name, tmp_path):
    files, args = CASES[name]
    ours, theirs = write_tree(tmp_path / "ours", files), write_tree(tmp_path / "theirs", files)
    expected = dry_run_counts(theirs, *args)
    scatter = dict(a.split("=") for a in args[1:]) if args else {}
    assert sciflow_counts(ours, set_scatter={k: int(v) for k, v in scatter.items()}) == expected


CONFIG_TREE = {
    "wd/Snakefile": '''
        configfile: "config.yaml"
        rule all:
            input: expand("o/{s}.txt", s=config["samples"])
        rule one:
            output: "o/{s}.txt"
            shell: "touch {output}"
        ''',
    "c.yaml": "samples: [a, b, c]\n",  # beside where the command is typed
    "wd/c.yaml": "samples: [z]\n",  # the same name inside -d: must not be used
}


@pytest.mark.snakemake
@pytest.mark.parametrize("with_configfile_directive_file", [True, False])
def test_configfile_relative_to_invocation_dir(tmp_path, with_configfile_directive_file):
    """``--configfile c.yaml -d wd``: c.yaml is found where the command was typed; a missing
    ``configfile:`` file is then no error (Snakemake), a present one is read first."""
    files = dict(CONFIG_TREE)
    if with_configfile_directive_file:
        files["wd/config.yaml"] = "samples: [q]\nother: 1\n"
    ours, theirs = write_tree(tmp_path / "ours", files), write_tree(tmp_path / "theirs", files)
    expected = dry_run_counts(theirs, "-d", "wd", "-s", "wd/Snakefile", "--configfile", "c.yaml")
    assert expected == {"one": 3, "all": 1}
    assert sciflow_counts(ours, snakefile="wd/Snakefile", directory="wd",
                          configfiles=["c.yaml"]) == expected


def test_missing_configfile_without_override_is_an_error(tmp_path):
    from sciflow.parse import load_workflow

    write_tree(tmp_path, {"Snakefile": 'configfile: "nope.yaml"\n'})
    with pytest.raises(WorkflowError, match="nope.yaml"):
        load_workflow(tmp_path / "Snakefile")


# ------------------------------------------------------------------------------ loading order
def test_syntax_error_in_included_file_stops_before_any_code_runs(tmp_path, monkeypatch):
    from sciflow.parse import lint, load_workflow

    write_tree(tmp_path, {
        "Snakefile": '''
            open("side_effect.txt", "w").close()
            include: "rules/a.smk"
            rule all:
                input: "x"
            ''',
        "rules/a.smk": 'include: "b.smk"\nrule a:\n    output: "x"\n    shell: "touch x"\n',
        "rules/b.smk": 'rule b:\n    output "y"\n',
        "rules/c.smk": 'this is ( not python\n',
    })
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SciflowError) as info:
        load_workflow("Snakefile")
    assert str(info.value).startswith("rules/b.smk:2:5:")
    assert not (tmp_path / "side_effect.txt").exists()
    # lint reports the problems of every file reachable through literal includes at once
    (tmp_path / "Snakefile").write_text('include: "rules/a.smk"\ninclude: "rules/c.smk"\n')
    problems = lint("Snakefile")
    assert sorted(p.loc.path for p in problems) == ["rules/b.smk", "rules/c.smk"]


# ------------------------------------------------------------------------------ the model
def test_directives_kept_on_the_rule_with_snakemake_names(tmp_path):
    from sciflow.parse import load_workflow

    write_tree(tmp_path, {"Snakefile": '''
        rule all:
            input: "plot.png"
        rule plot:
            output: report("plot.png", caption="report/plot.rst", category="Plots")
            benchmark: repeat("bench/plot.tsv", 3)
            conda: "envs/plot.yaml"
            container: "docker://python:3.11"
            shadow: "minimal"
            cache: "omit-software"
            handover: True
            envmodules: "python/3.11", "gcc/12"
            wrapper: "v3.0.0/bio/fastqc"
        '''})
    rule = load_workflow(tmp_path / "Snakefile").rules["plot"]
    assert rule.benchmark == "bench/plot.tsv" and rule.benchmark_repeats == 3
    assert rule.conda_env == "envs/plot.yaml" and rule.container_img == "docker://python:3.11"
    assert rule.shadow_depth == "minimal" and rule.cache == "omit-software"
    assert rule.handover is True and rule.envmodules == ["python/3.11", "gcc/12"]
    assert rule.wrapper == "v3.0.0/bio/fastqc"
    out = rule.output[0]
    assert out == "plot.png" and os.fspath(out) == "plot.png" and f"{out}" == "plot.png"
    assert out.is_flagged("report")
    assert out.meta["report"]["caption"] == "report/plot.rst"
    assert out.meta["report"]["category"] == "Plots"


def test_report_flag_survives_wildcards_and_pickling(tmp_path):
    import pickle

    from sciflow.dag import build_dag
    from sciflow.parse import load_workflow

    write_tree(tmp_path, {"Snakefile": '''
        rule all:
            input: "p/a.png"
        rule plot:
            output: report("p/{s}.png", caption="c.rst", category="C")
            shell: "touch {output}"
        '''})
    wf = load_workflow(tmp_path / "Snakefile")
    job = next(j for j in build_dag(wf).jobs if j.rule.name == "plot")
    out = job.output[0]
    assert out == "p/a.png" and out.meta["report"]["category"] == "C"
    back = pickle.loads(pickle.dumps(out))
    assert back == "p/a.png" and back.meta["report"]["caption"] == "c.rst"


def test_bad_shadow_value_is_a_rule_error(tmp_path):
    from sciflow.parse import load_workflow

    write_tree(tmp_path, {"Snakefile": 'rule a:\n    output: "x"\n    shadow: "deep"\n'
                                       '    shell: "touch x"\n'})
    with pytest.raises(WorkflowError, match="shadow") as info:
        load_workflow(tmp_path / "Snakefile")
    assert info.value.loc.line == 3


def test_module_namespace_and_basedirs(tmp_path, monkeypatch):
    """The module's globals and config are its own; ``workflow.basedir`` is the main file's
    folder and ``workflow.current_basedir`` the module file's (as Snakemake prints them)."""
    from sciflow.parse import load_workflow

    write_tree(tmp_path, {**MODULE, "Snakefile": '''
        X = "main"
        module pipe:
            snakefile: "pipe/workflow/Snakefile"
            config: {"samples": ["s1"]}
        use rule * from pipe as pipe_*
        ''', "pipe/workflow/rules/a.smk": '''
        X = "module"
        BASES = (workflow.basedir, workflow.current_basedir)
        rule raw:
            output: "raw/{s}.txt"
            shell: "touch {output}"
        '''})
    monkeypatch.chdir(tmp_path)
    wf = load_workflow("Snakefile")
    sub = wf.modules["pipe"].workflow
    assert wf.globals["X"] == "main" and sub.globals["X"] == "module"
    assert sub.config == {"samples": ["s1"]} and "samples" not in wf.config
    assert sub.globals["BASES"] == (str(tmp_path), str(tmp_path / "pipe/workflow/rules"))
    assert wf.rules["pipe_make"].loc.path.endswith("pipe/workflow/Snakefile")
    assert wf.default_target_rule.name == "pipe_all"


# ------------------------------------------------------------------------------ clear refusals
@pytest.mark.parametrize("text,words,line", [
    ('module m:\n    snakefile: github("snakemake-workflows/rna-seq", path="workflow/Snakefile",'
     ' tag="v2.0")\nuse rule * from m\n', "local paths only", 1),
    ('module m:\n    snakefile: "https://example.org/Snakefile"\n', "local paths only", 1),
    ('module m:\n    meta_wrapper: "v1.0/meta/bio/bwa_mapping"\n', "meta-wrapper", 1),
    ('module m:\n    snakefile: "m.smk"\n    prefix: "p"\n    replace_prefix: {"a": "b"}\n',
     "only one at a time", 1),
    ('module m:\n    snakefile: "x.smk"\n    prefx: "p"\n', "unknown keyword 'prefx'", 3),
    ('X = 1\nrule a:\n    input: storage.http("https://example.org/a.txt")\n'
     '    output: "a"\n    shell: "cp {input} {output}"\n', "storage.http", 3),
    ('storage:\n    provider="http"\n', "'storage:'", 1),
    # (importing a provider is fine, as in Snakemake 9; making one is the error)
    ('from snakemake.remote.HTTP import RemoteProvider\nHTTP = RemoteProvider()\n',
     "snakemake.remote", 2),
    ('use rule a from nomodule as b\n', "no module named 'nomodule'", 1),
    ('module m:\n    snakefile: "m.smk"\nuse rule nope from m as x\n', "no rule named 'nope'", 3),
])
def test_clear_errors(tmp_path, monkeypatch, text, words, line):
    from sciflow.parse import load_workflow

    write_tree(tmp_path, {"Snakefile": text, "x.smk": "", "m.smk": 'rule a:\n    output: "a"\n'
                                                                     '    shell: "touch a"\n'})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "snakemake.remote", None)  # Snakemake 9 without providers
    with pytest.raises(SciflowError) as info:
        load_workflow("Snakefile")
    err = info.value
    assert words in err.message + (err.hint or ""), err.format()
    assert err.loc is not None and (err.loc.path, err.loc.line) == ("Snakefile", line)
    if "storage" in words or "remote" in words:
        assert "download" in (err.hint or "")


def test_pepfile_needs_the_pep_extra(tmp_path, monkeypatch):
    from sciflow.parse import load_workflow

    write_tree(tmp_path, {"Snakefile": 'pepfile: "pep/config.yaml"\n'})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "peppy", None)  # as if not installed
    with pytest.raises(WorkflowError) as info:
        load_workflow("Snakefile")
    assert "sciflow[pep]" in info.value.hint and info.value.loc.line == 1


PEP = {
    "pep/config.yaml": 'pep_version: "2.1.0"\nsample_table: samples.csv\n',
    "pep/samples.csv": "sample_name,kind\nA,x\nB,y\nC,x\n",
    "schemas/pep.yaml": '''
        description: samples need a kind
        properties:
          samples:
            type: array
            items:
              type: object
              properties:
                sample_name: {type: string}
                kind: {type: string}
              required: [sample_name, kind]
        required: [samples]
        ''',
    "Snakefile": '''
        pepfile: "pep/config.yaml"
        pepschema: "schemas/pep.yaml"
        rule all:
            input: expand("o/{s}.txt", s=pep.sample_table["sample_name"])
        rule one:
            output: "o/{s}.txt"
            params: kind=lambda wc: pep.get_sample(wc.s).kind
            shell: "echo {params.kind} > {output}"
        ''',
}


@pytest.mark.snakemake
def test_pepfile_and_pepschema_match_snakemake(tmp_path):
    pytest.importorskip("peppy")
    pytest.importorskip("eido")
    ours, theirs = write_tree(tmp_path / "ours", PEP), write_tree(tmp_path / "theirs", PEP)
    expected = dry_run_counts(theirs)
    assert expected == {"one": 3, "all": 1}
    assert sciflow_counts(ours) == expected


def test_pepschema_violation_is_a_config_error(tmp_path, monkeypatch):
    pytest.importorskip("peppy")
    pytest.importorskip("eido")
    from sciflow.parse import load_workflow

    write_tree(tmp_path, {**PEP, "pep/samples.csv": "sample_name,other\nA,x\n"})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkflowError) as info:
        load_workflow("Snakefile")
    assert info.value.loc.line == 2 and "kind" in info.value.message
