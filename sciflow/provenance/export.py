"""Exports of the provenance store: Turtle, JSON-LD, PROV-N and a Workflow Run RO-Crate.

Turtle and JSON-LD hold the union of every run (or one run with ``run_id``); JSON-LD is
compacted with ``provenance/context.jsonld``. PROV-N is written by the ``prov`` package from a
``ProvDocument`` built with one bundle per run. The RO-Crate is in ``rocrate_export``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from sciflow.errors import UsageError
from sciflow.provenance import vocab as V
from sciflow.provenance.query import Provenance
from sciflow.resources import vocab_dir

FORMATS = ("turtle", "jsonld", "provn", "ro-crate")


def triples(p: Provenance, run_id: str | None = None) -> list[ox.Triple]:
    """The triples of one run's graph, or of the union of all runs."""
    graph = ox.NamedNode(V.graph_iri(run_id)) if run_id else None
    if graph is not None:
        return [q.triple for q in p.store.quads_for_pattern(None, None, None, graph)]
    return list(p.store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
                              use_default_graph_as_union=True))


def rdflib_graph(p: Provenance, run_id: str | None = None):
    """An in-memory rdflib Graph of one run (or all); what SHACL and JSON-LD work on."""
    from rdflib import Graph

    g = Graph()
    data = ox.serialize(triples(p, run_id), format=ox.RdfFormat.N_TRIPLES)
    g.parse(data=data.decode("utf-8"), format="nt")
    for prefix, ns in V.PREFIXES.items():
        g.bind(prefix, ns)
    return g


def to_turtle(p: Provenance, run_id: str | None = None) -> bytes:
    return ox.serialize(triples(p, run_id), format=ox.RdfFormat.TURTLE, prefixes=V.PREFIXES)


def to_jsonld(p: Provenance, run_id: str | None = None) -> str:
    context = json.loads((vocab_dir() / "context.jsonld").read_text())["@context"]
    return rdflib_graph(p, run_id).serialize(format="json-ld", context=context, indent=1)


# ---------------------------------------------------------------------- PROV-N
_ACT = """SELECT ?a ?start ?end ?label WHERE { GRAPH $g {
  ?a a prov:Activity . OPTIONAL { ?a prov:startedAtTime ?start } OPTIONAL { ?a prov:endedAtTime ?end }
  OPTIONAL { ?a rdfs:label ?label } } }"""
_ENT = """SELECT ?e ?loc ?sha ?size ?value ?name ?plan WHERE { GRAPH $g {
  ?e a prov:Entity . OPTIONAL { ?e prov:atLocation ?loc } OPTIONAL { ?e sf:sha256 ?sha }
  OPTIONAL { ?e sf:size ?size } OPTIONAL { ?e prov:value ?value } OPTIONAL { ?e sf:name ?name }
  BIND(EXISTS { ?e a prov:Plan } AS ?plan) } }"""
_AGENT = """SELECT ?ag ?name ?version ?login ?soft WHERE { GRAPH $g {
  ?ag a prov:Agent . OPTIONAL { ?ag sf:name ?name } OPTIONAL { ?ag sf:version ?version }
  OPTIONAL { ?ag foaf:accountName ?login } BIND(EXISTS { ?ag a prov:SoftwareAgent } AS ?soft) } }"""
_USED = """SELECT ?a ?e ?t ?role WHERE { GRAPH $g { ?a prov:qualifiedUsage ?u . ?u prov:entity ?e ;
  prov:atTime ?t . OPTIONAL { ?u prov:hadRole/rdfs:label ?role } } }"""
_GEN = """SELECT ?e ?a ?t ?role WHERE { GRAPH $g { ?e prov:qualifiedGeneration ?q . ?q prov:activity ?a ;
  prov:atTime ?t . OPTIONAL { ?q prov:hadRole/rdfs:label ?role } } }"""
_ASSOC = """SELECT ?a ?ag ?plan WHERE { GRAPH $g { ?a prov:qualifiedAssociation ?q . ?q prov:agent ?ag .
  OPTIONAL { ?q prov:hadPlan ?plan } } }"""
_PAIRS = {"wasDerivedFrom": "prov:wasDerivedFrom", "wasInformedBy": "prov:wasInformedBy"}


def to_provn(p: Provenance, run_id: str | None = None) -> str:
    """PROV-N, one bundle per run, written by the ``prov`` package."""
    from prov.model import PROV, PROV_LABEL, PROV_LOCATION, PROV_ROLE, PROV_TYPE, PROV_VALUE, ProvDocument

    doc = ProvDocument()
    sf = doc.add_namespace("sf", V.SF)
    sci = doc.add_namespace("sciflow", "urn:sciflow:")

    def qn(iri: str):
        local = iri[len("urn:sciflow:"):] if iri.startswith("urn:sciflow:") else iri
        return sci[local.replace("/", "%2F")]

    runs = [run_id] if run_id else p.run_ids()
    for rid in runs:
        bundle = doc.bundle(qn(V.graph_iri(rid)))
        g = f"<{V.graph_iri(rid)}>"

        def rows(sparql: str) -> list[dict[str, Any]]:
            return p.query(sparql.replace("$g", g)).to_dict("records")

        for r in rows(_ACT):
            attrs = {PROV_LABEL: r["label"]} if isinstance(r["label"], str) else {}
            bundle.activity(qn(r["a"]), _dt(r["start"]), _dt(r["end"]), attrs)
        for r in rows(_ENT):
            attrs: dict[Any, Any] = {}
            if isinstance(r["loc"], str):
                attrs[PROV_LOCATION] = r["loc"]
            if isinstance(r["sha"], str):
                attrs[sf["sha256"]] = r["sha"]
                attrs[sf["size"]] = int(r["size"])
            if isinstance(r["name"], str):
                attrs[sf["name"]] = r["name"]
            if r["value"] is not None and not _nan(r["value"]):
                attrs[PROV_VALUE] = r["value"] if isinstance(r["value"], (int, float, bool)) else str(r["value"])
            if r["plan"]:
                attrs[PROV_TYPE] = PROV["Plan"]
            bundle.entity(qn(r["e"]), attrs)
        for r in rows(_AGENT):
            attrs = {}
            if r["soft"]:
                attrs[PROV_TYPE] = PROV["SoftwareAgent"]
            for key in ("name", "version", "login"):
                if isinstance(r[key], str):
                    attrs[sf[key]] = r[key]
            bundle.agent(qn(r["ag"]), attrs)
        for r in rows(_USED):
            bundle.used(qn(r["a"]), qn(r["e"]), r["t"],
                        other_attributes={PROV_ROLE: r["role"]} if isinstance(r["role"], str) else None)
        for r in rows(_GEN):
            bundle.wasGeneratedBy(qn(r["e"]), qn(r["a"]), r["t"],
                                  other_attributes={PROV_ROLE: r["role"]} if isinstance(r["role"], str) else None)
        for r in rows(_ASSOC):
            bundle.wasAssociatedWith(qn(r["a"]), qn(r["ag"]), qn(r["plan"]) if isinstance(r["plan"], str) else None)
        for name, prop in _PAIRS.items():
            for r in rows(f"SELECT ?x ?y WHERE {{ GRAPH $g {{ ?x {prop} ?y }} }}"):
                getattr(bundle, name)(qn(r["x"]), qn(r["y"]))
    return doc.get_provn()


def _dt(value: Any):
    return value if hasattr(value, "isoformat") and not _nan(value) else None


def _nan(value: Any) -> bool:
    try:
        return value != value  # NaN / NaT from pandas for unbound values
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------- entry point
def export(workdir: str | os.PathLike, fmt: str, out: str | os.PathLike,
           run_id: str | None = None) -> Path:
    """Writes the provenance of ``workdir`` as ``fmt`` to ``out`` (a folder for ro-crate)."""
    p = Provenance(workdir)
    out = Path(out)
    if fmt == "turtle":
        out.write_bytes(to_turtle(p, run_id))
    elif fmt == "jsonld":
        out.write_text(to_jsonld(p, run_id), encoding="utf-8")
    elif fmt == "provn":
        out.write_text(to_provn(p, run_id), encoding="utf-8")
    elif fmt == "ro-crate":
        from sciflow.provenance.rocrate_export import write_crate

        write_crate(p, out, run_id)
    else:
        raise UsageError(f"unknown export format {fmt!r}", hint=f"Use one of: {', '.join(FORMATS)}.")
    return out


__all__ = ["FORMATS", "export", "rdflib_graph", "to_jsonld", "to_provn", "to_turtle", "triples"]
