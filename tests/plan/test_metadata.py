"""The metadata store: one SQLite file in WAL mode, batched writes, bulk reads."""
import sqlite3
import time

from sciflow.jobs import Job
from sciflow.metadata import MetadataStore, OutputRecord, code_hash, fingerprint, records_for
from sciflow.model import Action, NamedList, SourceLoc, Wildcards, Workflow, WorkflowBuilder


def _rec(path, **kw):
    base = dict(rule="r", job_key="r[s=a]", params_hash="p", code_hash="c", inputs=("in.txt",),
                software="", mtime=12.5, run_id="run1")
    base.update(kw)
    return OutputRecord(path, **base)


def test_round_trip_and_single_file_in_wal_mode(tmp_path):
    store = MetadataStore(tmp_path)
    store.record([_rec("a.txt"), _rec("b.txt", inputs=("x", "y"), software='{"conda": "env.yaml"}')])
    store.close()
    files = sorted(p.name for p in (tmp_path / ".sciflow").iterdir())
    assert files[0] == "meta.sqlite"  # one database (plus SQLite's -wal/-shm companions)
    assert set(files) <= {"meta.sqlite", "meta.sqlite-wal", "meta.sqlite-shm"}
    db = sqlite3.connect(tmp_path / ".sciflow" / "meta.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = MetadataStore(tmp_path).load()
    assert again["a.txt"] == _rec("a.txt")
    assert again["b.txt"].inputs == ("x", "y")


def test_incomplete_markers_set_and_cleared_by_record(tmp_path):
    store = MetadataStore(tmp_path)
    store.mark_incomplete(["a.txt", "b.txt"], "run1")
    assert MetadataStore(tmp_path).incomplete() == {"a.txt": "run1", "b.txt": "run1"}
    store.record([_rec("a.txt")])
    assert set(MetadataStore(tmp_path).incomplete()) == {"b.txt"}
    store.clear_incomplete(["b.txt"])
    assert MetadataStore(tmp_path).incomplete() == {}


def test_bulk_write_and_read_100k_outputs_fast(tmp_path):
    store = MetadataStore(tmp_path)
    recs = [_rec(f"out/{i}.txt", job_key=f"r[i={i}]") for i in range(100_000)]
    t0 = time.perf_counter()
    store.record(recs)
    t1 = time.perf_counter()
    loaded = MetadataStore(tmp_path).load()
    t2 = time.perf_counter()
    assert len(loaded) == 100_000 and loaded["out/99999.txt"].job_key == "r[i=99999]"
    assert t1 - t0 < 10 and t2 - t1 < 10, (t1 - t0, t2 - t1)


def _job(wf, name, shell, params=(), inputs=("a",), conda=None):
    rule = WorkflowBuilder(wf).add_rule(name, SourceLoc("Snakefile", 1),
                                        action=Action("shell", shell),
                                        **({"conda": ((conda,), {})} if conda else {}))
    return Job(1, rule, Wildcards({"s": "x"}), NamedList(inputs), NamedList(["o"]),
               params=NamedList(params))


def test_fingerprint_tracks_params_code_inputs_software():
    base = fingerprint(_job(Workflow("S"), "r", "cat {input}"))
    assert fingerprint(_job(Workflow("S"), "r", "cat {input}")) == base
    assert fingerprint(_job(Workflow("S"), "r", "cat {input}", params=(1,))).params_hash != base.params_hash
    assert fingerprint(_job(Workflow("S"), "r", "cat  {input}")).code_hash != base.code_hash
    assert fingerprint(_job(Workflow("S"), "r", "cat {input}", inputs=("b", "a"))).inputs == ("a", "b")
    assert fingerprint(_job(Workflow("S"), "r", "cat {input}", conda="env.yaml")).software != base.software
    assert base.job_key == "r[s=x]"


def test_script_code_hash_follows_file_content(tmp_path):
    (tmp_path / "s.py").write_text("print(1)\n")
    wf = Workflow(str(tmp_path / "Snakefile"))
    rule = WorkflowBuilder(wf).add_rule("r", SourceLoc("S", 1), action=Action("script", "s.py"))
    h1 = code_hash(rule, tmp_path)
    (tmp_path / "s.py").write_text("print(2)\n")
    import os
    os.utime(tmp_path / "s.py", (1, 1))
    assert code_hash(rule, tmp_path) != h1


def test_records_for_each_output():
    job = _job(Workflow("S"), "r", "x")
    fp = fingerprint(job)
    recs = records_for(job, fp, {"o": 3.0}, "run9")
    assert [(r.path, r.mtime, r.run_id, r.rule) for r in recs] == [("o", 3.0, "run9", "r")]
