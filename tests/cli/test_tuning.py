"""Snakemake's tuning flags change what jobs do, not just what is parsed: ``--set-threads``,
``--set-resources``, ``--default-resources`` (expressions, checked against Snakemake),
``--retries``, ``--all-temp``, ``--notemp``, ``--latency-wait``."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from oracle import SNAKEMAKE
from sciflow.events import JobResult
from sciflow.execute.base import Executor, JobSpec
from sciflow.latency import LatencyWait
from sciflow.model import NamedList

SCIFLOW = Path(sys.executable).parent / "sciflow"

RESOURCES = '''
rule all:
    input: "c.txt"

rule a:
    output: "a.txt"
    shell: "head -c 2800000 /dev/zero > {output}"

rule c:
    input: "a.txt"
    output: "c.txt"
    threads: 1
    resources: own=7
    shell: "echo {threads} {resources.mem_mb} {resources.disk_mb} {resources.own} {resources.part} > {output}"
'''


def run(tool: Path, cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    argv = [str(tool), "run", "-q", *args] if tool == SCIFLOW else [str(tool), "-q", *args]
    res = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)
    if ok:
        assert res.returncode == 0, res.stdout + res.stderr
    return res


def test_set_threads_and_set_resources_reach_the_shell(tmp_path):
    (tmp_path / "Snakefile").write_text(RESOURCES)
    run(SCIFLOW, tmp_path, "-c", "3", "--set-threads", "c=3", "--set-resources", "c:mem_mb=555",
        "c:disk=2GB", "c:own=8", "c:part=short")
    assert (tmp_path / "c.txt").read_text().split() == ["3", "555", "2000", "8", "short"]


@pytest.mark.snakemake
def test_default_resources_evaluate_as_in_snakemake(tmp_path):
    if not SNAKEMAKE.exists():
        pytest.skip("snakemake (the oracle) is not installed")
    args = ["-c", "2", "--set-threads", "c=2", "--default-resources",
            "mem_mb=max(2*input.size_mb, 1000) + attempt + threads", "disk_mb=2*input.size_mb",
            "part='p' + str(attempt)"]
    outputs = []
    for tool in (SCIFLOW, SNAKEMAKE):
        d = tmp_path / tool.name
        d.mkdir()
        (d / "Snakefile").write_text(RESOURCES)
        run(tool, d, *args)
        outputs.append((d / "c.txt").read_text().split())
    assert outputs[0] == outputs[1] == ["2", "1003", "5", "7", "p1"]  # a rule's own value wins


FLAKY = '''
rule all:
    input: "out.txt"

rule flaky:
    output: "out.txt"
    resources: mem_mb=lambda wildcards, attempt: 100 * attempt
    shell: "if [ -e failed-once ]; then echo {resources.mem_mb} > {output}; else touch failed-once; exit 1; fi"
'''


def test_retries_rerun_a_flaky_job_with_the_attempt_number(tmp_path):
    (tmp_path / "Snakefile").write_text(FLAKY)
    res = run(SCIFLOW, tmp_path, "-c", "1", ok=False)
    assert res.returncode == 1 and not (tmp_path / "out.txt").exists()
    (tmp_path / "failed-once").unlink()
    run(SCIFLOW, tmp_path, "-c", "1", "--retries", "1")
    assert (tmp_path / "out.txt").read_text().strip() == "200"  # attempt 2, as Snakemake


def test_a_rules_own_retries_win_over_the_flag(tmp_path):
    (tmp_path / "Snakefile").write_text(FLAKY.replace("    resources:", "    retries: 0\n    resources:"))
    res = run(SCIFLOW, tmp_path, "-c", "1", "--retries", "3", ok=False)
    assert res.returncode == 1 and "attempt 1 of 1" in res.stderr


CHAIN = '''
rule all:
    input: "c.txt"

rule a:
    output: "a.txt"
    shell: "echo a > {output}"

rule b:
    input: "a.txt"
    output: temp("b.txt")
    shell: "cat {input} > {output}"

rule c:
    input: "b.txt"
    output: "c.txt"
    shell: "cat {input} > {output}"
'''


def outputs(d: Path) -> list[str]:
    return sorted(p.name for p in d.glob("*.txt"))


@pytest.mark.parametrize("flag, left", [("--all-temp", ["c.txt"]),
                                         ("--notemp", ["a.txt", "b.txt", "c.txt"])])
def test_all_temp_deletes_intermediates_and_notemp_keeps_temp_files(tmp_path, flag, left):
    # without a flag: a.txt and c.txt are left (temp() b.txt removed), as in Snakemake
    for tool in (SCIFLOW, SNAKEMAKE):
        if not tool.exists():
            continue
        d = tmp_path / tool.name
        d.mkdir()
        (d / "Snakefile").write_text(CHAIN)
        run(tool, d, "-c", "1", flag)
        assert outputs(d) == left, tool.name  # what rule all asks for stays, as Snakemake


# ------------------------------------------------------------------------------ latency wait
class SlowFilesystem(Executor):
    """An executor whose job reports success before its output is visible (as on NFS): a
    thread writes the output ``delay`` seconds after the result is returned."""

    name = "slow-fs"

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.pending: list[JobSpec] = []

    def start(self) -> None:
        pass

    def submit(self, spec: JobSpec, priority: int = 0) -> None:
        self.pending.append(spec)

    def wait(self, timeout: float | None = None) -> list[JobResult]:
        now = datetime.now(timezone.utc)
        out = []
        for spec in self.pending:
            path = Path(spec.workdir) / spec.output[0]
            threading.Timer(self.delay, path.write_text, args=("late\n",)).start()
            out.append(JobResult(spec.jobid, True, now, now, exit_code=0))
        self.pending = []
        return out

    def shutdown(self) -> None:
        pass


def spec(tmp_path: Path) -> JobSpec:
    return JobSpec(jobid=1, rule="r", key="k", workdir=str(tmp_path), workflow_path="Snakefile",
                   action="shell", output=NamedList(["late.txt"]))


def test_latency_wait_waits_for_outputs_that_appear_late(tmp_path):
    executor = LatencyWait(SlowFilesystem(0.5), seconds=5)
    executor.submit(spec(tmp_path))
    t0 = time.monotonic()
    [result] = executor.wait()
    assert result.ok and (tmp_path / "late.txt").exists()
    assert 0.4 < time.monotonic() - t0 < 4


def test_latency_wait_gives_up_after_its_time(tmp_path):
    executor = LatencyWait(SlowFilesystem(3), seconds=0.3)
    executor.submit(spec(tmp_path))
    t0 = time.monotonic()
    executor.wait()
    assert time.monotonic() - t0 < 2 and not (tmp_path / "late.txt").exists()
    time.sleep(3)  # let the writer thread finish inside tmp_path
