"""load_workflow: the model built from real files, the namespace, config and includes."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from helpers import sha256
from sciflow.errors import ConfigError, UsageError, WildcardError
from sciflow.model import IOFile, SourceLoc, Unpack
from sciflow.layout import find_workflow_file
from sciflow.parse import load_workflow

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    import shutil
    shutil.copytree(CORPUS, tmp_path / "c")
    monkeypatch.chdir(tmp_path / "c")
    return tmp_path / "c"


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_basic_directives_and_locations(corpus):
    wf = load_workflow("basic.smk")
    count = wf.rules["count"]
    assert count.loc == SourceLoc("basic.smk", 15, 1)
    assert count.loc_of("threads") == SourceLoc("basic.smk", 24, 5)
    assert count.input.reads == "data/{sample}.fastq" and count.input.ref == "ref/genome.fa"
    assert count.params.k == 21 and count.threads == 4 and count.priority == 10
    assert count.resources == {"mem_mb": 2000, "runtime": 30}
    assert count.retries == 2 and count.group == "counting" and count.benchmark
    assert count.conda == "envs/count.yaml" and count.container.startswith("docker://")
    assert count.action.kind == "shell"
    assert count.action.source == ("count --k {params.k} {params.extra} -t {threads} "
                                   "{input.reads} > {output} 2> {log}")
    assert count.action.loc == SourceLoc("basic.smk", 41, 5)
    assert wf.rules["all"].docstring == "Everything the workflow makes."
    assert wf.default_target_rule.name == "all"
    assert "summary" in wf.localrules
    assert wf.source_sha256 == sha256(corpus / "basic.smk")
    assert wf.globals["SAMPLES"] == ["a", "b", "c"]


def test_features(corpus):
    wf = load_workflow("features.smk")
    assert wf.wildcard_constraints == {"sample": "[a-z0-9]+"}
    assert wf.envvars == ["HOME"]
    assert wf.localrules >= {"all", "index"}
    assert [names for names, _ in wf.ruleorder] == [["trim_special", "trim"]]
    assert callable(wf.onstart) and callable(wf.onsuccess) and callable(wf.onerror)
    trim = wf.rules["trim"]
    assert isinstance(trim.input[0], Unpack)
    assert trim.output.r1.is_flagged("temp") and trim.output.r2.is_flagged("protected")
    assert trim.output.flag.is_flagged("touch")
    assert trim.wildcard_constraints == {"sample": "s[0-9]+"}
    assert trim.params.pair(type("W", (), {"sample": "s1"})()) == "p1"
    assert trim.action.kind == "run" and trim.action.func_name == "_sf_run_features_smk_57"
    func = wf.globals[trim.action.func_name]
    assert list(inspect.signature(func).parameters) == [
        "input", "output", "params", "wildcards", "threads", "resources", "log", "config", "rule"]
    assert 58 in {line for *_, line in func.__code__.co_lines()}  # tracebacks point at the file
    assert trim.action.source.startswith("import shutil\nfor src, dst in zip(")
    assert wf.rules["index"].input[0].is_flagged("ancient")
    assert wf.rules["index"].output == ["ref/genome.fa.bwt", "ref/genome.fa.sa"]
    assert wf.rules["split"].checkpoint and wf.rules["split"].output[0].is_flagged("directory")
    assert wf.checkpoints.split.rule == "split"
    assert wf.rules["trim_special"].action.source == "scripts/trim.py"
    assert wf.rules["gather"].action.kind == "notebook"
    assert wf.rules["plot"].log.stdout == "logs/{sample}.out"
    assert wf.rules["plot"].input == ["ref/genome.fa.bwt"]  # rules.index.output[0]
    plot2 = wf.rules["plot2"]  # use rule plot as plot2 with: output: ...
    assert plot2.output == ["plots2/{sample}.png"] and plot2.input == ["ref/genome.fa.bwt"]
    assert plot2.action == wf.rules["plot"].action and wf.rules["plot"].output == ["plots/{sample}.png"]
    assert wf.rules["all"].input[2:4] == ["literal/{sample}/1.txt", "literal/{sample}/2.txt"]


def test_loops_and_anonymous_rules(corpus):
    wf = load_workflow("loops.smk")
    assert list(wf.rules) == ["align_bwa", "align_bowtie", "extra", "gen_x", "gen_y", "merge"]
    assert wf.rules["align_bowtie"].output == ["aligned/bowtie/{sample}.bam"]
    assert wf.rules["align_bwa"].action.source == "bwa {input} > {output}"
    assert wf.rules["gen_x"].loc.line == 25


def test_unnamed_rules_are_numbered(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "Snakefile", 'rule:\n    output: "a"\nrule:\n    output: "b"\n')
    assert list(load_workflow("Snakefile").rules) == ["1", "2"]


def test_includes_and_config_precedence(corpus):
    wf = load_workflow("includes/Snakefile")
    assert wf.config["samples"] == ["s1", "s2", "s3"]
    assert wf.rules["align"].threads == 8
    assert wf.rules["align"].loc == SourceLoc("includes/rules/align.smk", 2, 1)
    assert wf.includes == ["includes/rules/align.smk", "includes/rules/qc.smk"]
    assert wf.configfiles == ["config/config.yaml"] or wf.configfiles[0].endswith("config.yaml")
    extra = write(corpus / "extra.yaml", "threads: 3\nname: other\n")
    wf = load_workflow("includes/Snakefile", configfiles=[extra], config_overrides={"threads": 5})
    assert wf.rules["align"].threads == 5  # --config beats --configfile beats configfile:
    assert wf.config["name"] == "other"
    assert wf.rules["qc"].output == ["qc/other.html"]


def test_config_file_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "Snakefile", 'configfile: "nope.yaml"\n')
    with pytest.raises(ConfigError) as info:
        load_workflow("Snakefile")
    assert info.value.loc == SourceLoc("Snakefile", 1, 1)
    write(tmp_path / "Snakefile", 'configfile: "bad.yaml"\n')
    write(tmp_path / "bad.yaml", "a: [1,\n")
    with pytest.raises(ConfigError):
        load_workflow("Snakefile")


def test_repeated_include_is_ignored(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "inc.smk", 'rule a:\n    output: "a"\n')
    write(tmp_path / "Snakefile", 'include: "inc.smk"\ninclude: "inc.smk"\n')
    assert list(load_workflow("Snakefile").rules) == ["a"]


def test_expand_error_gets_the_users_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "Snakefile", 'X = 1\nrule a:\n    input: expand("{a}_{b}", a=[1])\n')
    with pytest.raises(WildcardError) as info:
        load_workflow("Snakefile")
    assert info.value.loc.line == 3


def test_line_numbers_survive_chunked_compilation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    body = "".join(f'rule r{i}:\n    output: "o{i}"\n    params: f=lambda w: 1\n\n'
                   for i in range(400))
    n = body.count("\n")
    write(tmp_path / "Snakefile", body + 'rule last:\n    output: "x"\n    run:\n        pass\n'
          'Y = undefined_name\n')
    with pytest.raises(Exception) as info:
        load_workflow("Snakefile")
    assert info.value.loc.line == n + 5
    write(tmp_path / "Snakefile", body + 'rule last:\n    output: "x"\n    run:\n        pass\n')
    wf = load_workflow("Snakefile")
    code = wf.globals[wf.rules["last"].action.func_name].__code__
    assert n + 4 in {line for *_, line in code.co_lines()}
    assert wf.rules["r399"].params.f.__code__.co_firstlineno == n - 1


def test_workdir_and_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "Snakefile", 'workdir: "out"\ncontainer: "docker://x"\nmin_version("8.0")\n')
    wf = load_workflow("Snakefile")
    assert wf.workdir == "out" and wf.globals["workflow"].settings["container"][0] == ("docker://x",)


def test_workflow_object(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "sub" / "Snakefile", 'B = workflow.basedir\nC = workflow.current_basedir\n')
    wf = load_workflow("sub/Snakefile")
    assert wf.globals["B"] == wf.globals["C"] == str(tmp_path / "sub")


def test_named_multiext(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "Snakefile",
          'rule a:\n    output: multiext("x/y", bam=".bam", bai=".bai")\n    shell: "t"\n')
    out = load_workflow("Snakefile").rules["a"].output
    assert out.bam == "x/y.bam" and list(out) == ["x/y.bam", "x/y.bai"]


def test_find_workflow_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError):
        find_workflow_file(None)
    write(tmp_path / "workflow" / "Snakefile", "")
    assert find_workflow_file(None) == Path("workflow/Snakefile")
    write(tmp_path / "Snakefile", "")
    assert find_workflow_file(None) == Path("Snakefile")
    write(tmp_path / "Sciflowfile", "")
    assert find_workflow_file(None) == Path("Sciflowfile")
    assert find_workflow_file("workflow/Snakefile") == Path("workflow/Snakefile")
    with pytest.raises(UsageError):
        find_workflow_file("missing")


def test_iofile_flags_are_strings(corpus):
    wf = load_workflow("features.smk")
    out = wf.rules["trim"].output.r1
    assert isinstance(out, IOFile) and out == "trimmed/{sample}_1.fq"


def test_branch_evaluate_exists_match_snakemake(tmp_path):
    ioutils = pytest.importorskip("snakemake.ioutils")
    from snakemake.iocontainers import Wildcards as SmWildcards

    from sciflow.helpers import branch, evaluate, exists
    from sciflow.model import Wildcards
    ours_w, their_w = Wildcards({"sample": "a", "n": "3"}), SmWildcards(fromdict={"sample": "a", "n": "3"})
    cases = [((True,), dict(then="t")), ((False,), dict(then="t", otherwise="o")),
             ((False,), dict(then="t")), (("b",), dict(cases={"a": "A", "b": "B"}))]
    for args, kwargs in cases:
        assert branch(*args, **kwargs) == ioutils.branch(*args, **kwargs)
    for expr in ["{sample} == 'a'", "int({n}) > 5"]:
        assert evaluate(expr)(ours_w) == ioutils.evaluate(expr)(their_w)
    f = branch(evaluate("{sample} == 'a'"), then="x.txt", otherwise="y.txt")
    assert f(ours_w) == "x.txt"
    assert branch(lambda w: w.sample, cases={"a": "A"})(ours_w) == "A"
    assert exists(tmp_path) and not exists(tmp_path / "nope")


def test_empty_rules_and_values_are_accepted_like_snakemake(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "Snakefile", 'rule a:\nrule b:\n    input:\n    output: "x"\n    params:\n')
    wf = load_workflow("Snakefile")
    assert list(wf.rules) == ["a", "b"]
    assert list(wf.rules["b"].input) == [] and wf.rules["b"].output == ["x"]


def test_modules_next_to_the_snakefile_import(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    write(tmp_path / "wf" / "helpers_for_sf_test.py", "VALUE = 42\n")
    write(tmp_path / "wf" / "Snakefile", "from helpers_for_sf_test import VALUE\n")
    assert load_workflow("wf/Snakefile").globals["VALUE"] == 42


def test_run_function_is_callable_with_the_run_arguments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "Snakefile", 'GREETING = "hello"\n'
          'rule a:\n    output: "out.txt"\n    params: n=2\n    run:\n'
          '        with open(output[0], "w") as fh:\n'
          '            fh.write(GREETING * params.n + wildcards.get("x", ""))\n'
          '        shell("echo {params.n} >> {output}")\n')
    wf = load_workflow("Snakefile")
    rule = wf.rules["a"]
    func = wf.globals[rule.action.func_name]
    from sciflow.model import NamedList, Wildcards
    func(NamedList(), NamedList(["out.txt"]), rule.params, Wildcards({}), 1, {}, NamedList(),
         wf.config, rule.name)
    assert (tmp_path / "out.txt").read_text() == "hellohello2\n"


def test_find_workflow_file_in_a_workdir(tmp_path, monkeypatch):
    """-s is taken as given, else inside -d; the default names are looked for in -d, not in the
    current directory (the finder run, lint, dag and the API share)."""
    monkeypatch.chdir(tmp_path)
    project = tmp_path / "project"
    write(project / "rules" / "main.smk", "")
    write(tmp_path / "Snakefile", "")  # in the current directory, not in -d
    with pytest.raises(UsageError, match="no workflow file found in"):
        find_workflow_file(None, project)
    assert find_workflow_file("rules/main.smk", project) == (project / "rules" / "main.smk")
    write(project / "workflow" / "Snakefile", "")
    found = find_workflow_file(None, project)
    assert found.is_absolute() and found == project / "workflow" / "Snakefile"
