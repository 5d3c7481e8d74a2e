"""The RDF terms the recorder writes, built as pyoxigraph nodes, and ``Quads``, the batch of
one job's (or one run's) quads: vocabulary and literal conversion apart from the recorder's
event handling, so both stay readable (record.py had grown past 900 lines).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pyoxigraph as ox

from sciflow.provenance import vocab as V

_N = ox.NamedNode


def _p(ns: str, local: str) -> ox.NamedNode:
    return _N(ns + local)


RDF_TYPE = _p(V.RDF, "type")
RDFS_LABEL = _p(V.RDFS, "label")
XSD_INT = _p(V.XSD, "integer")
XSD_DOUBLE = _p(V.XSD, "double")
XSD_BOOL = _p(V.XSD, "boolean")
XSD_DT = _p(V.XSD, "dateTime")
RDF_JSON = _N(V.RDF_JSON)


class P:  # the PROV-O / ProvONE terms used, as pyoxigraph nodes
    Activity, Entity, Agent, Plan, Bundle, Location = (_p(V.PROV, n) for n in
        ("Activity", "Entity", "Agent", "Plan", "Bundle", "Location"))
    SoftwareAgent, Person, Usage, Generation, Association, Role = (_p(V.PROV, n) for n in
        ("SoftwareAgent", "Person", "Usage", "Generation", "Association", "Role"))
    used, wasGeneratedBy, wasDerivedFrom, wasAssociatedWith, wasInformedBy = (_p(V.PROV, n) for n in
        ("used", "wasGeneratedBy", "wasDerivedFrom", "wasAssociatedWith", "wasInformedBy"))
    qualifiedUsage, qualifiedGeneration, qualifiedAssociation = (_p(V.PROV, n) for n in
        ("qualifiedUsage", "qualifiedGeneration", "qualifiedAssociation"))
    entity, activity, agent, hadPlan, hadRole, atTime, atLocation, value = (_p(V.PROV, n) for n in
        ("entity", "activity", "agent", "hadPlan", "hadRole", "atTime", "atLocation", "value"))
    startedAtTime, endedAtTime = _p(V.PROV, "startedAtTime"), _p(V.PROV, "endedAtTime")
    Execution, wasPartOf = _p(V.PROVONE, "Execution"), _p(V.PROVONE, "wasPartOf")
    accountName = _p(V.FOAF, "accountName")
    hadMember = _p(V.PROV, "hadMember")
    specializationOf, wasRevisionOf, wasInvalidatedBy, qualifiedInvalidation = (
        _p(V.PROV, n) for n in ("specializationOf", "wasRevisionOf", "wasInvalidatedBy",
                                "qualifiedInvalidation"))


def sf(local: str) -> ox.NamedNode:
    return _p(V.SF, local)


def lit(value: Any) -> ox.Literal:
    """A typed literal: ints, floats, bools keep their XSD type; lists/dicts become rdf:JSON."""
    if isinstance(value, bool):
        return ox.Literal("true" if value else "false", datatype=XSD_BOOL)
    if isinstance(value, int):
        return ox.Literal(str(value), datatype=XSD_INT)
    if isinstance(value, float):
        return ox.Literal(repr(value), datatype=XSD_DOUBLE)
    if isinstance(value, datetime):
        return ox.Literal(_utc(value).isoformat(), datatype=XSD_DT)
    if isinstance(value, (list, tuple, dict)):
        return ox.Literal(V.canonical_json(value), datatype=RDF_JSON)
    return ox.Literal(str(value))


def _utc(dt: datetime) -> datetime:
    """Aware UTC; a naive time is taken as the machine's local time."""
    return (dt if dt.tzinfo else dt.astimezone()).astimezone(timezone.utc)


def param_items(params: Any) -> list[tuple[str, Any]]:
    """(name, value) for every parameter: a named list parameter stays ONE value (a list);
    unnamed parameters are named by their position."""
    names = getattr(params, "_names", {})
    covered: set[int] = set()
    for start, end in names.values():
        covered.update(range(start, start + 1 if end is None else end))
    out = [(str(i), v) for i, v in enumerate(list(params)) if i not in covered]
    return out + [(name, params.get(name)) for name in names]


def roles(named_list: Any) -> list[tuple[str, Any]]:
    """(role, item) for every item of a NamedList: its name if it has one, else its position."""
    items = list(named_list)
    names = {}
    for name, (start, end) in getattr(named_list, "_names", {}).items():
        for i in range(start, start + 1 if end is None else end):
            names[i] = name
    return [(names.get(i, str(i)), item) for i, item in enumerate(items)]


_LAZY = (str, int, float, datetime)  # immutable values: made into terms when written
_TERMS = (ox.NamedNode, ox.Literal, ox.BlankNode)


class Quads:
    """The quads of one transaction, all in one named graph.

    Kept as compact ``(subject, predicate, object, is_iri)`` rows and made into pyoxigraph
    quads only while the store reads them (iterating yields ``ox.Quad``s): a pyoxigraph
    ``Quad`` copies its four terms' strings (~420 B each, measured), while a row shares the
    subject and object strings with the recorder. For a job reading 20,000 files (~180,000
    quads in one transaction) that is the difference between ~75 MB and ~20 MB held by
    the driver until the transaction is written."""

    def __init__(self, graph: str, described: set[str] | None = None) -> None:
        self.graph = _N(graph)
        self.items: list[tuple[Any, ox.NamedNode, Any, bool]] = []
        self.known = described if described is not None else set()  # already in the graph
        self.described: set[str] = set()  # described by this transaction

    def first_time(self, iri: str) -> bool:
        """True once per transaction for a node the run's graph does not describe yet."""
        if iri in self.known or iri in self.described:
            return False
        self.described.add(iri)
        return True

    def add(self, s: Any, p: ox.NamedNode, o: Any) -> None:
        if not isinstance(o, _TERMS) and (isinstance(o, bool) or not isinstance(o, _LAZY)):
            o = lit(o)  # lists, dicts...: converted now, as they may change later
        self.items.append((s, p, o, False))

    def iri(self, s: Any, p: ox.NamedNode, o: str) -> None:
        self.items.append((s, p, o, True))

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        graph = self.graph
        for s, p, o, is_iri in self.items:
            if not isinstance(s, ox.NamedNode):
                s = _N(s)
            if is_iri:
                o = o if isinstance(o, ox.NamedNode) else _N(o)
            elif not isinstance(o, _TERMS):
                o = lit(o)
            yield ox.Quad(s, p, o, graph)


@dataclass(slots=True)
class Version:
    """The latest known version of a path: what a job that reads the path used, and what a
    job that writes it replaces (``prov:wasRevisionOf``, invalidation)."""

    iri: str
    sha256: str
    size: int
    is_dir: bool = False


# The latest version of every path recorded so far: generations, and raw versions by when
# they were last used (a file edited by hand between runs is a version too).
