"""SHACL shapes on real runs and on planted broken graphs; Turtle and JSON-LD exports."""
import json

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import PROV

import sciflow.provenance as sp
from sciflow.provenance import vocab as V
from sciflow.provenance.serialize import export, rdflib_graph
from sciflow.provenance.shapes import shapes_graph, validate, validate_graph

SF = V.SF


def test_shacl_passes_on_real_run(golden_dir):
    reports = validate(sp.open(golden_dir))
    assert [r.run_id for r in reports] == ["r1"]
    assert reports[0].conforms, reports[0].text


@pytest.mark.parametrize("breakage", ["no-qualified-usage", "bad-sha", "no-plan", "no-start",
                                      "param-without-value"])
def test_shacl_fails_on_planted_broken_graph(golden_dir, breakage):
    g = rdflib_graph(sp.open(golden_dir), "r1")
    job = URIRef(V.job_iri("r1", 2))
    if breakage == "no-qualified-usage":
        g.add((job, PROV.used, URIRef(V.file_iri("0" * 64, "data/a.txt"))))
    elif breakage == "bad-sha":
        ent = next(g.subjects(URIRef(SF + "sha256"), None))
        g.set((ent, URIRef(SF + "sha256"), Literal("not-a-checksum")))
    elif breakage == "no-plan":
        g.remove((None, PROV.hadPlan, URIRef(V.rule_iri("r1", "summary"))))
    elif breakage == "no-start":
        g.remove((job, PROV.startedAtTime, None))
    else:
        param = next(g.subjects(URIRef(SF + "name"), Literal("title")))
        g.remove((param, PROV.value, None))
    conforms, text = validate_graph(g, shapes_graph())
    assert not conforms
    assert "Constraint Violation" in text


def test_turtle_and_jsonld_round_trip(golden_dir, tmp_path):
    ttl = export(golden_dir, "turtle", tmp_path / "p.ttl")
    jsonld = export(golden_dir, "jsonld", tmp_path / "p.jsonld")
    want = rdflib_graph(sp.open(golden_dir))
    for path, fmt in ((ttl, "turtle"), (jsonld, "json-ld")):
        got = Graph().parse(path, format=fmt)
        assert len(got) == len(want) and got.isomorphic(want), path
    doc = json.loads(jsonld.read_text())
    assert doc["@context"]["used"] == {"@id": "prov:used", "@type": "@id"}
