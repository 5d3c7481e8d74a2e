"""The scheduler's own logic, with a tiny subprocess executor as the test double.

The real Dask executor is tested by its owner; end-to-end runs through ``engine.run`` use it.
Here every command really runs (bash, real files); only the transport is simplified.
"""
import os
import queue
import stat
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest


from sciflow.errors import JobFailedError, MissingOutputError, RunFailedError
from sciflow.events import JobResult, Listener, RunInfo
from sciflow.execute.base import Executor
from sciflow.execute.scheduler import Scheduler, SchedulerOptions
from sciflow.jobs import Job, JobState
from sciflow.metadata import MetadataStore
from sciflow.model import Action, IOFile, NamedList, SourceLoc, Wildcards, Workflow, WorkflowBuilder
from sciflow.plan import PlanOptions, make_plan

from helpers import FileDAG


class SubprocessExecutor(Executor):
    """Runs each spec's shell command with bash in a thread; tracks concurrent threads."""

    name = "test-subprocess"

    def __init__(self, workers=4):
        self.workers = workers
        self.done = queue.Queue()
        self.threads_now = 0
        self.max_threads = 0
        self.submitted = []
        self.lock = threading.Lock()

    def start(self):
        self.pool = ThreadPoolExecutor(self.workers)

    def submit(self, spec, priority=0):
        self.submitted.append(spec)
        with self.lock:
            self.threads_now += spec.threads
            self.max_threads = max(self.max_threads, self.threads_now)
        self.pool.submit(self._run, spec)

    def _run(self, spec):
        started = datetime.now(timezone.utc)
        p = subprocess.run(["bash", "-c", spec.command], cwd=spec.workdir, capture_output=True, text=True)
        ok = p.returncode == 0
        self.done.put((spec.threads, JobResult(
            spec.jobid, ok, started, datetime.now(timezone.utc), attempt=spec.attempt,
            exit_code=p.returncode, command=spec.command, log_tail=p.stderr[-2000:] or None,
            error=None if ok else f"command exited with status {p.returncode}")))

    def wait(self, timeout=None):
        out = []
        try:
            out.append(self.done.get(timeout=timeout))
        except queue.Empty:
            return []
        while True:
            try:
                out.append(self.done.get_nowait())
            except queue.Empty:
                break
        with self.lock:
            self.threads_now -= sum(t for t, _ in out)
        return [r for _, r in out]

    def shutdown(self):
        self.pool.shutdown(wait=True)


class Recorder(Listener):
    def __init__(self):
        self.events = []

    def job_started(self, run, job):
        self.events.append(("start", job.rule.name))

    def job_finished(self, run, job, result):
        self.events.append(("done", job.rule.name))

    def job_failed(self, run, job, result):
        self.events.append(("failed", job.rule.name))

    def run_finished(self, run, ok):
        self.events.append(("end", ok))


class Flow:
    """Build jobs by hand: ``flow.job(name, shell, inputs, outputs, **rule_directives)``."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.wf = Workflow(str(workdir / "Snakefile"))
        self.builder = WorkflowBuilder(self.wf)
        self.jobs = []

    def job(self, name, shell, inputs=(), outputs=(), priority=0, retries=0, threads=1):
        directives = {}
        if priority:
            directives["priority"] = ((priority,), {})
        if retries:
            directives["retries"] = ((retries,), {})
        rule = self.builder.add_rule(name, SourceLoc("Snakefile", len(self.jobs) + 1),
                                     action=Action("shell", shell) if shell else None, **directives)
        job = Job(len(self.jobs) + 1, rule, Wildcards(), NamedList(list(inputs)), NamedList(list(outputs)),
                  priority=priority, retries=retries, threads=threads)
        self.jobs.append(job)
        return job

    def run(self, targets, cores=None, **opts):
        dag = FileDAG(self.wf, self.jobs, targets)
        meta = MetadataStore(self.workdir)
        plan = make_plan(dag, meta, PlanOptions(workdir=str(self.workdir)))
        executor = SubprocessExecutor()
        listener = Recorder()
        run = RunInfo("test-run", str(self.workdir), self.wf.path, datetime.now(timezone.utc))
        sched = Scheduler(dag, plan, executor, meta, run, listener,
                          SchedulerOptions(workdir=str(self.workdir), cores=cores, wait_timeout=0.2, **opts))
        error = None
        try:
            sched.run()
        except RunFailedError as exc:
            error = exc
        return sched, listener, executor, error


def test_dependencies_first_and_metadata_recorded(tmp_path):
    f = Flow(tmp_path)
    a = f.job("a", "echo A > {output}", outputs=["a.txt"])
    b = f.job("b", "cat {input} > {output}; echo B >> {output}", inputs=["a.txt"], outputs=["b.txt"])
    sched, rec, _, err = f.run([b])
    assert err is None
    assert rec.events == [("start", "a"), ("done", "a"), ("start", "b"), ("done", "b"), ("end", True)]
    assert (tmp_path / "b.txt").read_text() == "A\nB\n"
    meta = MetadataStore(tmp_path)
    assert set(meta.load()) == {"a.txt", "b.txt"} and meta.incomplete() == {}
    assert meta.load()["b.txt"].inputs == ("a.txt",)
    assert a.state is JobState.DONE and b.state is JobState.DONE


def test_highest_priority_first_within_cores(tmp_path):
    f = Flow(tmp_path)
    low = f.job("low", "touch {output}", outputs=["low.txt"])
    high = f.job("high", "touch {output}", outputs=["high.txt"], priority=10)
    agg = f.job("agg", "cat {input} > {output}", inputs=["low.txt", "high.txt"], outputs=["agg.txt"])
    _, rec, ex, err = f.run([agg], cores=1)
    assert err is None
    starts = [name for kind, name in rec.events if kind == "start"]
    assert starts == ["high", "low", "agg"]
    assert ex.max_threads == 1


def test_threads_never_exceed_cores(tmp_path):
    f = Flow(tmp_path)
    jobs = [f.job(f"t{i}", "sleep 0.2; touch {output}", outputs=[f"t{i}.txt"], threads=2) for i in range(3)]
    one = [f.job(f"s{i}", "sleep 0.1; touch {output}", outputs=[f"s{i}.txt"]) for i in range(3)]
    agg = f.job("agg", "touch {output}", inputs=[f"t{i}.txt" for i in range(3)] + [f"s{i}.txt" for i in range(3)],
                outputs=["agg.txt"])
    _, _, ex, err = f.run([agg], cores=3)
    assert err is None and ex.max_threads <= 3
    big = Flow(tmp_path / "big")
    (tmp_path / "big").mkdir()
    j = big.job("j", "touch {output}", outputs=["x"], threads=8)
    _, _, ex, err = big.run([j], cores=2)
    assert err is None and ex.submitted[0].threads == 2  # scaled down to the cores, as Snakemake


def test_retries_resubmit_with_new_attempt_and_key(tmp_path):
    f = Flow(tmp_path)
    flaky = f.job("flaky", "if [ -e seen ]; then touch {output}; else touch seen; exit 3; fi",
                  outputs=["out.txt"], retries=1)
    _, rec, ex, err = f.run([flaky])
    assert err is None and (tmp_path / "out.txt").exists()
    assert [s.attempt for s in ex.submitted] == [1, 2]
    assert ex.submitted[0].key != ex.submitted[1].key
    assert rec.events.count(("start", "flaky")) == 1


def test_failure_reports_rule_command_status_and_log_tail(tmp_path):
    f = Flow(tmp_path)
    bad = f.job("bad", "echo partial > {output}; echo 'something broke' >&2; exit 7", outputs=["bad.txt"])
    after = f.job("after", "cp {input} {output}", inputs=["bad.txt"], outputs=["after.txt"])
    sched, rec, _, err = f.run([after])
    assert isinstance(err, RunFailedError) and len(err.failures) == 1
    failure = err.failures[0]
    assert isinstance(failure, JobFailedError) and failure.rule == "bad"
    text = err.format()
    assert "exit status: 7" in text and "echo partial > bad.txt" in text and "something broke" in text
    assert not (tmp_path / "bad.txt").exists()  # incomplete output removed
    assert after.state is JobState.CANCELLED
    assert ("end", False) in rec.events and ("start", "after") not in rec.events
    assert MetadataStore(tmp_path).incomplete() == {}


def test_keep_incomplete_leaves_outputs_marked(tmp_path):
    f = Flow(tmp_path)
    bad = f.job("bad", "echo partial > {output}; exit 1", outputs=["bad.txt"])
    _, _, _, err = f.run([bad], keep_incomplete=True)
    assert err is not None and (tmp_path / "bad.txt").exists()
    assert set(MetadataStore(tmp_path).incomplete()) == {"bad.txt"}


def test_missing_output_is_a_job_error(tmp_path):
    f = Flow(tmp_path)
    lazy = f.job("lazy", "true", outputs=["never.txt"])
    _, _, _, err = f.run([lazy])
    assert isinstance(err.failures[0], MissingOutputError) and "never.txt" in err.format()


def test_keep_going_finishes_independent_branches(tmp_path):
    def build(d):
        d.mkdir()
        f = Flow(d)
        f.job("bad", "exit 1", outputs=["bad.txt"])
        f.job("bad_next", "touch {output}", inputs=["bad.txt"], outputs=["bad_next.txt"])
        f.job("good", "sleep 0.3; touch {output}", outputs=["good.txt"])
        good_next = f.job("good_next", "touch {output}", inputs=["good.txt"], outputs=["good_next.txt"])
        return f, good_next
    f, good_next = build(tmp_path / "kg")
    _, rec, _, err = f.run(list(f.jobs[i] for i in (1, 3)), keep_going=True)
    assert err is not None and len(err.failures) == 1
    assert good_next.state is JobState.DONE and (tmp_path / "kg" / "good_next.txt").exists()
    f, good_next = build(tmp_path / "stop")
    _, rec, _, err = f.run(list(f.jobs[i] for i in (1, 3)))
    assert good_next.state is JobState.CANCELLED  # running 'good' finished, nothing new started
    assert (tmp_path / "stop" / "good.txt").exists() and not (tmp_path / "stop" / "good_next.txt").exists()


def test_temp_deleted_after_last_consumer_and_protected_read_only(tmp_path):
    f = Flow(tmp_path)
    f.job("make", "echo x > {output}", outputs=[IOFile("mid.txt", {"temp"})])
    f.job("use1", "sleep 0.2; cat {input} > {output}", inputs=["mid.txt"], outputs=["u1.txt"])
    f.job("use2", "cat {input} > {output}", inputs=["mid.txt"], outputs=[IOFile("u2.txt", {"protected"})])
    agg = f.job("agg", "cat {input} > {output}", inputs=["u1.txt", "u2.txt"], outputs=["agg.txt"])
    _, _, _, err = f.run([agg])
    assert err is None
    assert not (tmp_path / "mid.txt").exists()
    assert (tmp_path / "agg.txt").read_text() == "x\nx\n"
    mode = (tmp_path / "u2.txt").stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    # a temp file that is itself a target is kept
    g = Flow(tmp_path / "t")
    (tmp_path / "t").mkdir()
    tgt = g.job("make", "echo x > {output}", outputs=[IOFile("keep.txt", {"temp"})])
    _, _, _, err = g.run([tgt])
    assert err is None and (tmp_path / "t" / "keep.txt").exists()


class InterruptingExecutor(SubprocessExecutor):
    """Delivers Ctrl-C (KeyboardInterrupt) in the scheduler's wait, as a terminal would."""

    def wait(self, timeout=None):
        import time
        time.sleep(0.5)  # the job is running and has written part of its output
        raise KeyboardInterrupt

    def shutdown(self):
        self.shutdown_calls = getattr(self, "shutdown_calls", 0) + 1
        super().shutdown()


def test_ctrl_c_shuts_down_and_leaves_running_outputs_marked_incomplete(tmp_path):
    f = Flow(tmp_path)
    job = f.job("slow", "echo partial > {output}; sleep 1", outputs=["slow.txt"])
    dag = FileDAG(f.wf, f.jobs, [job])
    meta = MetadataStore(tmp_path)
    plan = make_plan(dag, meta, PlanOptions(workdir=str(tmp_path)))
    executor, listener = InterruptingExecutor(), Recorder()
    run = RunInfo("ctrl-c", str(tmp_path), f.wf.path, datetime.now(timezone.utc))
    sched = Scheduler(dag, plan, executor, meta, run, listener, SchedulerOptions(workdir=str(tmp_path)))
    with pytest.raises(KeyboardInterrupt):
        sched.run()
    assert executor.shutdown_calls == 1
    assert job.state is JobState.CANCELLED and listener.events[-1] == ("end", False)
    assert not (tmp_path / "slow.txt").exists()
    assert set(MetadataStore(tmp_path).incomplete()) == {"slow.txt"}


def test_write_protected_outputs_are_not_overwritten(tmp_path):
    f = Flow(tmp_path)
    job = f.job("redo", "echo new > {output}", outputs=["kept.txt"])
    (tmp_path / "kept.txt").write_text("precious\n")
    os.chmod(tmp_path / "kept.txt", 0o444)
    dag = FileDAG(f.wf, f.jobs, [job])
    plan = make_plan(dag, None, PlanOptions(workdir=str(tmp_path), forceall=True))
    run = RunInfo("p", str(tmp_path), f.wf.path, datetime.now(timezone.utc))
    sched = Scheduler(dag, plan, SubprocessExecutor(), MetadataStore(tmp_path), run, Recorder(),
                      SchedulerOptions(workdir=str(tmp_path)))
    with pytest.raises(RunFailedError) as info:
        sched.run()
    assert "write-protected output files would be overwritten: kept.txt" in info.value.format()
    assert (tmp_path / "kept.txt").read_text() == "precious\n"


def test_a_job_whose_command_cannot_be_formatted_fails_alone(tmp_path):
    f = Flow(tmp_path)
    bad = f.job("bad", "echo {nosuchname} > {output}", inputs=["in.txt"], outputs=["bad.txt"])
    good = f.job("good", "echo ok > {output}", outputs=["good.txt"])
    (tmp_path / "bad.txt").write_text("from an earlier run\n")
    os.utime(tmp_path / "bad.txt", (1, 1))
    (tmp_path / "in.txt").write_text("newer input\n")  # so 'bad' must run
    _, rec, _, err = f.run([bad, good], keep_going=True, cores=1)
    assert err is not None and err.failures[0].rule == "bad" and "nosuchname" in err.format()
    assert good.state is JobState.DONE
    assert (tmp_path / "bad.txt").read_text() == "from an earlier run\n"  # never ran: untouched
