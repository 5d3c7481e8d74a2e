"""Planning: which jobs run and why (Snakemake's update_needrun semantics)."""
import json
import os
import time

import pytest

from sciflow.errors import WorkflowError
from sciflow.jobs import Job, ReasonKind
from sciflow.metadata import MetadataStore, fingerprint, records_for
from sciflow.model import Action, IOFile, NamedList, SourceLoc, Wildcards, Workflow, WorkflowBuilder
from sciflow.plan import PlanOptions, make_plan

from helpers import FileDAG


class Chain:
    """raw/{s}.txt -> a/{s}.txt (rule a) -> b/{s}.txt (rule b) -> all (inputs only)."""

    def __init__(self, workdir, samples=("x", "y"), a_shell="cp {input} {output}", a_params=(),
                 b_input_flag=None, a_output_flag=None, b_params=()):
        self.workdir = workdir
        self.wf = Workflow(str(workdir / "Snakefile"))
        b = WorkflowBuilder(self.wf)
        self.all_rule = b.add_rule("all", SourceLoc("Snakefile", 1))
        self.rule_a = b.add_rule("a", SourceLoc("Snakefile", 4), action=Action("shell", a_shell))
        self.rule_b = b.add_rule("b", SourceLoc("Snakefile", 9), action=Action("shell", "cp {input} {output}"))
        jobs, n = [], 0
        for s in samples:
            a_out = IOFile(f"a/{s}.txt", {a_output_flag} if a_output_flag else ())
            b_in = IOFile(f"a/{s}.txt", {b_input_flag} if b_input_flag else ())
            jobs.append(Job(n := n + 1, self.rule_a, Wildcards({"s": s}), NamedList([f"raw/{s}.txt"]),
                            NamedList([a_out]), params=NamedList(a_params)))
            jobs.append(Job(n := n + 1, self.rule_b, Wildcards({"s": s}), NamedList([b_in]),
                            NamedList([f"b/{s}.txt"]), params=NamedList(b_params)))
        self.all_job = Job(n + 1, self.all_rule, Wildcards(), NamedList([f"b/{s}.txt" for s in samples]),
                           NamedList())
        self.dag = FileDAG(self.wf, jobs + [self.all_job], [self.all_job])
        for s in samples:
            (workdir / "raw").mkdir(parents=True, exist_ok=True)
            p = workdir / "raw" / f"{s}.txt"
            if not p.exists():
                p.write_text(s)

    def plan(self, **kw):
        meta = MetadataStore(self.workdir)
        return make_plan(self.dag, meta, PlanOptions(workdir=str(self.workdir), **kw))

    def build(self, t=1000.0):
        """Make every output (mtime t, t+1), with metadata, as a finished run would."""
        meta = MetadataStore(self.workdir)
        for job in self.dag.jobs:
            for i, o in enumerate(job.output):
                p = self.workdir / str(o)
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text("x")
                stamp = t + (1 if job.rule.name == "b" else 0)
                os.utime(p, (stamp, stamp))
            fp = fingerprint(job, self.workdir)
            meta.record(records_for(job, fp, {str(o): None for o in job.output}, "run0"))
        for s in self.dag.jobs:
            for f in s.input:
                if str(f).startswith("raw/"):
                    os.utime(self.workdir / str(f), (t - 10, t - 10))


def kinds(job):
    return [r.kind for r in job.reasons]


def test_fresh_workflow_runs_everything_with_missing_output(tmp_path):
    c = Chain(tmp_path)
    plan = c.plan()
    assert plan.counts_by_rule() == {"a": 2, "all": 1, "b": 2}
    a = [j for j in plan.jobs if j.rule.name == "a"]
    assert all(kinds(j) == [ReasonKind.MISSING_OUTPUT] for j in a)
    assert kinds(plan.jobs[-1]) == [ReasonKind.UPSTREAM]
    # topological: each job after its dependencies
    pos = {j: i for i, j in enumerate(plan.jobs)}
    assert all(pos[d] < pos[j] for j in plan.jobs for d in c.dag.dependencies(j))


def test_built_workflow_has_nothing_to_do(tmp_path):
    c = Chain(tmp_path)
    c.build()
    plan = c.plan()
    assert plan.jobs == [] and len(plan.skipped) == 5
    assert plan.to_json() == {"jobs": []}


def test_touched_input_reruns_exactly_its_dependents(tmp_path):
    c = Chain(tmp_path)
    c.build()
    os.utime(tmp_path / "raw" / "x.txt", (5000, 5000))
    plan = c.plan()
    got = {(j.rule.name, j.wildcards.get("s")): kinds(j) for j in plan.jobs}
    assert got == {("a", "x"): [ReasonKind.UPDATED_INPUT], ("b", "x"): [ReasonKind.UPSTREAM],
                   ("all", None): [ReasonKind.UPSTREAM]}
    assert plan.jobs[0].reasons[0].files == ("raw/x.txt",)


def test_changed_params_code_and_input_set(tmp_path):
    Chain(tmp_path).build()
    plan = Chain(tmp_path, a_params=(5,)).plan()
    assert [(j.rule.name, kinds(j)[0]) for j in plan.jobs][:2] == [("a", ReasonKind.PARAMS_CHANGED)] * 2 \
        or sorted(kinds(j)[0] for j in plan.jobs if j.rule.name == "a") == [ReasonKind.PARAMS_CHANGED] * 2
    assert plan.counts_by_rule() == {"a": 2, "all": 1, "b": 2}
    code = Chain(tmp_path, a_shell="cp -p {input} {output}").plan()
    assert sorted(kinds(j)[0] for j in code.jobs if j.rule.name == "a") == [ReasonKind.CODE_CHANGED] * 2
    assert all(kinds(j) == [ReasonKind.UPSTREAM] for j in code.jobs if j.rule.name != "a")
    # the input set of 'all' changes when a sample is dropped: 'all' has no outputs, so it
    # does not run (Snakemake: nothing to be done); a job with outputs and a new input set does
    c = Chain(tmp_path)
    job = next(j for j in c.dag.jobs if j.rule.name == "a" and j.wildcards.s == "x")
    (tmp_path / "raw" / "extra.txt").write_text("e")
    os.utime(tmp_path / "raw" / "extra.txt", (1, 1))
    job.input.append("raw/extra.txt")
    plan = c.plan()
    assert [(j.rule.name, kinds(j)) for j in plan.jobs if j.rule.name == "a"] == \
        [("a", [ReasonKind.INPUT_SET_CHANGED])]


def test_every_reason_of_a_job_is_kept(tmp_path):
    """An updated input AND new params: both reasons (Snakemake shows the first kind only);
    a job downstream of one that runs keeps its own changed params after the upstream one."""
    Chain(tmp_path).build()
    os.utime(tmp_path / "raw" / "x.txt", (5000, 5000))
    plan = Chain(tmp_path, a_params=(5,)).plan()
    got = {(j.rule.name, j.wildcards.get("s")): kinds(j) for j in plan.jobs}
    assert got[("a", "x")] == [ReasonKind.UPDATED_INPUT, ReasonKind.PARAMS_CHANGED]
    assert got[("a", "y")] == [ReasonKind.PARAMS_CHANGED]
    Chain(tmp_path).build()
    plan = Chain(tmp_path, a_params=(5,), b_params=(7,)).plan()
    got = {(j.rule.name, j.wildcards.get("s")): kinds(j) for j in plan.jobs}
    assert got[("b", "x")] == [ReasonKind.UPSTREAM, ReasonKind.PARAMS_CHANGED]
    forced = Chain(tmp_path, a_params=(5,)).plan(forcerun={"a"})
    assert kinds(forced.jobs[0]) == [ReasonKind.FORCED, ReasonKind.PARAMS_CHANGED]


def test_ancient_input_does_not_trigger(tmp_path):
    c = Chain(tmp_path, b_input_flag="ancient")
    c.build()
    os.utime(tmp_path / "a" / "x.txt", (9000, 9000))
    assert c.plan().jobs == []
    # and an upstream rerun does not propagate through an existing ancient input
    c.build()
    os.utime(tmp_path / "raw" / "x.txt", (9000, 9000))
    assert [j.rule.name for j in c.plan().jobs] == ["a"]


def test_deleted_temp_output_is_not_remade_unless_needed(tmp_path):
    c = Chain(tmp_path, a_output_flag="temp")
    c.build()
    for s in ("x", "y"):
        os.remove(tmp_path / "a" / f"{s}.txt")
    assert c.plan().jobs == []
    os.remove(tmp_path / "b" / "x.txt")
    plan = c.plan()
    assert {(j.rule.name, j.wildcards.get("s")) for j in plan.jobs} == {("a", "x"), ("b", "x"), ("all", None)}
    assert kinds(next(j for j in plan.jobs if j.rule.name == "a")) == [ReasonKind.MISSING_OUTPUT]


def test_forceall_forcerun_until(tmp_path):
    c = Chain(tmp_path)
    c.build()
    assert c.plan(forceall=True).counts_by_rule() == {"a": 2, "all": 1, "b": 2}
    plan = c.plan(forcerun={"b"})
    assert plan.counts_by_rule() == {"all": 1, "b": 2}
    assert all(kinds(j) == [ReasonKind.FORCED] for j in plan.jobs if j.rule.name == "b")
    fresh = Chain(tmp_path / "fresh")
    until = fresh.plan(until={"a"})
    assert until.counts_by_rule() == {"a": 2}
    with pytest.raises(WorkflowError):
        fresh.plan(until={"nope"})


def test_target_rule_with_action_and_no_output_always_runs(tmp_path):
    wf = Workflow("Snakefile")
    r = WorkflowBuilder(wf).add_rule("hello", SourceLoc("S", 1), action=Action("shell", "echo hi"))
    job = Job(1, r, Wildcards(), NamedList(), NamedList())
    plan = make_plan(FileDAG(wf, [job], [job]), None, PlanOptions(workdir=str(tmp_path)))
    assert kinds(plan.jobs[0]) == [ReasonKind.NO_OUTPUT]


def test_incomplete_outputs_error_or_rerun(tmp_path):
    c = Chain(tmp_path)
    c.build()
    MetadataStore(tmp_path).mark_incomplete(["a/x.txt"], "crashed-run")
    with pytest.raises(WorkflowError, match="incomplete") as info:
        c.plan()
    assert "--rerun-incomplete" in info.value.hint and "a/x.txt" in info.value.message
    plan = c.plan(rerun_incomplete=True)
    assert {(j.rule.name, kinds(j)[0]) for j in plan.jobs} == {
        ("a", ReasonKind.INCOMPLETE), ("b", ReasonKind.UPSTREAM), ("all", ReasonKind.UPSTREAM)}


def test_to_json_shape(tmp_path):
    plan = Chain(tmp_path).plan()
    data = json.loads(json.dumps(plan.to_json()))
    assert set(data["jobs"][0]) == {"id", "rule", "wildcards", "inputs", "outputs", "reason"}
    assert data["jobs"][0]["reason"].startswith("Missing output files")


def test_plan_time_is_linear_and_small(tmp_path):
    """5k samples through the chain (10,001 jobs): well under 1 s even on a busy 2-core box."""
    c = Chain(tmp_path, samples=[f"s{i}" for i in range(5_000)])
    t0 = time.process_time()
    plan = c.plan()
    cpu = time.process_time() - t0
    assert len(plan.jobs) == 10_001
    assert cpu < 1.0, cpu
