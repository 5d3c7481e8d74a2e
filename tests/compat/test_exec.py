"""Issue 7, job execution: what Snakemake's own test cases showed sciflow's jobs doing
differently (benchmarks/snakemake-suite-differences.md), each against Snakemake (the oracle,
in the dev venv) on the same Snakefile: same output files, same failures.

- shell commands formatted with the Snakefile's globals too (``X = "a"``; ``{X}``);
- ``{resources._cores}`` / ``{resources._nodes}`` in shell commands;
- a 256 KB shell command (longer than one argv string may be: run from a file);
- ``ensure(non_empty=True)`` / ``ensure(sha256=...)`` checked after the job;
- ``bench_iteration`` in ``run:`` blocks (None, or the index of the benchmark run);
- ``pipe()`` and ``service()`` outputs: a clear error naming them (not supported).
"""
from __future__ import annotations

import hashlib
import subprocess
import textwrap
from pathlib import Path

import pytest

from helpers import files_below
from oracle import needs_snakemake as oracle_installed, snakemake as run_snakemake

from sciflow.engine import RunOptions, run
from sciflow.errors import RunFailedError

def needs_snakemake(test):
    """A differential test (Snakemake runs the same Snakefile): slow, so behind the marker;
    ``test_one_run_gives_snakemake_s_files`` covers the same ground in the default suite."""
    return pytest.mark.slow(oracle_installed(test))


def write(wd: Path, snakefile: str, files: dict[str, str] | None = None) -> Path:
    wd.mkdir(parents=True, exist_ok=True)
    (wd / "Snakefile").write_text(textwrap.dedent(snakefile))
    for name, text in (files or {}).items():
        (wd / name).write_text(text)
    return wd


def twins(tmp: Path, snakefile: str, files: dict[str, str] | None = None) -> tuple[Path, Path]:
    """The same workflow twice: one directory for Snakemake, one for sciflow."""
    return write(tmp / "snakemake", snakefile, files), write(tmp / "sciflow", snakefile, files)


def snakemake(wd: Path, *targets: str) -> subprocess.CompletedProcess:
    return run_snakemake(wd, "-c1", "--nolock", *targets, check=False)


def sciflow(wd: Path, *targets: str) -> None:
    run(RunOptions(directory=str(wd), targets=list(targets), cores=1, provenance=False))


def tree(wd: Path) -> dict[str, bytes]:
    """Every file the workflow left, as bytes (benchmark timings differ by nature)."""
    return files_below(wd, skip_suffixes=(".tsv",), binary=True)


def same_outputs(tmp: Path, snakefile: str, *targets: str,
                 files: dict[str, str] | None = None) -> dict[str, bytes]:
    sm, sf = twins(tmp, snakefile, files)
    done = snakemake(sm, *targets)
    assert done.returncode == 0, done.stderr[-3000:]
    sciflow(sf, *targets)
    assert tree(sf) == tree(sm)
    return tree(sf)


# --------------------------------------------------------------------------- default suite
ONE_RUN = '''
    shell("echo stale > old.txt; touch -t 201604010000 old.txt; touch in.txt")
    GREETING = "hello"
    SAMPLES = ["s1", "s2"]
    rule all:
        input: "globals.txt", "res.txt", "long.txt", "bench.txt", "old.txt", "ensured.txt"
    rule globals:
        output: "globals.txt"
        params: p="own"
        shell: "echo {GREETING} {SAMPLES} {params.p} {SAMPLES[1]:q} > {output}"
    rule res:
        output: "res.txt"
        threads: 1
        resources: mem="5GB", disk_mb=5, runtime="1h"
        shell: "echo {resources._cores} {resources._nodes} {resources.mem} {resources.mem_mb} "
               "{resources.mem_mib} {resources.disk} {resources.runtime} > {output}"
    rule long:
        output: "long.txt"
        shell: "echo ok > {output} #" + "x" * 64 * 4096
    rule bench:
        output: "bench.txt"
        benchmark: repeat("bench/b.tsv", 2)
        run:
            shell("echo shell {bench_iteration} >> {output}")
    rule old:
        input: "in.txt"
        output: "old.txt", "sub/other.txt"
        run:
            shell("test ! -e old.txt && test -d sub")
            shell("echo fresh > {output[0]}; touch {output[1]}")
    rule ensured:
        output: ensure("ensured.txt", non_empty=True, sha256="%s")
        shell: "echo -n test > {output}"
''' % hashlib.sha256(b"test").hexdigest()


def test_one_run_gives_snakemake_s_files(tmp_path):
    """The values are Snakemake 9's for this Snakefile (the slow differential tests below
    compare with Snakemake itself, feature by feature)."""
    wd = write(tmp_path, ONE_RUN)
    sciflow(wd)
    assert (wd / "globals.txt").read_text() == "hello s1 s2 own s2\n"
    assert (wd / "res.txt").read_text() == "1 1 5 GB 5000 4769 5 MB 60\n"
    assert (wd / "long.txt").read_text() == "ok\n"
    assert (wd / "bench.txt").read_text() == "shell 0\nshell 1\n"
    assert (wd / "old.txt").read_text() == "fresh\n"
    assert (wd / "ensured.txt").read_text() == "test"


@pytest.mark.parametrize("target, message", [
    ("empty", "Detected unexpected empty output files"),
    ("bad_sum", "Output files have checksums that differ from the expected ones"),
])
def test_ensure_failures_fail_the_job_and_remove_its_output(tmp_path, target, message):
    wd = write(tmp_path, ENSURE)
    with pytest.raises(RunFailedError) as info:
        sciflow(wd, target)
    assert message in str(info.value)
    assert tree(wd) == {"Snakefile": (wd / "Snakefile").read_bytes()}


# --------------------------------------------------------------------------- shell formatting
@needs_snakemake
def test_shell_commands_see_the_snakefile_globals_as_in_snakemake(tmp_path):
    files = same_outputs(tmp_path, '''
        GREETING = "hello"
        SAMPLES = ["s1", "s2"]
        def helper(x):
            return x.upper()
        rule a:
            output: "a.txt"
            params: p="own"
            shell: "echo {GREETING} {SAMPLES} {params.p} {config} > {output}"
        rule b:
            input: "a.txt"
            output: "b.txt"
            run:
                shell("cat {input} > {output}; echo {GREETING} >> {output}")
        rule c:
            input: "b.txt"
            output: "c.txt"
            shell: "cat {input} > {output}; echo {GREETING:q}-{SAMPLES[1]} >> {output}"
        ''', "c.txt")
    assert files["a.txt"] == b"hello s1 s2 own {}\n"


@needs_snakemake
def test_private_resource_names_are_formatted(tmp_path):
    files = same_outputs(tmp_path, '''
        rule a:
            output: "a.txt"
            threads: 1
            resources: mem_mb=12
            shell: "echo {resources._cores} {resources._nodes} {resources.mem_mb} > {output}"
        ''', "a.txt")
    assert files["a.txt"] == b"1 1 12\n"


@needs_snakemake
def test_sized_resources_and_runtime_are_formatted_as_in_snakemake(tmp_path):
    files = same_outputs(tmp_path, '''
        rule a:
            output: "a.txt"
            resources: mem="5GB", disk="5MB", runtime="1h", other="2GB"
            shell: "echo {resources.mem} {resources.mem_mb} {resources.mem_mib} "
                   "{resources.disk} {resources.disk_mb} {resources.disk_mib} "
                   "{resources.runtime} {resources.other} > {output}"
        rule b:
            output: "b.txt"
            resources: mem_mb=3000, runtime=30
            run:
                shell("echo {resources.mem} {resources.mem_mib} {resources.runtime} > {output}")
        ''', "a.txt", "b.txt")
    assert files["a.txt"] == b"5 GB 5000 4769 5 MB 5 5 60 2GB\n"


def test_an_unknown_name_is_still_a_rule_error(tmp_path):
    wd = write(tmp_path, '''
        X = 1
        rule a:
            output: "a.txt"
            shell: "echo {Y} > {output}"
        ''')
    with pytest.raises(RunFailedError, match="unknown name 'Y' in the shell command"):
        sciflow(wd)


@needs_snakemake
def test_a_256_kb_shell_command_runs(tmp_path):
    files = same_outputs(tmp_path, '''
        rule a:
            input: "in.txt"
            output: "out.txt"
            shell: "cp {input} {output}; echo ok >> {output} #" + "x" * 64 * 4096
        ''', files={"in.txt": "data\n"})
    assert files["out.txt"] == b"data\nok\n"


# --------------------------------------------------------------------------- ensure()
ENSURE = '''
    SUM = "%s"
    rule empty:
        output: ensure("e.txt", non_empty=True)
        shell: "touch {output}"
    rule full:
        output: ensure("f.txt", non_empty=True)
        shell: "echo full > {output}"
    rule good_sum:
        output: ensure("g.txt", sha256=SUM)
        shell: "echo -n test > {output}"
    rule bad_sum:
        output: ensure("b.txt", sha256=lambda wildcards: SUM)
        shell: "echo -n other > {output}"
    rule md5:
        output: ensure("m.txt", md5="%s")
        shell: "echo -n test > {output}"
''' % (hashlib.sha256(b"test").hexdigest(), hashlib.md5(b"test").hexdigest())


@needs_snakemake
@pytest.mark.parametrize("target, message", [
    ("empty", "Detected unexpected empty output files"),
    ("bad_sum", "Output files have checksums that differ from the expected ones"),
])
def test_ensure_failures_fail_the_job_as_in_snakemake(tmp_path, target, message):
    sm, sf = twins(tmp_path, ENSURE)
    done = snakemake(sm, target)
    assert done.returncode != 0 and message in done.stderr
    with pytest.raises(RunFailedError) as info:
        sciflow(sf, target)
    assert message in str(info.value)
    assert tree(sf) == tree(sm) == {"Snakefile": (sm / "Snakefile").read_bytes()}


@needs_snakemake
def test_ensure_passes_when_the_output_is_right(tmp_path):
    files = same_outputs(tmp_path, ENSURE, "full", "good_sum", "md5")
    assert files["g.txt"] == b"test"


# --------------------------------------------------------------------------- run: blocks
@needs_snakemake
def test_run_blocks_see_bench_iteration(tmp_path):
    files = same_outputs(tmp_path, '''
        rule a:
            output: "a.txt"
            benchmark: repeat("bench/a.tsv", 3)
            run:
                with open(output[0], "a") as fh:
                    print("iteration", bench_iteration, file=fh)
                shell("echo shell {bench_iteration} >> {output}")
        rule b:
            output: "b.txt"
            run:
                with open(output[0], "w") as fh:
                    print("iteration", bench_iteration, file=fh)
        ''', "a.txt", "b.txt")
    assert files["a.txt"].decode().split("\n")[:2] == ["iteration 0", "shell 0"]
    assert files["b.txt"] == b"iteration None\n"


# --------------------------------------------------------------------------- not supported
@pytest.mark.parametrize("helper", ["pipe", "service"])
def test_pipe_and_service_outputs_are_refused_naming_them(tmp_path, helper):
    wd = write(tmp_path, f'''
        rule all:
            input: "b.txt"
        rule a:
            output: {helper}("a.fifo")
            shell: "echo x > {{output}}"
        rule b:
            input: "a.fifo"
            output: "b.txt"
            shell: "cat {{input}} > {{output}}"
        ''')
    with pytest.raises(RunFailedError) as info:  # as every error found while making a job
        sciflow(wd)
    text = info.value.format()
    assert f"{helper}('a.fifo') is not supported" in text
    assert "Snakefile:5" in text  # the output: line of rule a
    assert not (wd / "b.txt").exists() and not (wd / "a.fifo").exists()


# --------------------------------------------------------------------------- old outputs
@needs_snakemake
def test_run_jobs_start_without_their_old_outputs_even_if_top_level_code_made_them(tmp_path):
    """Top-level code runs once, before jobs; a ``run:`` job must not find its old output
    (the worker loads the workflow before it removes the old outputs, not after)."""
    files = same_outputs(tmp_path, '''
        shell("echo stale > out.txt; touch -t 201604010000 out.txt; touch in.txt")
        rule a:
            input: "in.txt"
            output: "out.txt", "sub/other.txt"
            run:
                shell("test ! -e out.txt && test -d sub")
                shell("echo fresh > {output[0]}; touch {output[1]}")
        ''')
    assert files["out.txt"] == b"fresh\n"


# --------------------------------------------------------------------------- template_engine
@needs_snakemake
def test_template_engine_jobs_render_as_in_snakemake(tmp_path):
    pytest.importorskip("jinja2")
    pytest.importorskip("yte")
    files = same_outputs(tmp_path, '''
        config["who"] = "world"
        rule all:
            input: expand("out_{e}.txt", e=["yte", "jinja2"])
        rule yte:
            input: template="t.yaml", other="t.j2"
            output: "out_{e,yte}.txt"
            params: n=3
            template_engine: "yte"
        rule jinja:
            input: "t.j2"
            output: "out_{e,jinja2}.txt"
            params: n=4
            template_engine: "jinja2"
        ''', files={"t.yaml": "?if params.n > 2:\n  who: ?config['who']\n  e: ?wildcards.e\n",
                    "t.j2": "{% for i in range(params.n) %}{{ config.who }}-{{ wildcards.e }} "
                            "{% endfor %}{{ input[0] }}\n"})
    assert files["out_jinja2.txt"].startswith(b"world-jinja2 ")
