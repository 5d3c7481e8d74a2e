"""Hostile input gets bounded resources and clean errors (issue 8, deliverables 6 and 7).

* a huge string literal on one line: the parser's memory is linear with a small constant
  (compared with Python's own ``compile()`` of the same literal, each in a fresh process);
* an error in a huge line prints a window around the caret, not the line;
* YAML alias bombs in ``--configfile``/``configfile:``/``--config``/profiles are refused
  with a ConfigError naming the file; provenance never expands a config beyond a cap;
* a UTF-8 byte-order mark just works; a closed pipe, an unwritable export path and an
  unexpected exception end without a traceback.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sciflow.cli import main
from sciflow.configload import RECORD_CAP, bounded_plain, load_yaml
from sciflow.errors import ConfigError, ParseError
from sciflow.model import SourceLoc

SCIFLOW = str(Path(sys.executable).with_name("sciflow"))
RULE = 'rule a:\n    output: "o.txt"\n    shell: "touch {output}"\n'

# Peak RSS growth of one operation, in a fresh interpreter (imports done before measuring).
# VmHWM (not ru_maxrss, which survives exec() and so starts at the forking test process's
# size), reset to the current RSS through /proc/self/clear_refs just before the operation.
_MEASURE = textwrap.dedent("""
    import json, sys, time
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "lint":
        from sciflow.cli import main
        from sciflow import syntax
        syntax.parser()

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = status("VmRSS")
    t0 = time.perf_counter()
    if mode == "compile":
        compile(open(path, encoding="utf-8").read(), path, "exec")
        rc = 0
    else:
        rc = main(["lint", "-s", path])
    print(json.dumps({"rc": rc, "kb": status("VmHWM") - base, "s": time.perf_counter() - t0}))
""")


def _measure(mode: str, path: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", _MEASURE, mode, str(path)], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def _memory_ratio(tmp_path: Path, size: int) -> tuple[float, dict]:
    literal = '"' + "ab\\\"(#[{" * (size // 9) + '"'
    py = tmp_path / "big.py"
    py.write_text(f"X = {literal}\n")
    smk = tmp_path / "Snakefile"
    smk.write_text(f"X = {literal}\n" + RULE)
    ours, python = _measure("lint", smk), _measure("compile", py)
    assert ours["rc"] == 0 and python["rc"] == 0
    return ours["kb"] / max(python["kb"], 1), ours


def test_a_5mb_string_literal_parses_in_memory_linear_in_the_input(tmp_path):
    ratio, ours = _memory_ratio(tmp_path, 5_000_000)
    assert ratio <= 10, f"lint used {ratio:.1f}x the memory of Python's compile()"
    assert ours["s"] < 30


@pytest.mark.slow
def test_a_50mb_string_literal_parses_within_10x_python_compile(tmp_path):
    ratio, ours = _memory_ratio(tmp_path, 50_000_000)
    assert ratio <= 10, f"lint used {ratio:.1f}x the memory of Python's compile()"
    assert ours["s"] < 60


def test_millions_of_open_brackets_stop_at_once_in_little_memory(tmp_path):
    (tmp_path / "Snakefile").write_text("x = " + "(" * 5_000_000 + "\n" + RULE)
    ours = _measure("lint", tmp_path / "Snakefile")
    assert ours["rc"] == 1 and ours["s"] < 10
    assert ours["kb"] < 100_000  # 5 M bracket tokens on a stack would be gigabytes


def test_an_unterminated_huge_string_prints_a_window_around_the_caret(tmp_path):
    (tmp_path / "Snakefile").write_text('x = 1\nX = [1, "' + "a" * 2_000_000 + "\n" + RULE)
    res = subprocess.run([SCIFLOW, "lint"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1
    assert "Snakefile:2:9: unterminated string" in res.stderr
    assert len(res.stderr) < 1000 and "Traceback" not in res.stderr
    source, caret = [line for line in res.stderr.splitlines() if line.startswith("    ")][:2]
    assert source.endswith("…") and source[caret.index("^")] == '"'


def test_long_lines_are_cut_on_both_sides_of_the_caret():
    line = "".join(chr(ord("a") + i % 26) for i in range(10_000))
    err = ParseError("boom", SourceLoc("f", 1, 5001), source_line=line)
    source, caret = err.format().splitlines()[1:3]
    assert source.startswith("    …") and source.endswith("…") and len(source) < 100
    assert source[caret.index("^")] == line[5000]
    short = ParseError("boom", SourceLoc("f", 1, 3), source_line="abcdef").format()
    assert short.splitlines()[1:] == ["    abcdef", "      ^"]


# ------------------------------------------------------------------------------ config bombs
def _laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _cli(argv, cwd: Path, capsys) -> tuple[int, str]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        code = main(argv)
    finally:
        os.chdir(old)
    return code, capsys.readouterr().err


def test_a_billion_laughs_configfile_is_refused_quickly(tmp_path, capsys):
    (tmp_path / "Snakefile").write_text(RULE)
    (tmp_path / "bomb.yaml").write_text(_laughs())
    t0 = time.perf_counter()
    code, err = _cli(["run", "-n", "--configfile", "bomb.yaml"], tmp_path, capsys)
    assert time.perf_counter() - t0 < 20
    assert code == 1 and "bomb.yaml" in err and "aliases expand" in err


def test_a_billion_laughs_in_a_configfile_statement_is_refused(tmp_path, capsys):
    (tmp_path / "Snakefile").write_text('configfile: "bomb.yaml"\n' + RULE)
    (tmp_path / "bomb.yaml").write_text(_laughs())
    code, err = _cli(["lint"], tmp_path, capsys)
    assert code == 1 and "bomb.yaml" in err and "aliases expand" in err


def test_a_billion_laughs_in_a_config_value_and_a_profile_are_refused(tmp_path, capsys):
    (tmp_path / "Snakefile").write_text(RULE)
    bomb = _laughs().replace("\n", "\n  ")
    flow = "{" + ", ".join(_laughs().splitlines()) + "}"
    code, err = _cli(["run", "-n", "--config", f"x={flow}"], tmp_path, capsys)
    assert code == 1 and "--config x" in err and "aliases expand" in err
    profile = tmp_path / "prof"
    profile.mkdir()
    (profile / "config.yaml").write_text(f"config:\n  {bomb}\n")
    code, err = _cli(["run", "-n", "--profile", str(profile)], tmp_path, capsys)
    assert code == 2 and "config.yaml" in err and "aliases expand" in err  # profile: usage


def test_recursive_aliases_are_refused_and_modest_ones_load(tmp_path):
    with pytest.raises(ConfigError, match="refers to itself"):
        load_yaml("a: &a [1, *a]\n", "c.yaml")
    data = load_yaml(_laughs(3), "c.yaml")  # 1,000 strings: an ordinary use of anchors
    assert data["a2"][9][9] == ["lol"] * 10


def test_yaml_errors_name_file_line_and_column(tmp_path, capsys):
    (tmp_path / "Snakefile").write_text(RULE)
    (tmp_path / "bad.yaml").write_text("a: 1\nb: [1, 2\n")
    code, err = _cli(["run", "-n", "--configfile", "bad.yaml"], tmp_path, capsys)
    assert code == 1 and "bad.yaml:3:1: not valid YAML/JSON" in err and "Traceback" not in err


@pytest.mark.parametrize("content, message", [
    (b"cores: [1\n", "config.yaml:2:1: profile is not valid YAML"),
    (b"- a\n- b\n", "a profile must be a mapping"),
    (b"cores: \xff\xfe\n", "cannot read profile"),
    (None, "profile 'prof' not found"),
])
def test_broken_profiles_are_clean_errors_naming_the_file(tmp_path, capsys, content, message):
    (tmp_path / "Snakefile").write_text(RULE)
    (tmp_path / "prof").mkdir()
    if content is not None:
        (tmp_path / "prof" / "config.yaml").write_bytes(content)
    code, err = _cli(["run", "-n", "--profile", "prof"], tmp_path, capsys)
    assert code == 2 and message in err and "config.yaml" in err, err  # profiles: usage errors


def test_provenance_caps_a_config_expanded_by_code():
    row = ["x" * 100] * 1000
    config = {"big": [row] * 100_000}  # 10 GB as JSON, a few MB in memory
    t0 = time.perf_counter()
    recorded = bounded_plain(config)
    assert time.perf_counter() - t0 < 5
    assert list(recorded) == ["sciflow:truncated"]
    small = {"a": [1, 2], "b": {"c": "d"}}
    assert bounded_plain(small) == small
    assert len(json.dumps(bounded_plain({"s": "y" * (RECORD_CAP - 100)}))) < RECORD_CAP


def test_a_run_records_a_capped_config(tmp_path):
    (tmp_path / "Snakefile").write_text(
        'ROW = ["x" * 100] * 1000\nconfig["big"] = [ROW] * 100000\n' + RULE)
    res = subprocess.run([SCIFLOW, "run", "-c1"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    rq = tmp_path / "config.rq"
    rq.write_text("PREFIX prov: <http://www.w3.org/ns/prov#>\n"
                  "PREFIX sf: <https://w3id.org/sciflow/ns#>\n"
                  "SELECT ?v WHERE { ?c a sf:Config ; prov:value ?v }\n")
    res = subprocess.run([SCIFLOW, "prov", "query", str(rq), "--format", "json"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    (value,) = [row["v"] for row in json.loads(res.stdout)]
    assert "sciflow:truncated" in value and len(value) < 1000


# ------------------------------------------------------------------------------ clean errors
def test_a_utf8_bom_just_works_in_files_and_configs(tmp_path, capsys):
    bom = "\ufeff"
    (tmp_path / "Snakefile").write_text(bom + 'configfile: "c.yaml"\ninclude: "r.smk"\n',
                                        encoding="utf-8")
    (tmp_path / "r.smk").write_text(bom + 'rule a:\n    output: config["out"]\n'
                                    '    shell: "touch {output}"\n', encoding="utf-8")
    (tmp_path / "c.yaml").write_text(bom + "out: o.txt\n", encoding="utf-8")
    (tmp_path / "c.json").write_text(bom + '{"out": "p.txt"}', encoding="utf-8")
    code, err = _cli(["run", "-n"], tmp_path, capsys)
    assert code == 0, err
    code, err = _cli(["run", "-n", "p.txt", "--configfile", "c.json"], tmp_path, capsys)
    assert code == 0, err


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("prov")
    (d / "Snakefile").write_text(RULE)
    res = subprocess.run([SCIFLOW, "run", "-c1"], cwd=d, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    (d / "all.rq").write_text("SELECT ?s ?p ?o WHERE { ?s ?p ?o }\n")
    return d


@pytest.mark.parametrize("command", ["prov query all.rq", "prov query all.rq --format csv",
                                     "prov runs", "prov lineage o.txt",
                                     "--help"])
def test_a_closed_pipe_ends_quietly(recorded_run, command):
    res = subprocess.run(f"{SCIFLOW} {command} | head -1 > /dev/null", shell=True,
                         cwd=recorded_run, capture_output=True, text=True, timeout=120,
                         executable="/bin/bash")
    assert res.stderr == "", res.stderr
    res = subprocess.run(f"{SCIFLOW} {command} | head -c 0", shell=True, cwd=recorded_run,
                         capture_output=True, text=True, timeout=120, executable="/bin/bash")
    assert "Traceback" not in res.stderr and "BrokenPipe" not in res.stderr, res.stderr


@pytest.mark.parametrize("fmt", ["turtle", "jsonld", "provn", "ro-crate"])
def test_export_to_an_unwritable_path_names_it(recorded_run, capsys, fmt):
    (recorded_run / "file.txt").write_text("x")
    target = str(recorded_run / "file.txt" / "sub" / "out")
    code, err = _cli(["prov", "export", "--format", fmt, "-o", target], recorded_run, capsys)
    assert code == 1 and "cannot write the export to" in err and "file.txt" in err
    assert "Traceback" not in err


def test_an_unexpected_exception_is_reported_as_a_bug_without_traceback(tmp_path, capsys,
                                                                        monkeypatch):
    import sciflow.cli.lint as lint

    def broken(path):  # stands for a bug anywhere below the command line
        return {}["missing"]

    (tmp_path / "Snakefile").write_text(RULE)
    monkeypatch.setattr(lint, "check_workflow", broken)
    monkeypatch.delenv("SCIFLOW_DEBUG", raising=False)
    code, err = _cli(["lint"], tmp_path, capsys)
    assert code == 3
    assert "internal error: KeyError: 'missing' (in sciflow/cli/lint.py:" in err
    assert "bug in sciflow" in err
    assert "--debug" in err and "Traceback" not in err
    with pytest.raises(KeyError):
        main(["--debug", "lint", "-s", str(tmp_path / "Snakefile")])
    monkeypatch.setenv("SCIFLOW_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["lint", "-s", str(tmp_path / "Snakefile")])
