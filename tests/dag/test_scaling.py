"""Size and time of the DAG build: memory per job (deterministic, always run) and linear
time (timing, marked slow: the machine is shared)."""
from __future__ import annotations

import time
import tracemalloc

import pytest

from sciflow.dag import build_dag

from .conftest import Flow


def chain_workflow(n: int) -> Flow:
    """A 3-stage per-sample chain plus a fan-in: 4n + 1 jobs."""
    samples = [f"s{i}" for i in range(n)]
    return (Flow().rule("all", 1, input=[f"c/{s}.txt" for s in samples])
            .rule("a", 3, input="raw/{s}.in", output="a/{s}.txt")
            .rule("b", 5, input="a/{s}.txt", output="b/{s}.txt", params={"x": "{s}"})
            .rule("c", 7, input="b/{s}.txt", output="c/{s}.txt", log="logs/{s}.log")
            .rule("raw", 9, output="raw/{s}.in"))


def test_memory_per_job_is_small(in_tmp):
    f = chain_workflow(1000)
    tracemalloc.start()
    try:
        dag = build_dag(f.wf)
        current, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(dag.jobs) == 4001
    assert current / len(dag.jobs) < 2500  # bytes per job, everything the DAG keeps


@pytest.mark.slow
def test_build_time_is_linear(in_tmp):
    def per_job(n: int) -> float:
        f = chain_workflow(n)
        start = time.process_time()
        dag = build_dag(f.wf)
        return (time.process_time() - start) / len(dag.jobs)

    small, large = per_job(2500), per_job(12500)
    assert large < 2.0 * small
    assert large < 100e-6  # well under Snakemake's ~800 us per job
