"""SHACL validation of recorded provenance against ``provenance/shapes/*.ttl`` (pyshacl).

Each run's named graph is validated on its own: the recorder describes, inside a run's graph,
every entity, agent and plan the run's activities mention, so a graph conforms alone.
"""
from __future__ import annotations

from dataclasses import dataclass

from sciflow.provenance.serialize import rdflib_graph
from sciflow.provenance.query import Provenance
from sciflow.resources import vocab_dir


@dataclass(slots=True)
class ShapeReport:
    run_id: str
    conforms: bool
    text: str


def shapes_graph():
    from rdflib import Graph

    g = Graph()
    for path in sorted((vocab_dir() / "shapes").glob("*.ttl")):
        g.parse(path, format="turtle")
    return g


def validate_graph(data_graph, shapes=None) -> tuple[bool, str]:
    import pyshacl

    conforms, _, text = pyshacl.validate(data_graph, shacl_graph=shapes or shapes_graph(),
                                         inference="none", advanced=True)
    return bool(conforms), str(text)


def validate(p: Provenance, run_ids: list[str] | None = None) -> list[ShapeReport]:
    """One report per run (every recorded run by default)."""
    shapes = shapes_graph()
    reports = []
    for rid in run_ids or p.run_ids():
        conforms, text = validate_graph(rdflib_graph(p, rid), shapes)
        reports.append(ShapeReport(rid, conforms, text))
    return reports
