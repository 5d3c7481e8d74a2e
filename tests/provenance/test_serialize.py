"""Exports without loss: TriG and N-Quads keep each run's named graph; PROV-N and PROV-JSON
keep every record and the facts PROV-O has no term for, and the ``prov`` package reads them
back with the same number of records."""
import warnings

import pyoxigraph as ox
import pytest

import sciflow.provenance as sp
from sciflow.cli import main
from sciflow.provenance import vocab as V
from sciflow.provenance.serialize import count_records, export, prov_document

import prov_golden as golden


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    return golden.two_runs(tmp_path_factory.mktemp("two"))


@pytest.mark.parametrize("fmt, rdf", [("trig", ox.RdfFormat.TRIG), ("nquads", ox.RdfFormat.N_QUADS)])
def test_trig_and_nquads_keep_each_runs_graph(two_runs, tmp_path, fmt, rdf):
    out = export(two_runs, fmt, tmp_path / f"p.{fmt}")
    store = sp.open(two_runs).store
    want = set(store.quads_for_pattern(None, None, None, None))
    got = set(ox.parse(out.read_bytes(), format=rdf))
    assert got == want
    assert {q.graph_name.value for q in got} == {V.graph_iri("r1"), V.graph_iri("r2")}
    one = export(two_runs, fmt, tmp_path / f"r1.{fmt}", run_id="r1")
    assert {q.graph_name.value for q in ox.parse(one.read_bytes(), format=rdf)} == {V.graph_iri("r1")}


def _read(path, fmt):
    from prov.model import ProvDocument

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a statement the reader skips is a failure here
        return ProvDocument.deserialize(source=str(path), format=fmt)


def test_provn_round_trips_with_every_record(two_runs, tmp_path):
    doc = prov_document(sp.open(two_runs))
    out = export(two_runs, "provn", tmp_path / "p.provn")
    back = _read(out, "provn")
    n = count_records(doc)
    assert n > 100 and count_records(back) == n
    assert sorted(str(b.identifier) for b in back.bundles) == ["sciflow:bundle:r1", "sciflow:bundle:r2"]
    # as many activities as the store has jobs and runs
    p = sp.open(two_runs)
    activities = len(p.select("SELECT DISTINCT ?a WHERE { ?a a prov:Activity }"))
    assert sum(len(list(b.get_records(_cls("ProvActivity")))) for b in back.bundles) == activities
    text = out.read_text()
    # what the earlier PROV-N dropped: the command, host, worker and the job's run
    for fact in ('sf:command="wc -l data/a.txt > counts/a.txt"', 'sf:host="node1"',
                 'sf:worker="tcp://127.0.0.1:4000"', "provone:wasPartOf='sciflow:run\\:r1'",
                 "wasInformedBy(sciflow:run\\:r1\\:job\\:2, sciflow:run\\:r1\\:job\\:0)",
                 "wasDerivedFrom(", "wasAssociatedWith(", "prov:type='prov:Plan'"):
        assert fact in text, fact


def _cls(name):
    import prov.model

    return getattr(prov.model, name)


def test_provjson_round_trips(two_runs, tmp_path):
    doc = prov_document(sp.open(two_runs), "r1")
    out = export(two_runs, "provjson", tmp_path / "p.json", run_id="r1")
    back = _read(out, "json")
    assert count_records(back) == count_records(doc) > 50
    assert [str(b.identifier) for b in back.bundles] == ["sciflow:bundle:r1"]


def test_export_cli_formats(two_runs, tmp_path, capsys):
    for fmt in ("trig", "nquads", "provjson"):
        code = main(["prov", "export", "--format", fmt, "-o", str(tmp_path / fmt), "-d", str(two_runs)])
        assert code == 0 and (tmp_path / fmt).stat().st_size > 1000
    code = main(["prov", "export", "--format", "trig", "--run", "zz", "-o", str(tmp_path / "x"),
                 "-d", str(two_runs)])
    assert code == 2 and "no run 'zz'" in capsys.readouterr().err
