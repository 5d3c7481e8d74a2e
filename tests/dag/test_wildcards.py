"""sciflow.wildcards against snakemake.io (the oracle) and hand-derived cases."""
from __future__ import annotations

import itertools
import re

import pytest

from sciflow import wildcards as wc
from sciflow.errors import WildcardError, WorkflowError

sio = pytest.importorskip("snakemake.io")

PATTERNS = [
    "data/{sample}.txt",
    "{a}/{b}_{a}.csv",
    "res/{id,[0-9]+}/{name}.out",
    "x/{w,a{2,3}}/y.txt",
    "plain/file.txt",
    "{only}",
    "a.{ext,txt|csv}",
    "{ a }/b",
    "pre{x}mid{y}suf",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_names_match_snakemake(pattern):
    assert set(wc.wildcard_names(pattern)) == sio.get_wildcard_names(pattern)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_regex_equivalent_to_snakemake(pattern):
    ours = wc.compile_pattern(pattern)
    theirs = re.compile(sio.regex_from_filepattern(pattern))
    names = wc.wildcard_names(pattern)
    alphabet = ["a", "b", "1", "22", "txt", "csv", "aa", "aaa", "x.y", "a/b"]
    for values in itertools.product(alphabet, repeat=len(names)):
        path = wc.apply_wildcards(pattern, dict(zip(names, values)))
        m1, m2 = ours.fullmatch(path), theirs.match(path)
        assert bool(m1) == bool(m2), (pattern, path)
        if m1:
            assert m1.groupdict() == m2.groupdict()


def test_repeated_wildcard_must_be_equal():
    r = wc.compile_pattern("{a}/{b}_{a}.csv")
    assert r.fullmatch("x/y_x.csv").groupdict() == {"a": "x", "b": "y"}
    assert r.fullmatch("x/y_z.csv") is None


def test_constraints_argument_and_inline_precedence():
    r = wc.compile_pattern("{s}.{n}", {"n": r"\d+", "s": "[a-z]+"})
    assert r.fullmatch("abc.12") and not r.fullmatch("abc.x") and not r.fullmatch("A.1")
    # inline wins over the given constraints, as Snakemake's update_wildcard_constraints does
    r = wc.compile_pattern("{n,[a-z]+}", {"n": r"\d+"})
    assert r.fullmatch("ab") and not r.fullmatch("12")
    # the cache must not mix results with and without constraints
    assert wc.compile_pattern("{n}").fullmatch("xy")


def test_escaped_braces_are_literal():
    r = wc.compile_pattern("lit{{x}}/{y}")
    assert r.fullmatch("lit{x}/v").groupdict() == {"y": "v"}
    assert wc.wildcard_names("lit{{x}}/{y}") == ["y"]
    assert wc.apply_wildcards("lit{{x}}/{y}", {"y": 1}) == "lit{x}/1"


def test_bad_constraint_is_wildcard_error():
    with pytest.raises(WildcardError):
        wc.compile_pattern("{a,[}")
    with pytest.raises(WildcardError):
        wc.compile_pattern("{a}_{a,x}")


@pytest.mark.parametrize("pattern", PATTERNS)
def test_apply_matches_snakemake(pattern):
    values = {n: f"v{i}" for i, n in enumerate(wc.wildcard_names(pattern))}
    assert wc.apply_wildcards(pattern, values) == sio.apply_wildcards(pattern, values)


def test_apply_missing_names_the_wildcard():
    with pytest.raises(WildcardError, match="'sample'"):
        wc.apply_wildcards("x/{sample}.txt", {"other": 1})


def test_prefix_suffix():
    assert wc.constant_prefix("res/{a}/x_{b}.txt") == "res/"
    assert wc.constant_suffix("res/{a}/x_{b}.txt") == ".txt"
    assert wc.constant_prefix("{a}.txt") == ""
    assert wc.constant_suffix("a/{b}") == ""
    assert wc.constant_prefix("plain.txt") == wc.constant_suffix("plain.txt") == "plain.txt"
    from snakemake_interface_storage_plugins.io import get_constant_prefix
    for p in PATTERNS:
        assert wc.constant_prefix(p) == get_constant_prefix(p)


EXPAND_CASES = [
    (("{a}_{b}.txt",), dict(a=[1, 2], b=["x", "y"])),
    (("{a}_{b}.txt", zip), dict(a=[1, 2], b=["x", "y"])),
    ((["{a}/{{s}}.txt", "{a}.log"],), dict(a=["p", "q"])),
    (("{a}_{b}",), dict(a=[1, 2], allow_missing=True)),
    (("{a}",), dict(a="xy")),
    (("{a:>3}",), dict(a=[1])),
    (("no_wildcards.txt",), dict(a=[1, 2])),
    ((["{a}_{b}", "{a}"], zip), dict(a=[1, 2], b=[3, 4])),
]


@pytest.mark.parametrize("args,kwargs", EXPAND_CASES)
def test_expand_matches_snakemake(args, kwargs):
    assert wc.expand(*args, **kwargs) == [str(x) for x in sio.expand(*args, **kwargs)]


def test_expand_missing_is_error_and_deferred_functions():
    with pytest.raises(WildcardError):
        wc.expand("{a}_{b}", a=[1])
    f = wc.expand("{s}_{n}.txt", s=lambda w: [w["x"]], n=[1, 2])
    assert f({"x": "q"}) == ["q_1.txt", "q_2.txt"]


def test_glob_wildcards_matches_snakemake(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ["data/a.txt", "data/b.txt", "data/sub/c.txt", "data/d.csv", "other/e.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    for pattern in ["data/{s}.txt", "data/{s,[^/]+}.txt", "{d}/{s}.txt"]:
        ours, theirs = wc.glob_wildcards(pattern), sio.glob_wildcards(pattern)
        assert ours._fields == theirs._fields
        for field in ours._fields:
            assert sorted(getattr(ours, field)) == sorted(getattr(theirs, field))
    files = ["x/1.txt", "x/2.txt", "y/3.txt"]
    assert wc.glob_wildcards("x/{n}.txt", files=files).n == ["1", "2"]


def test_multiext():
    assert wc.multiext("a/b", ".bam", ".bai") == [str(x) for x in sio.multiext("a/b", ".bam", ".bai")]
    named = wc.multiext("a/b", bam=".bam", bai=".bai")
    assert named == {"bam": "a/b.bam", "bai": "a/b.bai"}
    with pytest.raises(WorkflowError):
        wc.multiext("a", ".x", y=".y")
    with pytest.raises(WorkflowError):
        wc.multiext("a", "/x")
