"""Compaction of the store at the end of a big run (store.compact_after_run): the recorder calls
it from run_finished; a store written in many flushes ends in fewer RocksDB files with the same
quads, and a run too short for the store's size leaves it alone."""
import os
from datetime import datetime, timedelta, timezone

import pyoxigraph as ox

from sciflow.provenance import store as st
from sciflow.provenance.store import SharedStore, compact_after_run, store_path
from helpers import record_chain


def _ssts(workdir) -> int:
    return sum(1 for name in os.listdir(store_path(workdir)) if name.endswith(".sst"))


def _fragmented(workdir, flushes: int = 3) -> int:
    """A store written in ``flushes`` transactions, each flushed to its own files; its quads.
    Fewer than RocksDB's level-0 trigger (4 files), so no background compaction merges them first."""
    store_path(workdir).parent.mkdir(parents=True, exist_ok=True)
    store = ox.Store(str(store_path(workdir)))
    g = ox.NamedNode("urn:test:g")
    n = 0
    for batch in range(flushes):
        quads = [ox.Quad(ox.NamedNode(f"urn:test:s{batch}:{i}"), ox.NamedNode("urn:test:p"),
                         ox.Literal(str(i)), g) for i in range(200)]
        store.extend(quads)
        store.flush()
        n += len(quads)
    del store
    return n


def test_a_fragmented_store_is_compacted_with_its_quads(tmp_path, monkeypatch):
    n = _fragmented(tmp_path)
    before = _ssts(tmp_path)
    monkeypatch.setattr(st, "COMPACT_MIN_BYTES", 0)
    shared = SharedStore(tmp_path)
    started = datetime.now(timezone.utc) - timedelta(hours=1)
    assert compact_after_run(shared, started, None)
    shared.close()
    assert _ssts(tmp_path) < before
    assert len(ox.Store.read_only(str(store_path(tmp_path)))) == n


def test_a_run_too_short_for_the_store_leaves_it(tmp_path, monkeypatch):
    _fragmented(tmp_path)
    before = _ssts(tmp_path)
    monkeypatch.setattr(st, "COMPACT_MIN_BYTES", 0)
    monkeypatch.setattr(st, "COMPACT_BYTES_PER_S", 1)  # estimated: hours for this store
    shared = SharedStore(tmp_path)
    now = datetime.now(timezone.utc)
    assert not compact_after_run(shared, now - timedelta(seconds=10), now)
    shared.close()
    assert _ssts(tmp_path) == before
    # and a small store is never worth it with the shipped thresholds
    monkeypatch.undo()
    assert not compact_after_run(SharedStore(tmp_path), now - timedelta(hours=1), now)


def test_the_recorder_compacts_at_the_end_of_a_run(tmp_path, monkeypatch):
    from sciflow.provenance import journal

    monkeypatch.setattr(journal, "SEGMENT_BYTES", 4000)  # many small loads: many small files

    def record(run_id: str, started: datetime) -> None:
        record_chain(tmp_path, 40, run_id=run_id, started=started, background=False)

    import sciflow.provenance.record as rec_module

    done: list[bool] = []  # compact_after_run's answers (file counts move with RocksDB's own
    real = rec_module.compact_after_run  # background compactions, so they prove nothing alone)
    monkeypatch.setattr(rec_module, "compact_after_run", lambda *a: done.append(real(*a)) or done[-1])
    record("r1", datetime.now(timezone.utc))  # shipped thresholds: a small store stays as it is
    assert done == [False]
    monkeypatch.setattr(st, "COMPACT_MIN_BYTES", 0)
    record("r2", datetime.now(timezone.utc) - timedelta(hours=1))  # a long run: compacted
    assert done == [False, True]
    import sciflow.provenance as sp

    assert len(sp.open(tmp_path).lineage_table("f40.txt")) == 41


def test_a_run_that_wrote_much_of_the_store_compacts_however_fast_it_was(tmp_path, monkeypatch):
    """Bulk-loading the journal made runs fast enough that the time rule alone left big stores
    fragmented; a run whose journal was a quarter of the store or more compacts it anyway."""
    from sciflow.provenance.journal import Journal
    from sciflow.provenance.quads import Quads, sf

    _fragmented(tmp_path)
    monkeypatch.setattr(st, "COMPACT_MIN_BYTES", 0)
    monkeypatch.setattr(st, "COMPACT_BYTES_PER_S", 1)  # the time rule never allows it
    now = datetime.now(timezone.utc)

    def run(quads: int) -> bool:
        shared, journal = SharedStore(tmp_path), Journal(tmp_path)
        q = Quads("urn:test:g2")
        for i in range(quads):
            q.add(f"urn:test:run:{quads}:{i}", sf("n"), i)
        journal.append(q.take(), end=True)
        journal.rotate()
        assert shared.load_ready(journal) == 1
        done = compact_after_run(shared, now - timedelta(seconds=1), now)
        shared.close()
        journal.close()
        return done

    assert not run(2)        # a few quads on a bigger store: left as it is
    assert run(2000)         # most of the store: compacted
    assert len(ox.Store.read_only(str(store_path(tmp_path)))) == 600 + 2 + 2000
