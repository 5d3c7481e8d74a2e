"""Snakemake profiles on ``sciflow run``: where they are found (as Snakemake 9's
``get_profile_dir``), how keys are read and validated, and who wins (command line > workflow
profile > --profile > defaults). Plans are read from ``run -n --json``; the values a profile
sets are observed in the plan (config → params → outputs) or in a real job's output."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sciflow.cli import main
from sciflow.profile import find_profile, find_workflow_profile, profile_file

SCIFLOW = Path(sys.executable).parent / "sciflow"

SNAKEFILE = '''
rule all:
    input: expand("out/{s}.txt", s=config.get("samples", ["a"]))

rule make:
    output: "out/{s}.txt"
    threads: 4
    shell: "echo {wildcards.s} threads={threads} > {output}"
'''


@pytest.fixture
def wf(tmp_path, monkeypatch):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SNAKEMAKE_PROFILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-home"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg-site"))
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def planned_outputs(argv, capsys) -> list[str]:
    assert main(["run", "-n", "--json", *argv]) == 0
    return sorted(o for j in json.loads(capsys.readouterr().out)["jobs"] for o in j["outputs"])


# ------------------------------------------------------------------------------ lookup
def test_lookup_order_is_snakemakes(wf):
    home = write(wf / "xdg-home/snakemake/p/config.yaml", "cores: 1\n")
    site = write(wf / "xdg-site/snakemake/q/config.yaml", "cores: 1\n")
    assert find_profile("p") == home                   # $XDG_CONFIG_HOME/snakemake/NAME
    assert find_profile("q") == site                   # first of $XDG_CONFIG_DIRS + /snakemake
    here = write(wf / "p/config.yaml", "cores: 2\n")
    assert find_profile("p") == here                   # the current directory comes first
    assert find_profile(str(here)) == here             # a YAML file given by path
    assert find_profile(str(wf / "p")) == here         # a folder given by path
    with pytest.raises(Exception) as err:
        find_profile("missing")
    assert "missing" in str(err.value) and "xdg-home" in str(err.value)


def test_versioned_and_profile_yaml_names(tmp_path):
    write(tmp_path / "config.yaml", "")
    assert profile_file(tmp_path).name == "config.yaml"
    write(tmp_path / "profile.yaml", "")
    assert profile_file(tmp_path).name == "profile.yaml"  # Snakemake 9's main name
    write(tmp_path / "config.v8+.yaml", "")
    assert profile_file(tmp_path).name == "config.v8+.yaml"  # the highest version we are
    write(tmp_path / "config.v99+.yaml", "")                # not too old for
    assert profile_file(tmp_path).name == "config.v8+.yaml"


def test_workflow_profile_default_beside_the_workflow(tmp_path):
    snakefile = write(tmp_path / "workflow/Snakefile", SNAKEFILE)
    prof = write(tmp_path / "workflow/profiles/default/config.yaml", "cores: 1\n")
    assert find_workflow_profile(None, str(snakefile), cwd=tmp_path) == prof
    assert find_workflow_profile("none", str(snakefile), cwd=tmp_path) is None
    here = write(tmp_path / "profiles/default/config.yaml", "cores: 1\n")
    assert find_workflow_profile(None, str(snakefile), cwd=tmp_path) == here  # ./profiles first


# ------------------------------------------------------------------------------ keys and values
def test_dashes_underscores_and_mappings_become_options(wf, capsys):
    write(wf / "xdg-home/snakemake/p/config.yaml",
          "config:\n  samples: [x, y]\nkeep_going: true\nrerun-incomplete: true\n")
    assert planned_outputs(["--profile", "p"], capsys) == ["out/x.txt", "out/y.txt"]


def test_snakemake_profile_env_var_and_none(wf, capsys, monkeypatch):
    write(wf / "xdg-home/snakemake/p/config.yaml", "config:\n  samples: [e]\n")
    monkeypatch.setenv("SNAKEMAKE_PROFILE", "p")
    assert planned_outputs([], capsys) == ["out/e.txt"]
    assert planned_outputs(["--profile", "none"], capsys) == ["out/a.txt"]


def test_precedence_command_line_then_workflow_profile_then_profile(wf, capsys):
    write(wf / "gp/config.yaml", "config:\n  samples: [g]\n")
    assert planned_outputs(["--profile", "gp"], capsys) == ["out/g.txt"]
    write(wf / "profiles/default/config.yaml", "config:\n  samples: [w]\n")
    assert planned_outputs(["--profile", "gp"], capsys) == ["out/w.txt"]
    assert planned_outputs(["--profile", "gp", "--workflow-profile", "none"], capsys) == ["out/g.txt"]
    assert planned_outputs(["--profile", "gp", "--config", "samples=[c]"], capsys) == ["out/c.txt"]


def test_configfile_in_the_profile_folder_is_found_there(wf, capsys):
    write(wf / "gp/cfg.yaml", "samples: [from_profile_dir]\n")
    write(wf / "gp/config.yaml", "configfile: cfg.yaml\n")
    assert planned_outputs(["--profile", "gp"], capsys) == ["out/from_profile_dir.txt"]


@pytest.mark.parametrize("text, where, words", [
    ("cores: abc\n", ":1:8:", ["cores", "'abc'"]),
    ("latency-wait: soon\n", ":1:15:", ["latency-wait"]),
    ("keep-going: maybe\n", ":1:13:", ["keep-going", "true or false"]),
    ("set-resources:\n  sort: 3\n", ":2:3:", ["set-resources"]),
    ("cors: 2\n", ":1:1:", ["unknown option 'cors'", "Did you mean 'cores'"]),
    ("- cores\n", ":1:1:", ["mapping"]),
    ("cores: [1\n", ":2:1:", ["not valid YAML"]),
    ("profile: other\n", ":1:1:", ["cannot name another profile"]),
    ("config:\n  d: 2020-01-01\ncores: 0\n", ":3:8:", ["cores", "at least 1"]),
])
def test_bad_profile_is_a_clear_error_exit_2(wf, text, where, words):
    prof = write(wf / "bad/config.yaml", text)
    res = subprocess.run([str(SCIFLOW), "run", "-n", "--profile", "bad"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert f"{prof}{where}" in res.stderr, res.stderr
    for word in words:
        assert word in res.stderr, res.stderr


def test_billion_laughs_profile_is_refused(wf):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    write(wf / "big/config.yaml", "\n".join(lines) + "\n")
    res = subprocess.run([str(SCIFLOW), "run", "-n", "--profile", "big"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2 and "aliases" in res.stderr and "Traceback" not in res.stderr


def test_snakemake_only_keys_are_noted_not_fatal(wf, capsys):
    write(wf / "gp/config.yaml", "executor: slurm\nscheduler: greedy\nshow-failed-logs: true\n"
                                 "jobs: 100\n")
    assert planned_outputs(["--profile", "gp"], capsys) == ["out/a.txt"]
    from sciflow.cli import build_parser
    from sciflow.cli.run import apply_profiles, options_from_args

    args = build_parser().parse_args(["run", "--profile", "gp"])
    notes = apply_profiles(args)
    assert options_from_args(args).cores is None  # not 100 local workers for a cluster profile
    assert any("'executor' is a Snakemake option" in n for n in notes)
    assert any("'jobs' ignored" in n for n in notes)


# ------------------------------------------------------------------------------ a real run
def test_profile_tuning_reaches_the_job_and_flags_win(wf):
    write(wf / "profiles/default/config.yaml", "cores: 4\nset-threads:\n  make: 3\n")
    res = subprocess.run([str(SCIFLOW), "run", "-q"], capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    assert (wf / "out/a.txt").read_text().split() == ["a", "threads=3"]
    res = subprocess.run([str(SCIFLOW), "run", "-q", "-F", "-c", "2"], capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    assert (wf / "out/a.txt").read_text().split() == ["a", "threads=2"]  # -c 2 caps threads


def test_optional_value_options_take_true(wf):
    from sciflow.cli import build_parser
    from sciflow.cli.run import apply_profiles, options_from_args

    write(wf / "gp/config.yaml", "quiet: true\ncache: true\ncores: true\n"
                                 "default-resources: true\n")
    args = build_parser().parse_args(["run", "--profile", "gp"])
    apply_profiles(args)
    assert args.quiet == [] and args.cache == [] and args.cores == "all"
    assert set(options_from_args(args).default_resources) == {"mem_mb", "disk_mb", "tmpdir"}


def test_api_profile_uses_the_same_keys(wf):
    from sciflow.engine import RunOptions, apply_profile

    prof = write(wf / "gp/config.yaml", "latency-wait: 3\nset_threads:\n  make: 2\njobs: 5\n")
    opts = apply_profile(RunOptions(profile=str(prof)))
    assert opts.latency_wait == 3 and opts.set_threads == {"make": 2} and opts.cores == 5
