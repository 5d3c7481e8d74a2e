"""``sciflow run``: dry-run output (text and JSON) and exit statuses, through the real CLI."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sciflow.cli import main
from sciflow.cli.run import parse_key_values

SCIFLOW = Path(sys.executable).parent / "sciflow"

SNAKEFILE = '''
rule all:
    input: expand("out/{s}.txt", s=config.get("samples", ["a", "b"]))

rule make:
    output: "out/{s}.txt"
    params: n=config.get("n", 1)
    shell: "echo {wildcards.s} {params.n} > {output}"
'''


@pytest.fixture
def wf(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    return tmp_path


def test_dry_run_json_is_the_plan_on_stdout_only(wf, capsys):
    assert main(["run", "-d", str(wf), "-n", "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert [j["rule"] for j in data["jobs"]] == ["make", "make", "all"]
    for job in data["jobs"]:
        assert set(job) == {"id", "rule", "wildcards", "inputs", "outputs", "reason"}
    assert data["jobs"][0]["wildcards"] == {"s": "a"} and data["jobs"][0]["outputs"] == ["out/a.txt"]
    assert data["jobs"][0]["reason"] == "Missing output files: out/a.txt"
    assert data["jobs"][2]["inputs"] == ["out/a.txt", "out/b.txt"]
    assert not (wf / "out").exists()  # a dry run makes nothing


def test_dry_run_json_stays_parseable_when_the_workflow_prints(wf, capsys):
    """rna-seq-pop prints a banner while it loads: it goes to stderr, stdout is the JSON."""
    (wf / "Snakefile").write_text('print("---- my pipeline ----")\n' + SNAKEFILE)
    assert main(["run", "-d", str(wf), "-n", "--json"]) == 0
    out, err = capsys.readouterr()
    assert [j["rule"] for j in json.loads(out)["jobs"]] == ["make", "make", "all"]
    assert "---- my pipeline ----" in err


def test_dry_run_text_has_reasons_and_job_stats(wf, capsys):
    assert main(["run", "-d", str(wf), "-n", "--config", "samples=[a, b, c]"]) == 0
    out = capsys.readouterr().out
    assert "reason: Missing output files: out/c.txt" in out
    stats = out.split("Job stats:")[1].splitlines()
    rows = [line.split() for line in stats[3:6]]
    assert rows == [["all", "1"], ["make", "3"], ["total", "4"]]


def test_config_values_are_parsed_as_yaml_scalars():
    assert parse_key_values(["n=3", "x=1.5", "flag=true", "name=abc", "l=[1, 2]"], "--config") == \
        {"n": 3, "x": 1.5, "flag": True, "name": "abc", "l": [1, 2]}


@pytest.mark.parametrize("argv", [
    ["--cluster", "condor"], ["--json"], ["--cores", "0"], ["--config", "novalue"],
    ["-s", "does-not-exist"], ["-n", "-R", "mak"], ["-n", "--until", "nope"],
])
def test_usage_errors_exit_2(wf, argv, capsys):
    try:
        code = main(["run", "-d", str(wf), *argv])
    except SystemExit as exc:  # argparse rejects before our code runs
        code = exc.code
    assert code == 2


def test_workflow_error_exits_1_with_location(tmp_path, capsys):
    (tmp_path / "Snakefile").write_text("rule all:\n    input: 'missing.txt'\n")
    assert main(["run", "-d", str(tmp_path), "-n"]) == 1
    err = capsys.readouterr().err
    assert "missing.txt" in err and "Traceback" not in err


def test_real_run_exit_codes_and_nothing_to_do(wf):
    res = subprocess.run([str(SCIFLOW), "run", "-d", str(wf), "-c", "2", "--config", "n=7"],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    assert (wf / "out" / "b.txt").read_text() == "b 7\n"
    # not a terminal (a batch job's log): one plain line per job and a closing summary
    lines = [line for line in res.stderr.splitlines() if line.startswith("[")]
    n_jobs = sum(1 for line in lines if "] done " in line)
    assert n_jobs == 3 and lines[0].endswith(f"{n_jobs} jobs on " + lines[0].rsplit(" on ", 1)[1])
    assert "dashboard: http://127.0.0.1:" in lines[1]
    assert any(f"done {n_jobs}/{n_jobs}: rule" in line for line in lines)
    assert f"finished: {n_jobs} of {n_jobs} jobs done, 0 failed" in lines[-1]
    res = subprocess.run([str(SCIFLOW), "run", "-d", str(wf), "-c", "2", "--config", "n=7"],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0 and "Nothing to be done" in res.stderr
    (wf / "Snakefile").write_text(SNAKEFILE.replace("> {output}", "> {output}; exit 3"))
    res = subprocess.run([str(SCIFLOW), "run", "-d", str(wf), "-c", "2", "-R", "make"],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 1
    assert "exit status: 3" in res.stderr and "rule make" in res.stderr and "Traceback" not in res.stderr
    assert "FAILED" in res.stderr and "exit status 3" in res.stderr  # the plain per-job line
