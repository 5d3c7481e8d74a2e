"""Checkpoints: the DAG waits on a checkpoint, then grows once its outputs exist.

The checkpoint "running" is simulated by writing its output files by hand, as the real
scheduler's job would."""
from __future__ import annotations

import pathlib

import pytest

from sciflow.dag import build_dag
from sciflow.errors import IncompleteCheckpointError
from sciflow.model import flag
from sciflow.wildcards import expand, glob_wildcards

from .conftest import Flow


def split_workflow():
    f = Flow()

    def aggregate_input(wildcards):
        out = f.wf.checkpoints.split.get(s=wildcards.s).output[0]
        ids = glob_wildcards(out + "/{i}.txt").i
        return expand("proc/{s}/{i}.out", s=wildcards.s, i=sorted(ids))

    (f.rule("all", 1, input=["agg/a.txt"])
     .rule("split", 3, checkpoint=True, input="in/{s}.txt",
           output=flag("split/{s}", "directory"))
     .rule("process", 7, input="split/{s}/{i}.txt", output="proc/{s}/{i}.out")
     .rule("aggregate", 10, input=aggregate_input, output="agg/{s}.txt"))
    return f


def write(path):
    p = pathlib.Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("x")


def test_job_waits_on_checkpoint_then_grows(in_tmp):
    write("in/a.txt")
    f = split_workflow()
    dag = build_dag(f.wf)
    names = [j.rule.name for j in dag.jobs]
    assert names == ["split", "aggregate", "all"]
    split, aggregate = dag.jobs[0], dag.jobs[1]
    assert dag.pending_checkpoints
    assert dag.dependencies(aggregate) == [split]
    assert dag.waiting_on_checkpoint(aggregate) == ["split/a"]
    assert split.output[0].is_flagged("directory")
    with pytest.raises(IncompleteCheckpointError):
        f.wf.checkpoints.split.get(s="a")

    # the checkpoint "runs": it writes two files into its output directory
    write("split/a/1.txt"), write("split/a/2.txt")
    new = dag.after_checkpoint(split)
    assert [(j.rule.name, j.wildcards.i) for j in new] == [("process", "1"), ("process", "2")]
    assert [j.jobid for j in new] == [4, 5]
    assert list(aggregate.input) == ["proc/a/1.out", "proc/a/2.out"]
    # aggregate reads split's output through its input function: it keeps that dependency
    assert set(dag.dependencies(aggregate)) == set(new) | {split}
    assert aggregate in dag.dependents(new[0]) and aggregate in dag.dependents(split)
    # files inside a directory() output have no producer (as in Snakemake): they exist
    assert all(dag.dependencies(j) == [] for j in new)
    assert not dag.pending_checkpoints
    order = dag.jobs
    assert order.index(new[0]) < order.index(aggregate) < order.index(dag.targets[0])
    assert f.wf.checkpoints.split.get(s="a").output[0] == "split/a"


def test_checkpoint_with_existing_output_counts_as_done(in_tmp):
    write("in/a.txt"), write("split/a/7.txt")
    dag = build_dag(split_workflow().wf)
    assert not dag.pending_checkpoints
    # the input function sees the outputs at once; the job reading them keeps a dependency
    # on the checkpoint job, in case the plan reruns it
    assert sorted(j.rule.name for j in dag.jobs) == ["aggregate", "all", "process", "split"]
    aggregate, split = dag.producer("agg/a.txt"), dag.producer("split/a")
    assert dag.producer("proc/a/7.out").wildcards.i == "7"
    assert list(aggregate.input) == ["proc/a/7.out"] and split in dag.dependencies(aggregate)

    # the checkpoint runs again and now writes two files: aggregate is re-evaluated
    write("split/a/8.txt")
    new = dag.after_checkpoint(split)
    assert [(j.rule.name, j.wildcards.i) for j in new] == [("process", "8")]
    assert list(aggregate.input) == ["proc/a/7.out", "proc/a/8.out"]


def test_nested_checkpoints(in_tmp):
    """A job re-evaluated after one checkpoint may then wait on another."""
    write("seed")
    f = Flow()

    def second_input(wildcards):
        first = f.wf.checkpoints.c1.get().output[0]
        n = pathlib.Path(first).read_text().strip()
        f.wf.checkpoints.c2.get(n=n)
        return [f"c2/{n}.txt"]

    (f.rule("all", 1, input="final.txt")
     .rule("c1", 2, checkpoint=True, input="seed", output="c1.txt")
     .rule("c2", 3, checkpoint=True, output="c2/{n}.txt")
     .rule("final", 4, input=second_input, output="final.txt"))
    dag = build_dag(f.wf)
    final = dag.producer("final.txt")
    c1 = dag.producer("c1.txt")
    assert dag.dependencies(final) == [c1]
    pathlib.Path("c1.txt").write_text("5\n")
    new = dag.after_checkpoint(c1)
    assert [(j.rule.name, j.wildcards.n) for j in new] == [("c2", "5")]
    assert dag.pending_checkpoints and dag.dependencies(final) == [new[0], c1]
    write("c2/5.txt")
    assert dag.after_checkpoint(new[0]) == []
    assert not dag.pending_checkpoints and list(final.input) == ["c2/5.txt"]
