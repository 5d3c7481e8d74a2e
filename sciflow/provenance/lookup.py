"""Finding and showing single records: short identifiers, ``prov view`` and ``prov find``.

**Short identifiers.** Every entity, activity and agent has one: ``sf:`` followed by the first
10 hex digits of the sha256 of its IRI (``sf:3f9a0c41d2``). It is stable (a function of the
IRI, which is stable across runs and stores), short enough to type, and accepted by the
command line wherever it takes a path (``prov lineage sf:…``, ``prov render``, ``prov view``,
``prov verify``, ``prov query --param path=sf:…``). It is not stored: resolving one hashes the
IRIs of the store's entities, activities and agents (tens of milliseconds for 10,000 jobs).

**view** describes one node as JSON: its types, every property (IRIs of other nodes also with
their short id), the qualified usages, generations and associations expanded one level, the
nodes that point at it, and the runs (named graphs) that record it.

**find** selects file versions (or jobs, ``kind=job``) by ``key=value`` criteria, all of which
must hold: ``path`` (a glob), ``sha256`` (a prefix), ``rule``, ``param`` (``NAME=VALUE`` or
``NAME``), ``user``, ``run``, ``after``/``before`` (ISO 8601; the generation time of a file,
the start of a job).
"""
from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from sciflow.errors import ProvenanceError, UsageError
from sciflow.provenance import vocab as V

if TYPE_CHECKING:  # pragma: no cover
    from sciflow.provenance.query import Provenance, Table

SHORT_PREFIX = "sf:"
SHORT_LEN = 10
_SHORT = re.compile(r"^sf:[0-9a-f]{4,64}$")
_RDF_TYPE = ox.NamedNode(V.RDF + "type")
_KINDS = [ox.NamedNode(V.PROV + c) for c in ("Entity", "Activity", "Agent")]


def short_id(iri: str) -> str:
    """``sf:`` + the first 10 hex digits of the sha256 of the IRI."""
    return SHORT_PREFIX + hashlib.sha256(iri.encode("utf-8")).hexdigest()[:SHORT_LEN]


def is_short_id(text: str) -> bool:
    return bool(_SHORT.match(str(text)))


def resolve_short(p: "Provenance", ref: str) -> str:
    """The IRI whose short identifier is ``ref`` (a longer prefix of the hash works too)."""
    want = ref[len(SHORT_PREFIX):]
    seen: set[str] = set()
    found: list[str] = []
    for kind in _KINDS:
        for quad in p.store.quads_for_pattern(None, _RDF_TYPE, kind, None):
            iri = quad.subject.value
            if iri in seen:
                continue
            seen.add(iri)
            if hashlib.sha256(iri.encode("utf-8")).hexdigest().startswith(want):
                found.append(iri)
    if not found:
        raise ProvenanceError(f"no entity, activity or agent has the identifier {ref}",
                              hint="Identifiers are shown by `sciflow prov find` and `prov view`.")
    if len(found) > 1:
        raise UsageError(f"{ref} names {len(found)} records", hint="Give more hex digits.")
    return found[0]


_LATEST_AT = """SELECT ?e WHERE {
  ?e (sf:path|prov:atLocation) $path ; a prov:Entity .
  OPTIONAL { ?e prov:qualifiedGeneration/prov:atTime ?g }
  OPTIONAL { ?u prov:entity ?e ; prov:atTime ?used }
  BIND(COALESCE(?g, ?used) AS ?t)
} ORDER BY DESC(BOUND(?g)) DESC(?t) LIMIT 1"""


def resolve(p: "Provenance", ref: str) -> str:
    """The IRI a user means by ``ref``: a short identifier, an IRI, a run id, or a path (its
    most recently generated version, else the most recently used one)."""
    ref = str(ref)
    if is_short_id(ref):
        return resolve_short(p, ref)
    if re.match(r"^(urn|https?):", ref):
        return ref
    if ref in p.run_ids():
        return V.run_iri(ref)
    found = version_on_disk(p, ref)
    if found:
        return found
    table = p.select(_LATEST_AT, path=p.relpath(ref))
    if table.rows:
        return table.rows[0][0]
    raise ProvenanceError(f"no record of {ref}",
                          hint="Give a path sciflow recorded, a run id, an IRI or an sf: identifier.")


def version_on_disk(p: "Provenance", path: str) -> str | None:
    """The generated version a file on disk *is* (a copy elsewhere, an older version put
    back), by checksum or stamp (sciflow/provenance/resolve.py); None when it is none."""
    if not os.path.isfile(path):
        return None
    from sciflow.provenance.resolve import resolve as resolve_file

    found = resolve_file(p, path)
    return found.entity if found.generated and found.entity else None


def path_of(p: "Provenance", ref: str) -> str:
    """A user's reference as a workdir-relative path (a short id becomes its entity's path)."""
    if not is_short_id(str(ref)):
        return p.relpath(ref)
    iri = resolve_short(p, ref)
    table = p.select(f"SELECT ?path WHERE {{ {ox.NamedNode(iri)} (sf:path|prov:atLocation) ?path . "
                     "FILTER(isLiteral(?path)) }")
    if not table.rows:
        raise ProvenanceError(f"{ref} ({iri}) is not a file")
    return table.rows[0][0]


# ---------------------------------------------------------------------- view
def _compact(iri: str) -> str:
    for prefix, ns in V.PREFIXES.items():
        if iri.startswith(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def _value(term: Any) -> Any:
    from sciflow.provenance.query import to_python

    if isinstance(term, ox.NamedNode):
        return {"@id": term.value, "id": short_id(term.value)}
    value = to_python(term)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(term, ox.Literal) and term.datatype.value == V.RDF_JSON:
        import json

        try:
            return json.loads(term.value)
        except ValueError:
            return term.value
    return value


def _properties(p: "Provenance", iri: str) -> tuple[dict[str, Any], list[str], set[str]]:
    props: dict[str, list] = {}
    types: list[str] = []
    graphs: set[str] = set()
    seen: set[tuple] = set()
    for q in p.store.quads_for_pattern(ox.NamedNode(iri), None, None, None):
        graphs.add(q.graph_name.value)
        key = (q.predicate.value, str(q.object))
        if key in seen:
            continue
        seen.add(key)
        if q.predicate == _RDF_TYPE:
            types.append(_compact(q.object.value))
            continue
        props.setdefault(_compact(q.predicate.value), []).append(q.object)
    return props, sorted(types), graphs


_QUALIFIED = ("prov:qualifiedUsage", "prov:qualifiedGeneration", "prov:qualifiedAssociation",
              "prov:qualifiedInvalidation", "prov:qualifiedDerivation")


def describe(p: "Provenance", iri: str) -> dict[str, Any]:
    """One node as a JSON-ready dict (see the module docstring)."""
    props, types, graphs = _properties(p, iri)
    if not props and not types:
        raise ProvenanceError(f"no record of {iri}")
    out: dict[str, Any] = {"@id": iri, "id": short_id(iri), "type": types}
    for key, terms in sorted(props.items()):
        values = []
        for term in terms:
            if key in _QUALIFIED and isinstance(term, ox.NamedNode):
                inner, inner_types, _ = _properties(p, term.value)
                node = {"@id": term.value, "type": inner_types}
                for k, ts in sorted(inner.items()):
                    vs = [_value(t) for t in ts]
                    node[k] = vs[0] if len(vs) == 1 else vs
                values.append(node)
            else:
                values.append(_value(term))
        out[key] = values[0] if len(values) == 1 else values
    incoming: dict[str, list] = {}
    for q in p.store.quads_for_pattern(None, None, ox.NamedNode(iri), None):
        pred = _compact(q.predicate.value)
        if pred in ("prov:entity", "prov:activity", "prov:agent"):
            continue  # the qualified forms of relations shown directly
        item = {"@id": q.subject.value, "id": short_id(q.subject.value)}
        if item not in incoming.setdefault(pred, []):
            incoming[pred].append(item)
    if incoming:
        out["incoming"] = dict(sorted(incoming.items()))
    out["runs"] = sorted(g.rsplit(":", 1)[-1] for g in graphs if g.startswith("urn:sciflow:bundle:"))
    return out


# ---------------------------------------------------------------------- find
FIND_KEYS = ("path", "sha256", "rule", "param", "user", "run", "after", "before", "kind")


def parse_criteria(items: list[str]) -> dict[str, list[str]]:
    """``key=value`` words as {key: [values]}; unknown keys are a usage error."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in FIND_KEYS:
            raise UsageError(f"find expects key=value with key one of {', '.join(FIND_KEYS)}; got {item!r}")
        out.setdefault(key, []).append(value)
    return out


def _time(text: str) -> str:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"not an ISO 8601 time: {text!r}", hint="e.g. after=2026-01-31 or "
                         "before=2026-01-31T12:00") from None
    if dt.tzinfo is None:
        dt = dt.astimezone()
    return str(ox.Literal(dt.astimezone(timezone.utc).isoformat(), datatype=ox.NamedNode(V.XSD + "dateTime")))


def _job_patterns(c: dict[str, list[str]], job: str) -> list[str]:
    from sciflow.provenance.query import sparql_term

    pats = []
    for rule in c.get("rule", []):
        pats.append(f"{job} sf:ruleName {sparql_term(rule)} .")
    for run in c.get("run", []):
        pats.append(f"{job} sf:inRun {sparql_term(run)} .")
    for user in c.get("user", []):
        pats.append(f"{{ {job} prov:wasAssociatedWith/foaf:accountName {sparql_term(user)} }} UNION "
                    f"{{ {job} provone:wasPartOf/prov:wasAssociatedWith/foaf:accountName {sparql_term(user)} }}")
    for n, param in enumerate(c.get("param", [])):
        name, sep, value = param.partition("=")
        pats.append(f"{job} prov:used ?pe{n} . ?pe{n} a sf:Parameter ; sf:name {sparql_term(name)} .")
        if sep:
            pats.append(f"?pe{n} prov:value ?pv{n} . FILTER(STR(?pv{n}) = {sparql_term(value)})")
    return pats


def find(p: "Provenance", criteria: dict[str, list[str]]) -> "Table":
    """File versions (or jobs with ``kind=job``) matching every criterion, oldest first."""
    from sciflow.provenance.query import Table, sparql_term

    kind = (criteria.get("kind") or ["file"])[-1]
    if kind not in ("file", "job"):
        raise UsageError(f"kind={kind}: expected kind=file or kind=job")
    times = [f"FILTER(?time >= {_time(t)})" for t in criteria.get("after", [])]
    times += [f"FILTER(?time <= {_time(t)})" for t in criteria.get("before", [])]
    jobby = any(k in criteria for k in ("rule", "run", "user", "param"))
    if kind == "job":
        body = ["?job a sf:Job ; sf:ruleName ?rule ; sf:inRun ?run ; prov:startedAtTime ?time .",
                "OPTIONAL { ?job sf:status ?status }", *_job_patterns(criteria, "?job"), *times]
        sparql = (f"SELECT DISTINCT ?job ?rule ?run ?time ?status WHERE {{ {' '.join(body)} }} "
                  "ORDER BY ?time ?job")
        table = p.select(sparql)
        cols = ["id", "job", "rule", "run", "started", "status"]
        return Table(cols, [(short_id(r[0]), *r) for r in table.rows])
    body = ["?e a prov:Entity ; sf:sha256 ?sha ; (sf:path|prov:atLocation) ?path . FILTER(isLiteral(?path))"]
    for sha in criteria.get("sha256", []):
        body.append(f"FILTER(STRSTARTS(?sha, {sparql_term(sha.lower())}))")
    gen = ("?e prov:qualifiedGeneration ?g . ?g prov:activity ?job ; prov:atTime ?time . "
           "?job sf:ruleName ?rule ; sf:inRun ?run .")
    if jobby or times:
        body += [gen, *_job_patterns(criteria, "?job"), *times]
    else:
        body.append(f"OPTIONAL {{ {gen} }}")
    sparql = (f"SELECT DISTINCT ?e ?path ?sha ?rule ?job ?run ?time WHERE {{ {' '.join(body)} }} "
              "ORDER BY ?path ?time")
    table = p.select(sparql)
    globs = criteria.get("path", [])
    rows = [(short_id(e), path, sha, rule, job, run, time) for e, path, sha, rule, job, run, time in table.rows
            if all(fnmatch.fnmatchcase(path, g) for g in globs)]
    return Table(["id", "path", "sha256", "rule", "job", "run", "generated"], rows)
