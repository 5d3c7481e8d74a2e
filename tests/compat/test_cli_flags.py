"""Issue 7, Snakemake's command-line habits that Snakemake's own test suite uses:
``--omit-from``, ``--replace-workflow-config``, ``--max-jobs-per-timespan``, ``--executor``
and ``--set-threads`` expressions. Each workflow here is our own; where Snakemake defines the
result, the same folder is also run (or dry-run) by Snakemake 9 and compared."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import oracle
from oracle import job_stats

SCIFLOW = Path(sys.executable).parent / "sciflow"


def tree(root: Path, snakefile: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Snakefile").write_text(textwrap.dedent(snakefile).lstrip())
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    return root


def sciflow(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run([str(SCIFLOW), "run", "--no-provenance", *args], cwd=cwd,
                         capture_output=True, text=True, timeout=300)
    if ok:
        assert res.returncode == 0, res.stdout + res.stderr
    return res


def snakemake(cwd: Path, *args: str) -> str:
    res = oracle.snakemake(cwd, *args)
    return res.stdout + res.stderr


def sciflow_counts(cwd: Path, *args: str) -> dict[str, int]:
    import json
    from collections import Counter

    out = sciflow(cwd, "-n", "--json", *args).stdout
    return dict(Counter(j["rule"] for j in json.loads(out)["jobs"]))


# ------------------------------------------------------------------------------ --omit-from
OMIT = '''
    rule all:
        input: "c.txt", "side.txt", expand("w{n}.last", n=[1, 2])

    rule a:
        output: "a.txt"
        shell: "touch {output}"

    rule b1:
        input: "a.txt"
        output: "b1.txt"
        shell: "touch {output}"

    rule b2:
        input: "a.txt"
        output: "b2.txt"
        shell: "touch {output}"

    rule c:
        input: "b1.txt", "b2.txt"
        output: "c.txt"
        shell: "touch {output}"

    rule side:
        output: "side.txt"
        shell: "touch {output}"

    rule w0:
        output: "w{n}.first"
        shell: "touch {output}"

    rule w1:
        input: "w{n}.first"
        output: "w{n}.mid"
        shell: "touch {output}"

    rule w2:
        input: "w{n}.mid"
        output: "w{n}.last"
        shell: "touch {output}"
'''


@pytest.mark.parametrize("omit", [["b1"], ["b2.txt"], ["w1"], ["b1", "b2.txt", "w1"]])
def test_omit_from_leaves_out_the_named_jobs_and_their_downstream(tmp_path, omit):
    root = tree(tmp_path, OMIT)
    expected = job_stats(snakemake(root, "-n", "-c1", "--omit-from", *omit))
    assert sciflow_counts(root, "--omit-from", *omit) == expected
    assert "all" not in expected  # everything downstream goes, the final target too


OMIT_CHECKPOINT = '''
    rule all:
        input: "c1.txt", "c2.txt"

    checkpoint a1:
        output: touch("a1.txt")

    rule b1:
        input: lambda w: checkpoints.a1.get().output
        output: touch("b1.txt")

    rule c1:
        input: "b1.txt"
        output: touch("c1.txt")

    checkpoint a2:
        output: touch("a2.txt")

    rule b2:
        input: lambda w: checkpoints.a2.get().output
        output: touch("b2.txt")

    rule c2:
        input: "b2.txt"
        output: touch("c2.txt")
'''


def test_omit_from_holds_after_a_checkpoint_finishes(tmp_path):
    ours, theirs = tree(tmp_path / "sciflow", OMIT_CHECKPOINT), tree(tmp_path / "smk",
                                                                     OMIT_CHECKPOINT)
    sciflow(ours, "-c1", "-O", "b1")
    snakemake(theirs, "-c1", "--omit-from", "b1")
    made = sorted(p.name for p in ours.glob("*.txt"))
    assert made == sorted(p.name for p in theirs.glob("*.txt")) == \
        ["a1.txt", "a2.txt", "b2.txt", "c2.txt"]


def test_omit_from_names_an_unknown_rule(tmp_path):
    res = sciflow(tree(tmp_path, OMIT), "-n", "--omit-from", "b9", ok=False)
    assert res.returncode == 2 and "--omit-from b9" in res.stderr


# ------------------------------------------------------------------------------ --replace-workflow-config
REPLACE = '''
    configfile: "workflow.yaml"

    rule all:
        output: "result.txt"
        params: text="-".join(str(config.get(k, "no" + k)) for k in ("name", "id", "value"))
        shell: "echo {params.text} > {output}"
'''


@pytest.mark.parametrize("args", [["--configfile", "cli.yaml", "--config", "value=v2"], []],
                         ids=["with-cli-config", "without"])
def test_replace_workflow_config_as_snakemake(tmp_path, args):
    files = {"workflow.yaml": "name: wf\n", "cli.yaml": "id: cli\nvalue: v1\n"}
    ours, theirs = tree(tmp_path / "sciflow", REPLACE, files), tree(tmp_path / "smk", REPLACE,
                                                                     files)
    sciflow(ours, "-c1", *args, "--replace-workflow-config")
    snakemake(theirs, "-c1", *args, "--replace-workflow-config")
    assert (ours / "result.txt").read_text() == (theirs / "result.txt").read_text()
    assert (ours / "result.txt").read_text() == \
        ("noname-cli-v2\n" if args else "wf-noid-novalue\n")


# ------------------------------------------------------------------------------ --set-threads
THREADS = '''
    rule a:
        input: "in.txt"
        output: "out.txt"
        threads: 1
        shell: "echo {threads} > {output}"
'''


@pytest.mark.parametrize("expr,cores,expected", [("a=10*2", "20", "20"),
                                                  ("a=max(input.size, 5)", "5", "5"),
                                                  ("a=2*attempt", "4", "2")])
def test_set_threads_takes_an_expression_as_snakemake(tmp_path, expr, cores, expected):
    ours, theirs = (tree(tmp_path / n, THREADS, {"in.txt": ""}) for n in ("sciflow", "smk"))
    sciflow(ours, "-c", cores, "--set-threads", expr)
    snakemake(theirs, "-c", cores, "--set-threads", expr)
    assert (ours / "out.txt").read_text() == (theirs / "out.txt").read_text() == expected + "\n"


@pytest.mark.parametrize("expr", ["a=nosuch + 1", "a=1 +", "a=-1"])
def test_set_threads_rejects_what_cannot_be_a_thread_count(tmp_path, expr):
    res = sciflow(tree(tmp_path, THREADS, {"in.txt": ""}), "-n", "--set-threads", expr, ok=False)
    assert res.returncode == 2 and "--set-threads" in res.stderr and "Traceback" not in res.stderr


# ------------------------------------------------------------------------------ --executor
def test_executor_names_map_to_sciflow_options(tmp_path):
    root = tree(tmp_path, OMIT)
    assert sciflow_counts(root) == job_stats(sciflow(root, "--executor", "dryrun").stdout)
    sciflow(root, "--executor", "touch", "-c1")  # nothing exists: touch makes the outputs
    sciflow(root, "-e", "local", "-c1")
    assert (root / "c.txt").exists() and (root / "w2.last").exists()
    res = sciflow(root, "--executor", "googlebatch", ok=False)
    assert res.returncode == 2 and "--executor googlebatch" in res.stderr
    assert "slurm" in res.stderr  # the hint names what sciflow has


# ------------------------------------------------------------------------------ --max-jobs-per-timespan
RATE = '''
    rule all:
        input: expand("t{i}.txt", i=range(3))

    rule t:
        output: "t{i}.txt"
        shell: "date +%s.%N > {output}"
'''


def test_max_jobs_per_timespan_spaces_the_job_starts(tmp_path):
    """1/1s: the three jobs start at least about 1 s apart (a lower bound: load only makes it
    slower), as Snakemake's JobRateLimiter. The job stamps its start with `date` (a Python
    start-up inside the job, 30-400 ms under load, blurred the spacing)."""
    root = tree(tmp_path, RATE)
    sciflow(root, "-c", "3", "--max-jobs-per-timespan", "1/1s")
    starts = sorted(float((root / f"t{i}.txt").read_text()) for i in range(3))
    assert starts[2] - starts[0] >= 1.8


@pytest.mark.parametrize("value", ["2", "2/1", "x/1s", "0/1s", "2/1y"])
def test_max_jobs_per_timespan_needs_count_and_span(tmp_path, value):
    res = sciflow(tree(tmp_path, RATE), "-n", "--max-jobs-per-timespan", value, ok=False)
    assert res.returncode == 2 and "--max-jobs-per-timespan" in res.stderr
    assert "Traceback" not in res.stderr
