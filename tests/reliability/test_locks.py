"""Locks that mean something (issue 8, deliverable 5), with real concurrent ``sciflow run``s."""
import json
import socket

import pyoxigraph as ox

from sciflow.provenance import vocab as V

from .proctools import kill_run, lock_files, read_json, sciflow, start, wait_for

SNAKEFILE = '''
rule make:
    output: "{s}.txt"
    shell: "echo $$ >> job.pid; echo partial > {output}; if [ -e slow ]; then sleep 60; fi; sleep {config[pause]}; echo {wildcards.s} > {output}"
'''


def project(tmp_path, slow=True):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    if slow:
        (tmp_path / "slow").touch()
    return tmp_path


def test_unlock_refuses_a_live_owner_unless_forced(tmp_path):
    wd = project(tmp_path)
    proc = start(wd, "run", "a.txt", "-c1", "--config", "pause=0")
    try:
        lock = wait_for(lambda: lock_files(wd), what="the run's lock")[0]
        info = wait_for(lambda: read_json(lock), what="the lock's content")
        assert info["pid"] == proc.pid and info["host"] == socket.gethostname()
        stale = lock.parent / "stale.json"  # a run that died: its pid no longer exists
        stale.write_text(json.dumps({"pid": 2 ** 22 + 12345, "host": socket.gethostname(),
                                     "start": 1.0, "run_id": "stale", "outputs": ["z.txt"]}))
        refused = sciflow(wd, "run", "--unlock")
        assert refused.returncode != 0
        assert f"pid {proc.pid}" in refused.stderr and socket.gethostname() in refused.stderr
        assert "--force" in refused.stderr and "Traceback" not in refused.stderr
        assert "removed 1 stale lock" in refused.stderr
        assert lock.exists() and not stale.exists()
        forced = sciflow(wd, "run", "--unlock", "--force")
        assert forced.returncode == 0, forced.stderr
        assert not lock.exists()
    finally:
        kill_run(proc, wd / "job.pid")


def test_overlapping_run_is_refused_listing_the_shared_paths(tmp_path):
    wd = project(tmp_path)
    first = start(wd, "run", "a.txt", "b.txt", "-c1", "--config", "pause=0")
    try:
        wait_for(lambda: (wd / "job.pid").exists() and (wd / "a.txt").exists(),
                 what="the first run's job")
        second = sciflow(wd, "run", "a.txt", "b.txt", "c.txt", "-c1", "--config", "pause=0")
        text = second.stdout + second.stderr
        assert second.returncode != 0
        assert "another sciflow run" in text and f"pid {first.pid}" in text
        assert "a.txt" in text and "b.txt" in text and "seem to be incomplete" not in text, text
        assert "Traceback" not in text
        assert not (wd / "c.txt").exists()
    finally:
        kill_run(first, wd / "job.pid")


def test_disjoint_runs_share_the_directory_and_both_record_provenance(tmp_path):
    wd = project(tmp_path, slow=False)
    runs = [start(wd, "run", f"{s}.txt", "-c1", "--config", "pause=4") for s in "ab"]
    try:
        outs = [p.communicate(timeout=240)[0] for p in runs]
        for p, out in zip(runs, outs):
            assert p.returncode == 0, out
    finally:
        for p in runs:
            kill_run(p)
    assert (wd / "a.txt").read_text() == "a\n" and (wd / "b.txt").read_text() == "b\n"
    store = ox.Store.read_only(str(wd / ".sciflow" / "prov"))
    rows = list(store.query(
        f'SELECT ?run ?status WHERE {{ GRAPH ?g {{ ?run <{V.SF}status> ?status }} }}'))
    runs_seen = {r["run"].value: r["status"].value for r in rows if ":job:" not in r["run"].value}
    jobs_seen = [r for r in rows if ":job:" in r["run"].value]
    assert sorted(runs_seen.values()) == ["succeeded", "succeeded"], rows
    assert len(jobs_seen) == 2, rows
    files = {r["f"].value for r in store.query(
        f'SELECT ?f WHERE {{ GRAPH ?g {{ ?e <{V.PROV}wasGeneratedBy> ?a ; <{V.SF}path> ?f }} }}')}
    assert files, "no generations recorded"
