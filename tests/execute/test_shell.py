"""Shell formatting compared against Snakemake's own ``snakemake.utils.format`` (the oracle)."""
from __future__ import annotations

import subprocess

import pytest

from sciflow.errors import RuleError, SciflowError
from sciflow.execute.shell import ShellCommandError, format_shell, shell
from sciflow.model import NamedList, SourceLoc, Wildcards

sm_utils = pytest.importorskip("snakemake.utils")
sm_io = pytest.importorskip("snakemake.iocontainers")


def to_snakemake(value):
    """The same values as Snakemake's containers (Namedlist, Wildcards)."""
    if isinstance(value, NamedList):
        cls = sm_io.Wildcards if isinstance(value, Wildcards) else sm_io.Namedlist
        out = cls(toclone=list(value))
        for name, (start, end) in value._names.items():
            out._set_name(name, start, end)
        return out
    return value


def namespace():
    return {
        "input": NamedList(["data/a b.txt", "data/c.txt"], {"ref": "ref/genome.fa",
                                                            "reads": ["r1.fq", "r2.fq"]}),
        "output": NamedList(["out/x.txt"], {"summary": "out/sum's.tsv"}),
        "params": NamedList((), {"k": 5, "opts": "--fast --x=1", "empty": "", "lst": [1, 2]},
                            flatten=False),
        "wildcards": Wildcards({"sample": "A1", "group": "ctl"}),
        "threads": 4,
        "resources": NamedList((), {"mem_mb": 2048, "tmpdir": "/tmp"}, flatten=False),
        "log": NamedList(["logs/x.log"]),
        "config": {"k": "v", "n": 3, "nested": {"a": "b"}, "ks": ["p", "q"]},
        "rule": "align",
    }


CASES = [
    "cat {input} > {output}",
    "cat {input.ref} {input[0]} {input[1]} > {output[0]}",
    "tool --reads {input.reads} --ref {input.ref:q}",
    "echo {input:q} {output.summary:q}",
    "echo {wildcards.sample} {wildcards} {wildcards.group:q}",
    "run -t {threads} -m {resources.mem_mb} --tmp {resources.tmpdir}",
    "x {params.k} {params.opts} {params.opts:q} [{params.empty:q}] {params.lst}",
    "x {params.lst:q} {config[k]} {config[n]} {config[nested][a]} {config[ks]}",
    "awk '{{print $1}}' {input[0]:q} 2> {log}",
    "echo {rule} {{}} {{literal}}",
    "printf '%s' {params.k:>4} {threads:03d}",
    "echo {input:u} {output.summary:u}",
    "",
    "no placeholders at all",
]


@pytest.mark.parametrize("cmd", CASES)
def test_format_matches_snakemake(cmd):
    ns = namespace()
    expected = sm_utils.format(cmd, **{k: to_snakemake(v) for k, v in ns.items()})
    assert format_shell(cmd, ns) == expected


@pytest.mark.parametrize("cmd,missing", [
    ("echo {sample}", "sample"),
    ("echo {input.nope}", "nope"),
    ("echo {config[missing]}", "missing"),
    ("echo {undefined_name}", "undefined_name"),
])
def test_unknown_names_are_rule_errors_at_the_rule(cmd, missing):
    loc = SourceLoc("Snakefile", 7, 9)
    with pytest.raises(RuleError) as info:
        format_shell(cmd, namespace(), loc, rule="align")
    err = info.value
    assert err.loc == loc and missing in err.message and "align" in err.message
    # and Snakemake rejects the same command
    with pytest.raises(Exception):
        sm_utils.format(cmd, **{k: to_snakemake(v) for k, v in namespace().items()})


def test_wildcard_name_without_prefix_suggests_wildcards_dot():
    with pytest.raises(RuleError) as info:
        format_shell("echo {sample}", namespace())
    assert "wildcards.sample" in info.value.hint


def test_index_out_of_range_and_stray_brace():
    with pytest.raises(RuleError, match="index"):
        format_shell("echo {input[9]}", namespace())
    with pytest.raises(RuleError):
        format_shell("awk '{print $1}'", namespace())


def test_shell_formats_with_callers_locals_and_runs_strict_bash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    output = NamedList([str(tmp_path / "o.txt")])
    name = "world"
    shell("echo hello {name} > {output:q}")
    assert (tmp_path / "o.txt").read_text() == "hello world\n"
    assert shell("echo {x}", read=True, x=3) == "3\n"
    with pytest.raises(ShellCommandError) as info:
        shell("false; echo not reached > {output}")  # set -e stops at false
    assert isinstance(info.value, subprocess.CalledProcessError)
    assert isinstance(info.value, SciflowError) and info.value.returncode == 1
    assert (tmp_path / "o.txt").read_text() == "hello world\n"
    with pytest.raises(ShellCommandError):
        shell("cat /nonexistent | cat")  # pipefail
    with pytest.raises(ShellCommandError):
        shell("echo $UNSET_VARIABLE_X")  # nounset


def test_shell_prefix_is_applied(tmp_path, monkeypatch):
    from sciflow.execute.shell import Shell
    monkeypatch.chdir(tmp_path)
    sh = Shell()
    sh.prefix("export GREETING=hi; ")
    assert sh("echo $GREETING", read=True) == "hi\n"
