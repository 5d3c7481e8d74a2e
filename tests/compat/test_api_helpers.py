"""The helper functions of the ``snakemake`` API and of the workflow namespace, each compared
with Snakemake's own function (the dev venv has Snakemake) where that is cheap, else with
Snakemake's documented behaviour."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import snakemake.io as sm_io
import snakemake.iocontainers as sm_containers
import snakemake.ioutils as sm_ioutils
import snakemake.utils as sm_utils
from sciflow.compat.snakemake import exceptions, io, ioutils, utils
from sciflow.dag import build_dag
from sciflow.errors import MissingInputError, WorkflowError
from sciflow.model import Wildcards
from sciflow.parse import load_workflow

CONFIG = {"ref": {"species": "homo_sapiens", "release": 110},
          "samples": {"a": {"reads": ["a1.fq", "a2.fq"]}, "b": {"reads": ["b.fq"]}}}
TABLE = pd.DataFrame({"sample": ["a", "b", "c"], "kind": ["x", "y", "y"], "n": [1, 2, 3]}) \
    .set_index("sample", drop=False)


def both(func_name: str, *args, **kwargs):
    """(ours, Snakemake's) results of the same call."""
    return (getattr(ioutils, func_name)(*args, **kwargs),
            getattr(sm_ioutils, func_name)(*args, **kwargs))


@pytest.mark.parametrize("kwargs", [
    dict(dpath="ref/species", within=CONFIG),
    dict(dpath="samples/a/reads", within=CONFIG),
    dict(dpath="samples/*/reads", within=CONFIG),  # a glob: every match
    dict(dpath="ref/missing", within=CONFIG, default="fallback"),
    dict(query="ref/release", within=CONFIG),  # a mapping: the query is a path
    dict(query="kind == 'x'", within=TABLE),
    dict(query="kind == 'y'", within=TABLE),
    dict(query="kind == 'y'", within=TABLE, cols="n"),
    dict(query="kind == 'y'", within=TABLE, cols=["n", "kind"]),
    dict(query="kind == 'y'", within=TABLE, is_nrows=2),
    dict(query="kind == 'z'", within=TABLE, default=None),
    dict(query="kind == '{k}'", within=TABLE, k="x"),  # filled from keywords: a value now
    dict(query="n > 1", within=TABLE["n"]),  # a Series becomes a one-column table
])
def test_lookup_matches_snakemake(kwargs):
    ours, theirs = both("lookup", **kwargs)
    assert ours == theirs


def test_lookup_with_wildcards_is_an_input_function():
    for kwargs in (dict(query="sample == '{sample}'", within=TABLE, cols="kind"),
                   dict(dpath="samples/{sample}/reads", within=CONFIG),
                   dict(query="kind == '{k}' & sample != '{sample}'", within=TABLE,
                        k=lambda w: "y"),
                   dict(query="sample == '{wildcards.sample}'", within=TABLE, cols="kind")):
        ours, theirs = both("lookup", **kwargs)
        assert callable(ours) and callable(theirs)
        for s in ("a", "b"):
            assert ours(Wildcards({"sample": s})) == theirs(sm_containers.Wildcards(fromdict={"sample": s}))


def test_lookup_errors_are_workflow_errors():
    with pytest.raises(exceptions.LookupError, match="Dpath not found"):
        ioutils.lookup(dpath="ref/nope", within=CONFIG)
    with pytest.raises(WorkflowError, match="Must provide a dataframe"):
        ioutils.lookup(dpath="x")
    with pytest.raises(WorkflowError, match="only be used with python mapping"):
        ioutils.lookup(dpath="x", within=TABLE)
    with pytest.raises(WorkflowError, match="query"):
        ioutils.lookup(query="no such column == 1", within=TABLE)


def test_branch_evaluate_collect_flatten_match_snakemake():
    w = {"s": "a"}
    for kwargs in (dict(condition=True, then="x", otherwise="y"),
                   dict(condition=0, then="x"),
                   dict(condition="b", cases={"a": 1, "b": [2]}),
                   dict(condition="z", cases={"a": 1}, otherwise="o")):
        assert both("branch", **kwargs)[0] == both("branch", **kwargs)[1]
    ours, theirs = both("branch", lambda wc: wc["s"] == "a", then=["t"], otherwise="o")
    assert ours(w) == theirs(w) == ["t"]
    ours, theirs = both("evaluate", "{s} == 'a'")
    assert ours(Wildcards(w)) is theirs(sm_containers.Wildcards(fromdict=w)) is True
    assert both("collect", "r/{x}.{y}", x=[1, 2], y="q")[0] == \
        sm_ioutils.collect("r/{x}.{y}", x=[1, 2], y="q") == ["r/1.q", "r/2.q"]
    nested = [1, ["a", [2.5, ["b"]]], [], "c"]
    assert both("flatten", nested)[0] == both("flatten", nested)[1]


def test_parse_input_and_extract_checksum_match_snakemake(tmp_path):
    sums = tmp_path / "SHA256SUMS"
    sums.write_text("abc123  ./data/x.fa\n999fff  data/y.fa\n")
    size = tmp_path / "size.txt"
    size.write_text("  42\n")
    for infile, parser, kwargs in ((str(size), None, {}),
                                   (str(sums), ioutils.extract_checksum, {"file": "data/x.fa"}),
                                   (lambda w, input: input.sums, ioutils.extract_checksum,
                                    {"file": "./data/y.fa"})):
        ours = ioutils.parse_input(infile, parser=parser, **kwargs)
        theirs = sm_ioutils.parse_input(infile, parser=(
            sm_ioutils.extract_checksum if parser else None), **kwargs)
        inputs = type("In", (), {"sums": str(sums)})()
        assert ours({}, inputs) == theirs({}, inputs)
    with open(sums) as fh:
        with pytest.raises(WorkflowError, match="no checksum for 'data/z.fa'"):
            ioutils.extract_checksum(fh, file="data/z.fa")


def test_utils_match_snakemake(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ours, theirs = {"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"b": 1, "c": [1]}, "d": 1}
    utils.update_config(ours, {"a": {"c": [2], "e": {"f": 3}}, "d": {"x": 1}})
    sm_utils.update_config(theirs, {"a": {"c": [2], "e": {"f": 3}}, "d": {"x": 1}})
    assert ours == theirs
    assert utils.available_cpu_count() == sm_utils.available_cpu_count()
    utils.makedirs(["p/q", "r"])
    utils.makedirs("p/q")
    assert Path("p/q").is_dir() and Path("r").is_dir()
    Path("p/q/1.txt").write_text("a\nb\nc")
    Path("p/q/2.txt").write_text("")
    Path("p/z/").mkdir()
    Path("p/z/3.txt").write_text("x\n")
    assert utils.linecount("p/q/1.txt") == sm_utils.linecount("p/q/1.txt") == 3
    for kwargs in ({}, {"restriction": {"d": "q"}, "omit_value": "_"}):
        ours = sorted((f, dict(w.items())) for f, w in utils.listfiles("p/{d}/{n}.txt", **kwargs))
        theirs = sorted((f, dict(w.items())) for f, w in sm_utils.listfiles("p/{d}/{n}.txt",
                                                                           **kwargs))
        assert ours == theirs and ours
    assert utils.simplify_path(str(tmp_path / "p")) == sm_utils.simplify_path(str(tmp_path / "p"))


def test_format_uses_the_callers_variables_like_snakemake():
    sample, files = "a b", ["x.txt", "y.txt"]  # noqa: F841 - read through the frame
    assert utils.format("{sample:q} {files} {extra}", extra=1) == \
        sm_utils.format("{sample:q} {files} {extra}", extra=1) == "'a b' x.txt y.txt 1"


def test_min_version_checks_the_string():
    utils.min_version("8.0")
    utils.min_version("5.24.1")
    with pytest.raises(WorkflowError, match="not a version number"):
        utils.min_version("eight")


def test_io_names_and_flags():
    assert io.expand("{a}.{b}", a=[1, 2], b="x") == sm_io.expand("{a}.{b}", a=[1, 2], b="x")
    assert io.expand("{a}{b}", zip, a="12", b="34") == sm_io.expand("{a}{b}", zip, a="12",
                                                                      b="34")
    assert io.multiext("a/b", ".bam", ".bai") == sm_io.multiext("a/b", ".bam", ".bai")
    for name in ("temp", "protected", "directory", "touch", "ancient"):
        assert io.is_flagged(getattr(io, name)("f.txt"), name)
        assert not io.is_flagged("f.txt", name)
    nl = io.Namedlist(fromdict={"x": 1, "y": [2, 3]})
    sm = sm_containers.Namedlist(fromdict={"x": 1, "y": [2, 3]})
    assert (nl.x, nl["y"], list(nl), nl.keys()) == (sm.x, sm["y"], list(sm), list(sm.keys()))
    assert list(io.InputFiles(["a", "b"])) == ["a", "b"]
    assert io.regex_from_filepattern("d/{s}.txt") and io.regex("d/{s}.txt") == \
        io.regex_from_filepattern("d/{s}.txt")


def test_exceptions_are_sciflows():
    assert issubclass(exceptions.WorkflowError, WorkflowError)
    with pytest.raises(exceptions.MissingInputException):
        raise MissingInputError("x")
    assert issubclass(exceptions.LookupError, WorkflowError)


def test_namespace_helpers_and_workflow_paths_in_a_snakefile(tmp_path, monkeypatch):
    """In the Snakefile, without imports: lookup/branch/evaluate/collect/exists/flatten/
    parse_input, and workflow.basedir/current_basedir/snakefile/source_path (the latter
    relative to the calling file, also when called later from an input function)."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "Snakefile").write_text(textwrap.dedent('''\
        config.update({"samples": {"a": {"kind": "x"}, "b": {"kind": "y"}}})
        include: "rules/more.smk"
        MAIN = (workflow.basedir, workflow.current_basedir, workflow.snakefile)
        rule all:
            input: collect("out/{s}.txt", s=flatten([["a"], "b"]))
        rule one:
            input:
                branch(evaluate("{s} == 'a'"), then="in/a.txt", otherwise=lookup(
                    dpath="samples/{s}/kind", within=config)),
                script=from_include,
            output: "out/{s}.txt"
            params: e=exists("in"), size=parse_input("in/size", parser=None)
            shell: "cat {input} > {output}"
        '''))
    (tmp_path / "rules" / "more.smk").write_text(textwrap.dedent('''\
        INCLUDED = (workflow.current_basedir, workflow.snakefile, workflow.source_path("x.py"))
        def from_include(wildcards):
            return os.path.relpath(workflow.source_path("../in/helper.py"))
        '''))
    (tmp_path / "in").mkdir()
    (tmp_path / "y").write_text("1")
    for name in ("a.txt", "helper.py", "size"):
        (tmp_path / "in" / name).write_text("1")
    monkeypatch.chdir(tmp_path)
    wf = load_workflow("Snakefile")
    root, rules = str(tmp_path), str(tmp_path / "rules")
    assert wf.globals["MAIN"] == (root, root, str(tmp_path / "Snakefile"))
    assert wf.globals["INCLUDED"] == (rules, str(tmp_path / "rules" / "more.smk"),
                                      os.path.join(rules, "x.py"))
    jobs = {tuple(j.output)[0]: j for j in build_dag(wf).jobs if j.rule.name == "one"}
    assert list(jobs["out/a.txt"].input) == ["in/a.txt", "in/helper.py"]
    assert list(jobs["out/b.txt"].input) == ["y", "in/helper.py"]


@pytest.mark.parametrize("kwargs", [
    {}, {"filename_params": ["gamma", "alpha"]}, {"filename_params": "*", "filename_sep": "-"},
    {"param_sep": ":"}, {"single_wildcard": "params"}])
def test_paramspace_matches_snakemake(kwargs):
    table = pd.DataFrame({"alpha": [1, 2], "beta": [0.5, None], "gamma": ["x", "y"],
                          "flag": [True, False]})
    ours, theirs = utils.Paramspace(table, **kwargs), sm_utils.Paramspace(table, **kwargs)
    assert ours.wildcard_pattern == theirs.wildcard_pattern
    assert list(ours.instance_patterns) == list(theirs.instance_patterns)
    for pattern in theirs.instance_patterns:
        if kwargs.get("single_wildcard"):
            w = {"params": pattern}
        else:
            found = io.glob_wildcards(theirs.wildcard_pattern, files=[pattern])
            w = {k: v[0] for k, v in found._asdict().items()}
        a, b = ours.instance(w), theirs.instance(w)
        assert {k: (None if pd.isna(v) else v) for k, v in a.items()} == \
            {k: (None if pd.isna(v) else v) for k, v in b.items()}
        assert {k: type(v) for k, v in a.items()} == {k: type(v) for k, v in b.items()}
    assert list(ours["alpha"]) == [1, 2] and ours.shape == theirs.shape


def test_srcdir_print_exception_and_logger(tmp_path, monkeypatch, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "Snakefile").write_text(
        "from snakemake.workflow import srcdir as imported\ninclude: 'sub/r.smk'\n"
        "HERE = (srcdir('a.py'), imported('b.py'))\n")
    (tmp_path / "sub" / "r.smk").write_text("THERE = srcdir('c.py')\n")
    monkeypatch.chdir(tmp_path)
    wf = load_workflow("Snakefile")
    assert wf.globals["HERE"] == (str(tmp_path / "a.py"), str(tmp_path / "b.py"))
    assert wf.globals["THERE"] == str(tmp_path / "sub" / "c.py")
    exceptions.print_exception(WorkflowError("broken", hint="fix it"))
    assert capsys.readouterr().err == "broken\nfix it\n"
    assert utils.logger is __import__("sciflow.compat.snakemake.logging").compat.snakemake \
        .logging.logger


def test_rule_items_at_the_top_level_defer_to_the_job(tmp_path, monkeypatch):
    """``params: x=input.ref`` etc. (Snakemake 8's rule-item proxies in the namespace)."""
    (tmp_path / "Snakefile").write_text(textwrap.dedent('''\
        rule a:
            input: "in.txt", ref="ref.fa"
            output: "out/{s}.txt"
            threads: 3
            resources: mem_mb=250
            params: r=input.ref, first=input[0], o=output[0], t=threads, m=resources.mem_mb
            shell: "touch {output}"
        '''))
    for name in ("in.txt", "ref.fa"):
        (tmp_path / name).write_text("x")
    monkeypatch.chdir(tmp_path)
    dag = build_dag(load_workflow("Snakefile"), ["out/q.txt"])
    (job,) = dag.jobs
    assert dict(job.params.items()) == {"r": "ref.fa", "first": "in.txt", "o": "out/q.txt",
                                        "t": 3, "m": 250}
