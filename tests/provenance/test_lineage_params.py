"""Parameter values that come with the lineage (Provenance.lineage_with_params): the query
concatenates each job's values percent-encoded, so values with commas, spaces, percent signs,
non-ASCII text, long strings, JSON, floats and booleans must come back exactly as the named
query params-of.rq returns them, whichever plan (hash joins or lookups) answers."""
from datetime import datetime, timezone

import pytest

import sciflow.provenance as sp
from sciflow.cli import main

ODD = {"text": "a, b %20 c", "word": "ünïcode ✓", "long": "x" * 100, "doc": {"k": [1, "a b"]},
       "ratio": 0.25, "flag": True, "n": -3}


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    from sciflow.events import JobResult, RunInfo
    from sciflow.jobs import Job
    from sciflow.model import Action, NamedList, SourceLoc, Wildcards, Workflow, WorkflowBuilder
    from sciflow.provenance.record import ProvenanceRecorder

    d = tmp_path_factory.mktemp("params")
    (d / "Sciflowfile").write_text("rule step: ...\n")
    wf = Workflow(path="Sciflowfile")
    rule = WorkflowBuilder(wf).add_rule(
        "step", SourceLoc("Sciflowfile", 1, 1), input=(("f{i}.txt",), {}), output=(("f{j}.txt",), {}),
        action=Action("shell", "cp {input} {output}", SourceLoc("Sciflowfile", 2, 5)))
    (d / "f0.txt").write_text("raw\n")
    jobs = [Job(i, rule, Wildcards({"i": str(i - 1)}), NamedList([f"f{i - 1}.txt"]),
                NamedList([f"f{i}.txt"]), params=NamedList((), {**ODD, "i": i}))
            for i in range(1, 6)]
    run = RunInfo("r1", str(d), "Sciflowfile", datetime.now(timezone.utc), workflow=wf,
                  command_line=["test"], user="u", host="h")
    rec = ProvenanceRecorder(d, background=False)
    rec.run_started(run, jobs)
    for job in jobs:
        rec.job_started(run, job)
        t = datetime.now(timezone.utc)
        (d / job.output[0]).write_text(f"{job.jobid}\n")
        rec.job_finished(run, job, JobResult(job.jobid, True, t, datetime.now(timezone.utc)))
    rec.run_finished(run, True)
    return d


@pytest.mark.parametrize("hash_joins", [True, False])
def test_odd_values_come_back_as_params_of_gives_them(chain, hash_joins):
    p = sp.open(chain)
    p._hash_ok = hash_joins
    table, params = p.lineage_with_params("f5.txt")
    assert len(table) == 6
    named = p.named("params-of", {"path": "f5.txt"}).records()
    assert len(named) == 5 * (len(ODD) + 1)
    assert set(params.rows) == {(r["rule"], r["name"], r["value"], r["datatype"], r["job"]) for r in named}
    values = {(r[1], r[2]) for r in params.rows}
    assert {("text", "a, b %20 c"), ("word", "ünïcode ✓"), ("long", "x" * 100), ("ratio", 0.25),
            ("flag", True), ("n", -3), ("i", 5)} <= values


def test_the_tree_prints_each_jobs_values(chain, capsys):
    assert main(["prov", "lineage", "f2.txt", "-d", str(chain)]) == 0
    out = capsys.readouterr().out
    assert out.count("params: ") == 2
    assert "text=a, b %20 c" in out and "word=ünïcode ✓" in out and "i=2" in out


@pytest.mark.parametrize("hash_joins", [True, False])
def test_a_job_is_found_for_files_whose_iri_does_not_name_it(tmp_path, hash_joins):
    """Lineage reads the generating job from sciflow's file-version IRI; an entity of another
    form (imported provenance) gets its job from the store."""
    import pyoxigraph as ox

    from sciflow.provenance import vocab as V
    from sciflow.provenance.store import store_path

    def n(iri):
        return ox.NamedNode(iri)

    raw = V.file_iri("a" * 64, "in.txt")
    made = V.generated_file_iri("b" * 64, "mid.txt", "r1", 1)
    other = "https://example.org/data/out.txt"
    g = n(V.graph_iri("r1"))
    job1, job2 = V.job_iri("r1", 1), "https://example.org/activity/7"
    store_path(tmp_path).parent.mkdir(parents=True)
    store = ox.Store(str(store_path(tmp_path)))
    triples = [
        (made, V.PROV + "wasGeneratedBy", n(job1)), (made, V.PROV + "wasDerivedFrom", n(raw)),
        (job1, V.SF + "ruleName", ox.Literal("first")),
        (other, V.PROV + "wasGeneratedBy", n(job2)), (other, V.PROV + "wasDerivedFrom", n(made)),
        (job2, V.SF + "ruleName", ox.Literal("second")),
        (other, V.SF + "path", ox.Literal("out.txt")), (other, V.SF + "sha256", ox.Literal("c" * 64)),
    ]
    store.extend([ox.Quad(n(s), n(p), o, g) for s, p, o in triples])
    store.flush()
    del store
    p = sp.open(tmp_path)
    p._hash_ok = hash_joins
    rows = {r["file"]: r for r in p.lineage_table("", entity=other).records()}
    assert {f: (r["job"], r["rule"], r["raw"], r["path"]) for f, r in rows.items()} == {
        other: (job2, "second", False, "out.txt"), made: (job1, "first", False, "mid.txt"),
        raw: (None, None, True, "in.txt")}
    assert rows[made]["run_id"] == "r1"
