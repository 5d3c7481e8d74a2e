"""Fixtures for the executor tests: jobs built from real rules, and external Dask processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sciflow.jobs import Job
from sciflow.model import Action, IOFile, NamedList, SourceLoc, Wildcards, Workflow, WorkflowBuilder

DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]


class JobFactory:
    """Builds a one-rule workflow in ``tmp_path`` and a concrete Job of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.workflow = Workflow(path=str(root / "Snakefile"), config={"greeting": "hello"})
        (root / "Snakefile").write_text("# rules are built in the test\n")
        self.builder = WorkflowBuilder(self.workflow)
        self.count = 0

    def __call__(self, kind: str = "shell", source: str = "true", *, output=(), input=(),
                 params=None, log=(), wildcards=None, threads: int = 1, resources=None,
                 benchmark=None, name: str | None = None, func_name: str | None = None) -> Job:
        self.count += 1
        name = name or f"r{self.count}"
        loc = SourceLoc(self.workflow.path, 10 * self.count, 1)
        out_pos = [o for o in output if not isinstance(o, tuple)]
        out_named = {o[0]: o[1] for o in output if isinstance(o, tuple)}
        rule = self.builder.add_rule(
            name, loc, action=Action(kind, source, SourceLoc(self.workflow.path, loc.line + 1, 5),
                                     func_name=func_name),
            output=(tuple(out_pos), out_named))
        return Job(jobid=self.count, rule=rule, wildcards=Wildcards(wildcards or {}),
                   input=NamedList(list(input)), output=NamedList(out_pos, out_named),
                   params=NamedList((), params or {}), log=NamedList(list(log)),
                   benchmark=benchmark, threads=threads, resources=dict(resources or {}))


@pytest.fixture
def jobs(tmp_path: Path) -> JobFactory:
    return JobFactory(tmp_path)


def _start(argv: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, **kw)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def external_scheduler(tmp_path_factory):
    """A real ``dask scheduler`` + one ``dask worker`` (cpus=2) on 127.0.0.1, as subprocesses."""
    root = tmp_path_factory.mktemp("dask")
    sched_file = root / "scheduler.json"
    scheduler = _start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                        "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0",
                        "--scheduler-file", str(sched_file)], cwd=root)
    procs = [scheduler]
    try:
        deadline = time.time() + 60
        while not sched_file.exists() and time.time() < deadline:
            if scheduler.poll() is not None:
                raise RuntimeError(scheduler.stderr.read().decode())
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        worker = _start([sys.executable, "-m", "distributed.cli.dask_worker", address,
                         "--host", "127.0.0.1", "--nthreads", "2", "--nworkers", "1",
                         "--resources", "cpus=2", "--no-dashboard", "--local-directory",
                         str(root / "worker")], cwd=root)
        procs.append(worker)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(autouse=True)
def _restore_cwd():
    """``run_job`` enters the job's workdir, as it must on a worker; tests that call it in this
    process get their working directory back, so later tests resolve paths where they expect."""
    cwd = os.getcwd()
    yield
    os.chdir(cwd)
