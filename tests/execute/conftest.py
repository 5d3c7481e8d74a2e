"""Fixtures for the executor tests: jobs built from real rules, and external Dask processes."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sciflow.jobs import Job
from sciflow.model import Action, NamedList, SourceLoc, Wildcards, Workflow, WorkflowBuilder



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


@pytest.fixture(scope="module")
def external_scheduler():
    """A real ``dask scheduler`` + one ``dask worker`` (2 threads, cpus=2) on 127.0.0.1, as
    subprocesses: the same service as the session's ``dask_scheduler``
    (tests/services/dask_cluster.py), one per module so a test may stop what it started."""
    from services.dask_cluster import start_dask

    service = start_dask(n_workers=1, nthreads=2, cpus_per_worker=2)
    try:
        yield service.address
    finally:
        service.stop()


@pytest.fixture(autouse=True)
def _restore_cwd():
    """``run_job`` enters the job's workdir, as it must on a worker; tests that call it in this
    process get their working directory back, so later tests resolve paths where they expect."""
    cwd = os.getcwd()
    yield
    os.chdir(cwd)
