"""Fuzzing through the command line: mutated Snakefiles, config files (YAML/JSON) and
profiles get a clean error or work — never a traceback, never "internal error".

Everything goes through ``sciflow.cli.main`` in this process (the same code path as the
console script, minus the interpreter start), so a few thousand examples fit in the default
suite. ``SCIFLOW_FUZZ_SCALE`` multiplies the example counts; the ``slow`` tests run 20x more.

A clean outcome is: exit status 0, or 1/2 with a message on stderr that is not the bug
report of ``sciflow.cli.bug_report`` — and, for a broken Snakefile, located as FILE:LINE.
"""
from __future__ import annotations

import json
import os
import re
import string
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sciflow.cli import main
from sciflow.configload import parse_config_value, read_config_file
from sciflow.errors import ConfigError
from sciflow.parse import check_workflow
from tests.parse.test_mutations import mutated

SCALE = float(os.environ.get("SCIFLOW_FUZZ_SCALE", "1"))
RULES = ('rule all:\n    input: expand("out/{s}.txt", s=config.get("samples", ["a"]))\n\n'
         'rule make:\n    output: "out/{s}.txt"\n    params: p=config.get("p", 1)\n'
         '    shell: "echo {params.p} > {output}"\n')


def _settings(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def _cli(argv: list[str], cwd: str) -> tuple[int, str]:
    out, err = StringIO(), StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(argv)
    finally:
        os.chdir(old)
    return code, err.getvalue()


def _assert_clean(code: int, err: str, argv: list[str]) -> None:
    assert code in (0, 1, 2), f"{argv}: exit {code}\n{err[-3000:]}"
    assert "internal error" not in err and "Traceback" not in err, f"{argv}:\n{err[-3000:]}"
    if code:
        assert err.strip(), f"{argv}: exit {code} without a message"


# ------------------------------------------------------------------------------ Snakefiles
def _check_snakefile(source: str, command: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        Path(d, "Snakefile").write_text(source, encoding="utf-8", errors="surrogatepass")
        code, err = _cli(command, d)
        _assert_clean(code, err, command)
        if code and command[0] == "lint":
            assert re.search(r"Snakefile:\d+", err), err


def _check_loader(source: str) -> None:
    """What ``lint`` does, without building the argument parser (3x faster per example)."""
    with tempfile.TemporaryDirectory() as d:
        Path(d, "Snakefile").write_text(source, encoding="utf-8")
        old = os.getcwd()
        os.chdir(d)
        try:
            with redirect_stdout(StringIO()), redirect_stderr(StringIO()):
                workflow, problems = check_workflow("Snakefile")
        finally:
            os.chdir(old)
        assert workflow is not None or problems
        for problem in problems:
            assert problem.loc is not None and problem.loc.line >= 1, repr(problem)
            problem.format()


@_settings(500)
@given(source=mutated())
def test_mutated_snakefiles_load_cleanly(source):
    _check_loader(source)


@_settings(100)
@given(source=mutated())
def test_mutated_snakefiles_lint_cleanly(source):
    _check_snakefile(source, ["lint"])


@_settings(60)
@given(source=mutated())
def test_mutated_snakefiles_dry_run_cleanly(source):
    _check_snakefile(source, ["run", "-n", "-c1"])


_BYTES_NOISE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                       max_size=40)


@_settings(200)
@given(prefix=_BYTES_NOISE, junk=_BYTES_NOISE, at=st.integers(0, 400))
def test_snakefiles_with_arbitrary_characters_load_cleanly(prefix, junk, at):
    _check_loader(prefix + RULES[:at] + junk + RULES[at:])


# ------------------------------------------------------------------------------ config files
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                     st.text(max_size=6))
_data = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abcxyz"), inner, max_size=3)),
    max_leaves=8)
_YAML_NOISE = [":", "- ", "&a ", "*a", "*b", "!!python/object:os.system ", "!!binary ", "{", "[",
               "]", "}", "'", '"', "\t", "\n  ", "? ", "---\n", "...\n", "%YAML 1.1\n", "\ufeff",
               "<<: *a\n", "!!set ", "!!omap ", "@", "`", "|", ">"]


_YAML_DOCS = ["samples: [a, b]\np: &x {k: [1, 2]}\nq: *x\n", "base: &b\n  x: 1\nnew:\n  <<: *b\n  y: 2\n",
              "- a\n- b\n", "p: !!str 3\nsamples: !!seq [a]\n", "p: |\n  text\n  more\n",
              "? [a, b]\n: 1\n", "p: 0x1F\nd: 2001-12-14t21:59:43.10-05:00\n"]


@st.composite
def _config_text(draw):
    """A config as JSON (which is YAML too) or as a YAML document using its features, then
    damaged by a few insertions and deletions."""
    suffix = draw(st.sampled_from([".json", ".yaml", ".yml"]))
    if suffix != ".json" and draw(st.booleans()):
        text = draw(st.sampled_from(_YAML_DOCS))
    else:
        data = draw(_data)
        if draw(st.booleans()):
            data = {"samples": draw(st.lists(st.sampled_from("abc"), max_size=3)), "p": data}
        text = json.dumps(data)
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:i] + draw(st.sampled_from(_YAML_NOISE)) + text[i:]
        else:
            text = text[:i] + text[i + 1:]
    return text, suffix


@_settings(700)
@given(config=_config_text())
def test_fuzzed_config_files_read_cleanly(config):
    text, suffix = config
    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d, "c" + suffix))
        Path(path).write_text(text, encoding="utf-8")
        try:
            data = read_config_file(path)
        except ConfigError as exc:
            assert path in str(exc) or (exc.loc and exc.loc.path == path), str(exc)
            exc.format()
        else:
            assert isinstance(data, dict)


@_settings(60)
@given(config=_config_text(), how=st.sampled_from(["--configfile", "configfile:"]))
def test_fuzzed_config_files_run_cleanly(config, how):
    text, suffix = config
    with tempfile.TemporaryDirectory() as d:
        Path(d, "c" + suffix).write_text(text, encoding="utf-8")
        if how == "configfile:":
            Path(d, "Snakefile").write_text(f'configfile: "c{suffix}"\n' + RULES)
            argv = ["run", "-n", "-c1"]
        else:
            Path(d, "Snakefile").write_text(RULES)
            argv = ["run", "-n", "-c1", "--configfile", "c" + suffix]
        code, err = _cli(argv, d)
        _assert_clean(code, err, argv)


@_settings(500)
@given(value=st.text(max_size=30))
def test_fuzzed_config_values_parse_cleanly(value):
    try:
        parse_config_value(value, "k")
    except ConfigError as exc:
        assert "--config k" in str(exc)


@_settings(30)
@given(value=st.text(max_size=30), key=st.text(string.ascii_letters + "_", min_size=1,
                                                max_size=5))
def test_fuzzed_config_values_run_cleanly(key, value):
    with tempfile.TemporaryDirectory() as d:
        Path(d, "Snakefile").write_text(RULES)
        argv = ["run", "-n", "-c1", "--config", f"{key}={value}"]
        code, err = _cli(argv, d)
        _assert_clean(code, err, argv)


# ------------------------------------------------------------------------------ profiles
_PROFILE_KEYS = ["cores", "jobs", "keep-going", "dry-run", "printshellcmds", "config",
                 "configfile", "forcerun", "until", "rerun-incomplete", "latency-wait",
                 "nonsense", "directory", "snakefile", "targets"]


@st.composite
def _profile_text(draw):
    import yaml
    keys = draw(st.lists(st.sampled_from(_PROFILE_KEYS), max_size=4, unique=True))
    data = {k: draw(_data) for k in keys}
    text = yaml.safe_dump(data)
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(_YAML_NOISE)) + text[i:]
    return text


# Every profile value is checked by sciflow/profile.py with the command line's own parser;
# the structural cases (broken YAML, bombs, non-mappings) are in test_hostile_input.
@_settings(60)
@given(text=_profile_text())
def test_fuzzed_profiles_load_cleanly(text):
    with tempfile.TemporaryDirectory() as d:
        Path(d, "Snakefile").write_text(RULES)
        Path(d, "prof").mkdir()
        Path(d, "prof", "config.yaml").write_text(text, encoding="utf-8")
        argv = ["run", "-n", "--profile", "prof"]
        code, err = _cli(argv, d)
        _assert_clean(code, err, argv)


# ------------------------------------------------------------------------------ more, slowly
@pytest.mark.slow
def test_fuzz_at_twenty_times_the_examples(monkeypatch):
    import subprocess
    import sys
    env = dict(os.environ, SCIFLOW_FUZZ_SCALE=str(20 * SCALE))
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-m", "not slow", __file__], env=env, capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert res.returncode == 0, res.stdout[-5000:]
