"""The engine entry point: lock, options, and end-to-end runs on the real Dask executor."""
import json
import os
import subprocess
import sys
import time

import pytest

from oracle import SNAKEMAKE, dry_run_counts, snakemake
from sciflow.errors import LockError, RunFailedError, UsageError
from sciflow.lock import RunLock, unlock


# ------------------------------------------------------------------------------ lock
def test_second_run_on_overlapping_outputs_is_refused_with_pid_host_and_unlock_hint(tmp_path):
    with RunLock(tmp_path, "run-1", ["a.txt", "b.txt"]):
        with pytest.raises(LockError) as info:
            RunLock(tmp_path, "run-2", ["b.txt", "c.txt"]).acquire()
        err = info.value
        assert f"pid {os.getpid()}" in err.message and "run-1" in err.message and "b.txt" in err.message
        assert "--unlock" in err.hint
        with RunLock(tmp_path, "run-3", ["other.txt"]):  # disjoint outputs may share the directory
            pass
    with RunLock(tmp_path, "run-4", ["a.txt"]):  # released: free again
        pass


def test_stale_lock_of_dead_process_is_taken_over(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    lockdir = tmp_path / ".sciflow" / "lock"
    lockdir.mkdir(parents=True)
    import socket
    (lockdir / "dead.json").write_text(json.dumps(
        {"pid": proc.pid, "host": socket.gethostname(), "run_id": "dead", "outputs": ["a.txt"]}))
    with RunLock(tmp_path, "run-2", ["a.txt"]):
        assert not (lockdir / "dead.json").exists()


def test_unlock_removes_locks_of_other_hosts(tmp_path):
    lockdir = tmp_path / ".sciflow" / "lock"
    lockdir.mkdir(parents=True)
    (lockdir / "x.json").write_text(json.dumps(
        {"pid": 1, "host": "elsewhere.example", "run_id": "x", "outputs": ["a.txt"]}))
    with pytest.raises(LockError, match="elsewhere.example"):
        RunLock(tmp_path, "mine", ["a.txt"]).acquire()
    assert unlock(tmp_path) == 1
    RunLock(tmp_path, "mine", ["a.txt"]).acquire()


# ------------------------------------------------------------------------------ options
def test_run_options_aliases_and_profile(tmp_path):
    from sciflow.engine import RunOptions, apply_profile, new_run_id

    opts = RunOptions(workdir=str(tmp_path), config_overrides={"k": 1})
    assert opts.directory == str(tmp_path) and opts.config == {"k": 1}
    profile = tmp_path / "profile.yaml"
    profile.write_text("cores: 3\nkeep-going: true\nconfig:\n  k: 0\n  other: 2\n")
    opts = apply_profile(RunOptions(profile=str(profile), config={"k": 1}, cores=1))
    assert opts.cores == 1 and opts.keep_going is True  # explicit values win over the profile
    assert opts.config == {"k": 1, "other": 2}
    with pytest.raises(UsageError):
        RunOptions(cluster="condor")
    import re
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", new_run_id())


# ------------------------------------------------------------------------------ end to end
SNAKEFILE = '''
SAMPLES = ["x", "y"]

onsuccess:
    shell("echo ok > handler.txt")

onerror:
    shell("echo failed > handler.txt")

rule all:
    input: expand("up/{s}.txt", s=SAMPLES)

rule copy:
    input: "raw/{s}.txt"
    output: "mid/{s}.txt"
    params: tag=config.get("tag", "t1")
    shell: "echo {params.tag} | cat {input} - > {output}"

rule upper:
    input: "mid/{s}.txt"
    output: "up/{s}.txt"
    shell: "tr a-z A-Z < {input} > {output}"
'''


def _workflow(tmp_path, text=SNAKEFILE):
    (tmp_path / "raw").mkdir(exist_ok=True)
    for s in ("x", "y"):
        (tmp_path / "raw" / f"{s}.txt").write_text(f"sample {s}\n")
    (tmp_path / "Snakefile").write_text(text)
    return tmp_path


def _run(tmp_path, **kw):
    from sciflow.engine import RunOptions, run
    kw.setdefault("cores", 2)
    return run(RunOptions(directory=str(tmp_path), **kw))


def _plan(tmp_path, **kw):
    summary = _run(tmp_path, dry_run=True, **kw)
    return {(j.rule.name, j.wildcards.get("s")): [r.kind.value for r in j.reasons] for j in summary.plan.jobs}


def test_run_then_nothing_to_do_then_incremental_reruns(tmp_path):
    _workflow(tmp_path)
    summary = _run(tmp_path)
    assert summary.ok and (tmp_path / "up" / "x.txt").read_text() == "SAMPLE X\nT1\n"
    assert (tmp_path / "handler.txt").read_text() == "ok\n"  # onsuccess ran in the workdir
    assert len(summary.results) == 5 and all(r.ok for r in summary.results.values())
    assert (tmp_path / ".sciflow" / "meta.sqlite").exists()
    assert not list((tmp_path / ".sciflow" / "lock").glob("*.json"))  # released

    t0 = time.perf_counter()
    again = _run(tmp_path)
    assert again.ok and again.plan.jobs == [] and again.results == {}
    assert time.perf_counter() - t0 < 5  # no cluster is started for a no-op

    # touching an input without changing it reruns nothing (Snakemake 9 compares checksums)
    time.sleep(0.05)
    os.utime(tmp_path / "raw" / "x.txt")  # now: newer than the outputs
    assert _plan(tmp_path) == {}
    # changing an input reruns exactly its dependents
    (tmp_path / "raw" / "x.txt").write_text("sample x, revised\n")
    assert _plan(tmp_path) == {("copy", "x"): ["updated-input"], ("upper", "x"): ["upstream"],
                               ("all", None): ["upstream"]}
    assert _run(tmp_path).ok

    # change a param through --config: the copy jobs rerun with PARAMS_CHANGED
    assert _plan(tmp_path, config={"tag": "t2"}) == {
        ("copy", "x"): ["params-changed"], ("copy", "y"): ["params-changed"],
        ("upper", "x"): ["upstream"], ("upper", "y"): ["upstream"], ("all", None): ["upstream"]}

    # change shell text: CODE_CHANGED for that rule's jobs only (and what is downstream)
    (tmp_path / "Snakefile").write_text(SNAKEFILE.replace("tr a-z A-Z", "tr 'a-z' 'A-Z'"))
    assert _plan(tmp_path) == {("upper", "x"): ["code-changed"], ("upper", "y"): ["code-changed"],
                               ("all", None): ["upstream"]}
    assert _run(tmp_path).ok and _plan(tmp_path) == {}

    # forcerun / until through the engine
    assert set(_plan(tmp_path, forcerun=["upper"])) == {("upper", "x"), ("upper", "y"), ("all", None)}
    assert set(_plan(tmp_path, forceall=True, until=["copy"])) == {("copy", "x"), ("copy", "y")}


def test_failed_job_raises_with_summary_and_runs_onerror(tmp_path):
    text = SNAKEFILE.replace('shell: "tr a-z A-Z < {input} > {output}"',
                             'shell: "echo half > {output}; echo boom >&2; exit 4"')
    _workflow(tmp_path, text)
    with pytest.raises(RunFailedError) as info:
        _run(tmp_path, keep_going=True)
    err = info.value
    assert len(err.failures) == 2 and {f.rule for f in err.failures} == {"upper"}
    text = err.format()
    assert "exit status: 4" in text and "boom" in text
    assert err.summary.ok is False
    assert not (tmp_path / "up" / "x.txt").exists()  # removed, not left half-written
    assert (tmp_path / "mid" / "x.txt").exists()     # the good upstream job's output stays
    assert (tmp_path / "handler.txt").read_text() == "failed\n"


def test_atomic_outputs_never_show_a_half_written_file(tmp_path):
    """With --atomic-outputs the command writes beside the output; only success renames it."""
    text = SNAKEFILE.replace('shell: "tr a-z A-Z < {input} > {output}"',
                             'shell: "echo half > {output}; if [ -e up/{wildcards.s}.txt ]; then touch leak; fi; '
                             'test -e ok.flag; tr a-z A-Z < {input} >> {output}"')
    _workflow(tmp_path, text)
    with pytest.raises(RunFailedError):
        _run(tmp_path, keep_going=True, atomic_outputs=True)
    assert not (tmp_path / "up" / "x.txt").exists()        # nothing half-written appeared
    assert not (tmp_path / "leak").exists()                # not even while the job ran
    assert not list((tmp_path / "up").glob(".sciflow-tmp*"))  # and no temp debris is left
    (tmp_path / "ok.flag").write_text("")
    assert _run(tmp_path, atomic_outputs=True).ok
    assert (tmp_path / "up" / "x.txt").read_text() == "half\nSAMPLE X\nT1\n"
    assert not list((tmp_path / "up").glob(".sciflow-tmp*"))


def test_touch_marks_outputs_up_to_date(tmp_path):
    _workflow(tmp_path)
    assert _run(tmp_path).ok
    time.sleep(0.05)
    (tmp_path / "raw" / "y.txt").write_text("sample y, revised\n")
    assert _plan(tmp_path) != {}
    summary = _run(tmp_path, touch=True)
    assert summary.touched == 2  # mid/y.txt and up/y.txt; 'all' has no outputs
    assert _plan(tmp_path) == {}
    assert (tmp_path / "up" / "y.txt").read_text() == "SAMPLE Y\nT1\n"  # not rerun


def test_lock_refuses_a_second_run_on_the_same_outputs(tmp_path):
    _workflow(tmp_path)
    with RunLock(tmp_path, "other-run", ["mid/x.txt"]):
        with pytest.raises(LockError, match="other-run"):
            _run(tmp_path)
    assert not (tmp_path / "mid" / "x.txt").exists()
    assert _run(tmp_path, unlock=True).unlocked == 0


def _sm(d, *args):
    snakemake(d, "-c1", *args)


def _sm_counts(d, *args):
    from collections import Counter
    return Counter(dry_run_counts(d, *args))


def _sf_counts(d, **kw):
    from collections import Counter
    return Counter(_run(d, dry_run=True, **kw).plan.counts_by_rule())


def _twins(tmp_path, text):
    if not SNAKEMAKE.exists():
        pytest.skip("snakemake (the oracle) not installed")
    dirs = []
    for name in ("sm", "sf"):
        d = tmp_path / name
        d.mkdir()
        _workflow(d, text)
        dirs.append(d)
    return dirs


@pytest.mark.snakemake
def test_incremental_plans_match_snakemake(tmp_path):
    """Snakemake is the oracle: after the same edits, both plan the same jobs per rule."""
    from collections import Counter
    smd, sfd = dirs = _twins(tmp_path, SNAKEFILE)
    assert _sm_counts(smd) == _sf_counts(sfd)
    _sm(smd)
    assert _run(sfd).ok
    assert _sm_counts(smd) == _sf_counts(sfd) == Counter()
    time.sleep(0.05)
    for d in dirs:
        os.utime(d / "raw" / "y.txt")  # touched, same content: nothing to do for both
    assert _sm_counts(smd) == _sf_counts(sfd) == Counter()
    for d in dirs:
        (d / "raw" / "y.txt").write_text("sample y, revised\n")
    assert _sm_counts(smd) == _sf_counts(sfd) != Counter()
    for d in dirs:
        (d / "mid" / "x.txt").unlink()
    assert _sm_counts(smd) == _sf_counts(sfd)
    assert _sm_counts(smd, "--config", "tag=t9") == _sf_counts(sfd, config={"tag": "t9"})
    assert _sm_counts(smd, "--forcerun", "copy") == _sf_counts(sfd, forcerun=["copy"])
    assert _sm_counts(smd, "--until", "copy") == _sf_counts(sfd, until=["copy"])


FLAGS_SNAKEFILE = SNAKEFILE.replace('output: "mid/{s}.txt"', 'output: temp("mid/{s}.txt")') \
    .replace('input: "mid/{s}.txt"', 'input: "mid/{s}.txt", ref=ancient("ref.txt")') \
    .replace("tr a-z A-Z < {input}", "tr a-z A-Z < {input[0]}")


@pytest.mark.snakemake
def test_temp_and_ancient_plans_match_snakemake(tmp_path):
    from collections import Counter
    smd, sfd = dirs = _twins(tmp_path, FLAGS_SNAKEFILE)
    for d in dirs:
        (d / "ref.txt").write_text("ref\n")
    _sm(smd)
    assert _run(sfd).ok
    for d in dirs:
        assert not (d / "mid" / "x.txt").exists()  # temp() removed after its consumer
    assert _sm_counts(smd) == _sf_counts(sfd) == Counter()
    time.sleep(0.05)
    for d in dirs:
        (d / "ref.txt").write_text("ref, changed\n")  # ancient: newer but no rerun
    assert _sm_counts(smd) == _sf_counts(sfd) == Counter()
    for d in dirs:
        (d / "up" / "x.txt").unlink()  # the temp producer must come back for it
    assert _sm_counts(smd) == _sf_counts(sfd) == Counter({"copy": 1, "upper": 1, "all": 1})


def test_console_progress_shows_counts_and_failures(tmp_path):
    from rich.console import Console
    from sciflow.engine import RunOptions, run
    from sciflow.progress import ConsoleProgress

    text = SNAKEFILE.replace('shell: "tr a-z A-Z < {input} > {output}"',
                             'shell: "echo oops >&2; exit 9"')
    _workflow(tmp_path, text)
    console = Console(record=True, force_terminal=True, width=120)
    progress = ConsoleProgress(console)
    with pytest.raises(RunFailedError):
        run(RunOptions(directory=str(tmp_path), cores=2, keep_going=True), listeners=[progress])
    out = console.export_text()
    assert "job failed" in out and "rule upper" in out and "s=x" in out
    assert "exit status: 9" in out and "oops" in out
    assert "FAILED: 2 of 5 jobs done, 2 failed" in out
    stats = out.split("Job stats", 1)[1]
    assert [line.split() for line in stats.splitlines()[2:6]] == \
        [["all", "1"], ["copy", "2"], ["upper", "2"], ["total", "5"]]
    quiet = Console(record=True, force_terminal=False)
    assert ConsoleProgress(quiet).enabled is False  # not a terminal: stays quiet


CHECKPOINT_SNAKEFILE = '''
wildcard_constraints:
    sample="[a-z]+",
    i="[0-9]+",

rule all:
    input: "aggregated/a.txt", "aggregated/b.txt"

checkpoint split:
    output: directory("chunks/{sample}")
    params: n=lambda wildcards: {"a": 3, "b": 2}[wildcards.sample]
    shell: "mkdir -p {output}; for i in $(seq 1 {params.n}); do echo {wildcards.sample}-$i > {output}/c$i.txt; done"

rule process:
    input: "chunks/{sample}/c{i}.txt"
    output: "processed/{sample}/c{i}.txt"
    shell: "sleep 0.2; tr a-z A-Z < {input} > {output}"

def processed_chunks(wildcards):
    outdir = checkpoints.split.get(sample=wildcards.sample).output[0]
    ids = glob_wildcards(os.path.join(outdir, "c{i}.txt")).i
    return expand("processed/{sample}/c{i}.txt", sample=wildcards.sample, i=sorted(ids))

rule aggregate:
    input: processed_chunks
    output: "aggregated/{sample}.txt"
    shell: "cat {input} > {output}"
'''


def test_checkpoint_adds_jobs_that_run_before_the_aggregation(tmp_path):
    from sciflow.engine import RunOptions, run
    from sciflow.events import Listener

    class Added(Listener):
        added = []

        def jobs_added(self, run, jobs):
            self.added.extend(j.rule.name for j in jobs)

    (tmp_path / "Snakefile").write_text(CHECKPOINT_SNAKEFILE)
    listener = Added()
    summary = run(RunOptions(directory=str(tmp_path), cores=2), listeners=[listener])
    assert summary.ok and sorted(listener.added) == ["process"] * 5
    assert (tmp_path / "aggregated" / "a.txt").read_text() == "A-1\nA-2\nA-3\n"
    assert (tmp_path / "aggregated" / "b.txt").read_text() == "B-1\nB-2\n"
    assert _run(tmp_path, dry_run=True).plan.jobs == []  # and then nothing to do


def test_notebook_rules_without_the_notebook_extra_fail_before_any_job_runs(tmp_path, monkeypatch):
    """Missing nbclient is a clear error at start naming the extra, not a failure of the
    first notebook job after the jobs before it ran. (``sys.modules[name] = None`` is how
    Python itself spells "this module cannot be imported".)"""
    from sciflow.errors import DeploymentError
    (tmp_path / "Snakefile").write_text(
        'rule nb:\n    input: "a.txt"\n    output: "out.txt"\n    notebook: "job.ipynb"\n\n'
        'rule first:\n    output: "a.txt"\n    shell: "touch {output}"\n')
    (tmp_path / "job.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, '
                                        '"nbformat_minor": 5}')
    monkeypatch.setitem(sys.modules, "nbclient", None)
    with pytest.raises(DeploymentError) as info:
        _run(tmp_path)
    assert "nbclient" in info.value.message and "sciflow[jupyter]" in info.value.hint
    assert "rule 'nb'" in info.value.message and info.value.loc.line == 4
    assert not (tmp_path / "a.txt").exists()
