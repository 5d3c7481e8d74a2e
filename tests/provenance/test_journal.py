"""The provenance journal (journal.py): finished jobs survive a SIGKILL before being loaded,
a job cut off mid-write is dropped whole, and the next run or reader loads what a dead run left."""
import sys
from datetime import datetime, timezone
from pathlib import Path

import pyoxigraph as ox

from helpers import sha256

import prov_golden as golden
import sciflow.provenance as sp
from sciflow import layout
from sciflow.provenance import journal as J
from sciflow.provenance import vocab as V
from sciflow.provenance.quads import P, Quads, sf
from sciflow.provenance.store import store_path

HERE = Path(__file__).parent

# Records two jobs of the golden workflow with no writer thread (nothing is loaded before a
# segment fills), then writes the first lines of a third job without its end, and waits.
CHILD = """
import sys, time
sys.path.insert(0, {here!r})
import prov_golden as golden
from sciflow.provenance.record import ProvenanceRecorder
rec = ProvenanceRecorder({wd!r}, background=False)
golden.run_golden({wd!r}, "killed-run", stop_after=2, recorder=rec,
                  on_job_recorded=lambda job: print(f"recorded {{job.jobid}}", flush=True))
rec._journal.append('<urn:half-job> <urn:p> "cut off" <urn:bundle> .\\n', end=False)
print("waiting", flush=True)
time.sleep(600)
"""


def killed_run(wd: Path) -> None:
    with golden.killed_after_two_jobs([sys.executable, "-c", CHILD.format(here=str(HERE), wd=str(wd))]):
        # finished jobs are in the journal only: the store has not seen them
        assert list(layout.prov_journal_dir(wd).glob("*.nq"))
        store = ox.Store.read_only(str(store_path(wd)))
        assert not list(store.quads_for_pattern(None, ox.NamedNode(V.SF + "jobId"), None, None))
        del store


def generated(wd: Path, path: str, run: str, jobid: int) -> str:
    return V.generated_file_iri(sha256(wd / path), path, run, jobid)


def test_reader_loads_a_killed_runs_journal_and_drops_the_cut_off_job(tmp_path):
    killed_run(tmp_path)
    p = sp.open(tmp_path)  # finds the dead run's journal and loads it first
    runs = p.runs()
    assert list(runs.run_id) == ["killed-run"] and runs.jobs.iloc[0] == 2
    assert list(runs.status) == [J.DIED]  # said by the reader that loaded what it left
    for jobid, s in enumerate("ab"):
        ent = generated(tmp_path, f"counts/{s}.txt", "killed-run", jobid)
        assert p.query(f"ASK {{ <{ent}> prov:wasGeneratedBy <{V.job_iri('killed-run', jobid)}> }}")
    assert p.query("ASK { <urn:half-job> ?p ?o }") is False
    assert not list(layout.prov_journal_dir(tmp_path).iterdir())  # loaded, lock file gone


def test_next_run_loads_a_dead_runs_journal_before_reading_the_latest_versions(tmp_path):
    killed_run(tmp_path)
    golden.run_golden(tmp_path, "after-crash")  # no reader in between
    p = sp.open(tmp_path)
    runs = p.runs()
    assert list(runs.run_id) == ["killed-run", "after-crash"]
    assert list(runs.status) == [J.DIED, "succeeded"]
    old = generated(tmp_path, "counts/a.txt", "killed-run", 0)
    new = generated(tmp_path, "counts/a.txt", "after-crash", 0)
    # the new run knew the killed run's version of counts/a.txt: it revises it
    assert p.query(f"ASK {{ <{new}> prov:wasRevisionOf <{old}> }}")
    assert p.query("ASK { <urn:half-job> ?p ?o }") is False


def test_a_live_writers_journal_is_left_alone_and_loaded_once_it_is_gone(tmp_path):
    journal = J.Journal(tmp_path)
    q = Quads(V.graph_iri("live"))
    q.add("urn:x", sf("status"), "done")
    assert journal.append(q.take(), end=True) is False  # far below a segment
    store = ox.Store(str(store_path(tmp_path)))
    assert not J.has_dead(tmp_path) and J.recover(store, tmp_path) == 0  # its lock is held
    journal.close()  # gone without loading: its segment is a dead writer's now
    assert J.has_dead(tmp_path) and J.recover(store, tmp_path) == 1
    assert [q.object.value for q in store.quads_for_pattern(ox.NamedNode("urn:x"), None, None, None)] == ["done"]
    assert not list(layout.prov_journal_dir(tmp_path).iterdir())


def test_values_survive_the_text_form(tmp_path):
    """Quotes, backslashes, newlines, non-ASCII text, typed values and JSON go through N-Quads
    text and come back as the literals pyoxigraph would have made."""
    when = datetime(2026, 12, 3, 10, 0, 0, 250000, tzinfo=timezone.utc)
    values = {"s": 'say "hi"\\n\nnext\r line \\ é ☃', "i": 42, "f": 0.1, "b": True, "t": when,
              "j": {"k": [1, "x\"y"]}}
    q = Quads(V.graph_iri("vals"))
    for name, value in values.items():
        q.add(f"urn:v:{name}", P.value, value)
    q.iri("urn:odd iri", P.value, "urn:o")  # a space cannot be in an IRI: percent-encoded
    journal = J.Journal(tmp_path)
    journal.append(q.take(), end=True)
    journal.rotate()
    store = ox.Store(str(store_path(tmp_path)))
    for path in journal.take_ready():
        J.load(store, path)
    journal.close()
    xsd = lambda t: ox.NamedNode(V.XSD + t)  # noqa: E731
    expected = {"s": ox.Literal(values["s"]), "i": ox.Literal("42", datatype=xsd("integer")),
                "f": ox.Literal("0.1", datatype=xsd("double")),
                "b": ox.Literal("true", datatype=xsd("boolean")),
                "t": ox.Literal("2026-12-03T10:00:00.250000+00:00", datatype=xsd("dateTime")),
                "j": ox.Literal('{"k":[1,"x\\"y"]}', datatype=ox.NamedNode(V.RDF_JSON))}
    reference = ox.Store()  # the terms written through extend, as the recorder used to
    reference.extend([ox.Quad(ox.NamedNode(f"urn:v:{name}"), ox.NamedNode(V.PROV + "value"), term,
                              ox.NamedNode(V.graph_iri("vals"))) for name, term in expected.items()])
    for name in values:
        s = ox.NamedNode(f"urn:v:{name}")
        [got] = [x.object for x in store.quads_for_pattern(s, None, None, None)]
        [want] = [x.object for x in reference.quads_for_pattern(s, None, None, None)]
        assert got == want, name
    assert list(store.quads_for_pattern(ox.NamedNode("urn:odd%20iri"), None, None, None))


def _dead_journal(wd: Path, subject: str) -> None:
    """A journal whose writer is gone without loading it (its lock released, as at a crash)."""
    journal = J.Journal(wd)
    q = Quads(V.graph_iri("dead"))
    q.add(subject, sf("status"), "done")
    journal.append(q.take(), end=True)
    journal.close()


def _has(store: ox.Store, subject: str) -> bool:
    return bool(list(store.quads_for_pattern(ox.NamedNode(subject), None, None, None)))


def test_a_reader_leaves_a_dead_journal_to_the_run_holding_the_store(tmp_path):
    from sciflow.provenance.store import open_readonly

    store_path(tmp_path).parent.mkdir(parents=True)
    holder = ox.Store(str(store_path(tmp_path)))  # a live run holds the write lock
    _dead_journal(tmp_path, "urn:dead:1")
    assert not _has(open_readonly(tmp_path), "urn:dead:1")  # reads what is there, no error
    assert J.has_dead(tmp_path)
    del holder
    assert _has(open_readonly(tmp_path), "urn:dead:1")  # the lock is free: loaded first
    assert not J.has_dead(tmp_path)


def test_a_live_runs_writer_thread_loads_a_dead_journal(tmp_path, monkeypatch):
    import time

    from sciflow.provenance.store import JournalWriter, SharedStore

    monkeypatch.setattr(JournalWriter, "RECOVER_EVERY_S", 0.1)
    shared = SharedStore(tmp_path)
    journal = J.Journal(tmp_path)
    writer = JournalWriter(shared, journal)
    try:
        _dead_journal(tmp_path, "urn:dead:2")
        deadline = time.monotonic() + 30
        while J.has_dead(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        writer.drain()
        assert not J.has_dead(tmp_path)
    finally:
        writer.close()
        journal.close()
        shared.close()
    assert _has(ox.Store.read_only(str(store_path(tmp_path))), "urn:dead:2")
