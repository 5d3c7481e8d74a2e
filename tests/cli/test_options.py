"""``sciflow run`` option parsing: unknown options name the nearest one, ``--cores all`` /
bare ``-c`` / ``-j N`` as in Snakemake, and every new flag reaches ``RunOptions``."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sciflow.cli import build_parser, main
from sciflow.cli.parser import nearest_option
from sciflow.cli.run import apply_profiles, options_from_args

SCIFLOW = Path(sys.executable).parent / "sciflow"


@pytest.mark.parametrize("argv, word, guess", [
    (["run", "--cors", "2"], "--cors", "--cores"),
    (["run", "--keep-goign"], "--keep-goign", "--keep-going"),  # (prefixes are abbreviations)
    (["run", "--latency_wait", "3"], "--latency_wait", "--latency-wait"),
    (["run", "--set-treads", "a=1"], "--set-treads", "--set-threads"),
    (["dag", "--rulegrph"], "--rulegrph", "--rulegraph"),
])
def test_unknown_option_names_the_nearest_one(argv, word, guess, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"unknown option {word}; did you mean {guess}?" in err
    assert "usage:" not in err and len(err.splitlines()) == 2  # not the whole usage


def test_unknown_option_without_a_near_one_and_stray_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--zzzzzz"])
    assert "unknown option --zzzzzz\n" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["lint", "stray"])
    assert exc.value.code == 2 and "unexpected argument: stray" in capsys.readouterr().err


def test_nearest_option_reads_one_dash_long_options():
    assert nearest_option("-cores", ["-c", "--cores", "--cluster"]) == "--cores"
    assert nearest_option("--corez=3", ["--cores", "--config"]) == "--cores"


def options(argv: list[str]):
    args = build_parser().parse_args(["run", *argv])
    apply_profiles(args)
    return options_from_args(args)


def test_cores_all_bare_c_and_jobs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SNAKEMAKE_PROFILE", raising=False)
    assert options(["--cores", "all"]).cores is None          # None: every core
    assert options(["-c"]).cores is None
    assert options(["-c", "3"]).cores == 3
    assert options(["-j", "5"]).cores == 5                    # -j: alias of --cores locally
    assert options(["-j", "unlimited"]).cores is None
    assert options(["-j", "5", "-c", "2"]).cores == 2         # --cores wins, as Snakemake
    for bad in (["-c", "abc"], ["-c", "0"], ["-j", "x"], ["--retries", "-1"],
                ["--latency-wait", "soon"]):
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args(["run", *bad])
        assert exc.value.code == 2


def test_new_flags_reach_run_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SNAKEMAKE_PROFILE", raising=False)
    o = options(["--latency-wait", "7", "--retries", "2", "--set-threads", "a=3",
                 "--set-resources", "a:mem_mb=100", "a:partition=short",
                 "--default-resources", "disk_mb=max(2*input.size_mb, 1000)",
                 "--all-temp", "--wrapper-prefix", "file:///w/", "--use-conda",
                 "--conda-prefix", "/envs", "--use-singularity", "--use-envmodules",
                 "--cache", "a", "-p", "-k"])
    assert (o.latency_wait, o.retries, o.set_threads) == (7.0, 2, {"a": 3})
    assert o.set_resources["a"]["mem_mb"] == 100
    assert o.set_resources["a"]["partition"]({}, None, 1, 1) == "short"  # not Python: a string
    assert set(o.default_resources) == {"mem_mb", "disk_mb", "tmpdir"}  # Snakemake's full set
    assert o.all_temp and o.use_conda and o.use_apptainer and o.use_envmodules
    assert (o.wrapper_prefix, o.conda_prefix, o.cache) == ("file:///w/", "/envs", ["a"])
    assert o.printshellcmds and o.keep_going
    bare = options(["--cache", "--default-resources", "-T", "1", "-w", "2", "--nt"])
    assert bare.cache == [] and set(bare.default_resources) == {"mem_mb", "disk_mb", "tmpdir"}
    assert (bare.retries, bare.latency_wait, bare.notemp) == (1, 2.0, True)
    plain = options([])
    assert plain.default_resources is None and plain.retries is None and plain.cache is None


@pytest.mark.parametrize("argv", [["--set-threads", "a"], ["--set-threads", "a=x"],
                                  ["--set-resources", "a=1"], ["--default-resources", "x"]])
def test_bad_tuning_values_exit_2(tmp_path, argv, capsys):
    (tmp_path / "Snakefile").write_text("rule a:\n    output: 'a'\n    shell: 'touch {output}'\n")
    assert main(["run", "-n", "-d", str(tmp_path), *argv]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_bare_c_uses_every_core_in_a_real_run(tmp_path):
    (tmp_path / "Snakefile").write_text(
        "rule a:\n    output: 'a.txt'\n    threads: 64\n    shell: 'echo {threads} > {output}'\n")
    res = subprocess.run([str(SCIFLOW), "run", "-q", "-c"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "a.txt").read_text().strip() == str(min(64, os.cpu_count() or 1))
