"""The RDF terms the recorder writes, as N-Quads text, and ``Quads``, the batch of one job's
(or one run's) quads: vocabulary and literal conversion apart from the recorder's event
handling, so both stay readable (record.py had grown past 900 lines).

Terms are strings, never pyoxigraph objects: a job's quads go to the journal (journal.py) as
N-Quads lines and Oxigraph parses them when it bulk-loads the journal. Making pyoxigraph terms
cost ~0.8 ms CPU per 89-quad job (measured 2026-12-03); formatting the lines costs a fraction
of that. Predicates and classes are kept pre-formatted (``<iri>``); subjects and objects are
the recorder's plain IRI strings and Python values, formatted when a quad is added.
"""
from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sciflow.provenance import vocab as V

_IRI_BAD = re.compile(r'[\x00-\x20<>"{}|^`\\]')  # what an N-Quads IRIREF cannot hold
_STR_BAD = re.compile(r'[\\"\n\r]')               # what a quoted literal must escape
_STR_ESC = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}


def ref(iri: str) -> str:
    """An IRI as N-Quads text. Characters an IRI cannot contain are percent-encoded (the
    recorder's IRIs are built with percent-encoded parts already; this keeps one odd value,
    such as an ORCID iD with a space, from making a journal line unreadable)."""
    if _IRI_BAD.search(iri) is not None:
        iri = _IRI_BAD.sub(lambda m: "%%%02X" % ord(m.group()), iri)
    return f"<{iri}>"


def _quoted(text: str) -> str:
    if _STR_BAD.search(text) is not None:
        text = _STR_BAD.sub(lambda m: _STR_ESC[m.group()], text)
    return f'"{text}"'


class Lit(str):
    """A literal already in its N-Quads form (``"lexical"^^<datatype>``), made by ``lit``."""

    __slots__ = ()


def _p(ns: str, local: str) -> str:
    return f"<{ns}{local}>"


RDF_TYPE = _p(V.RDF, "type")
RDFS_LABEL = _p(V.RDFS, "label")
XSD_INT = _p(V.XSD, "integer")
XSD_DOUBLE = _p(V.XSD, "double")
XSD_BOOL = _p(V.XSD, "boolean")
XSD_DT = _p(V.XSD, "dateTime")
RDF_JSON = f"<{V.RDF_JSON}>"


class P:  # the PROV-O / ProvONE terms used, as N-Quads text
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


_SF: dict[str, str] = {}


def sf(local: str) -> str:
    term = _SF.get(local)
    if term is None:
        term = _SF[local] = _p(V.SF, local)
    return term


def lit(value: Any) -> Lit:
    """A typed literal: ints, floats, bools keep their XSD type; lists/dicts become rdf:JSON."""
    kind = type(value)
    if kind is int:  # the usual cases first, by exact type
        return Lit(f'"{value}"^^{XSD_INT}')
    if kind is datetime:
        return Lit(f'"{_utc(value).isoformat()}"^^{XSD_DT}')
    if isinstance(value, Lit):
        return value
    if isinstance(value, bool):
        return Lit(f'"{"true" if value else "false"}"^^{XSD_BOOL}')
    if isinstance(value, int):
        return Lit(f'"{int(value)}"^^{XSD_INT}')
    if isinstance(value, float):
        return Lit(f'"{value!r}"^^{XSD_DOUBLE}')
    if isinstance(value, datetime):
        return Lit(f'"{_utc(value).isoformat()}"^^{XSD_DT}')
    if isinstance(value, (list, tuple, dict)):
        return Lit(_quoted(V.canonical_json(value)) + "^^" + RDF_JSON)
    return Lit(_quoted(str(value)))


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


SPILL_LINES = 4096  # a batch holding this many lines hands them to its spill (the journal)


class Quads:
    """The quads of one job (or of the run's start or end), all in one named graph, as
    N-Quads lines.

    A batch with a ``spill`` (the recorder's journal) hands its lines over every SPILL_LINES
    quads instead of holding them: a job reading 20,000 files makes ~180,000 quads, and held
    until the job's end they were the driver's memory peak of a 20,000-job run (the journal
    only counts the job as recorded once its end marker is written, see journal.py)."""

    def __init__(self, graph: str, described: set[str] | None = None,
                 spill: Callable[[str], None] | None = None) -> None:
        self.tail = f" {ref(graph)} .\n"
        self.lines: list[str] = []
        self.count = 0
        self.known = described if described is not None else set()  # already in the graph
        self.described: set[str] = set()  # described by this transaction
        self._spill = spill
        self._refs: dict[str, str] = {}  # IRIs formatted in this batch (a job's own IRI: ~25 times)

    def first_time(self, iri: str) -> bool:
        """True once per transaction for a node the run's graph does not describe yet."""
        if iri in self.known or iri in self.described:
            return False
        self.described.add(iri)
        return True

    def add(self, s: str, p: str, o: Any) -> None:
        """A quad whose object is a literal (a Python value, or ``lit(...)``)."""
        rs = self._refs.get(s) or self._ref(s)
        o = _quoted(o) if type(o) is str else lit(o)
        self.lines.append(f"{rs} {p} {o}{self.tail}")
        self.count += 1
        if self._spill is not None and len(self.lines) >= SPILL_LINES:
            self._spill(self.take())

    def iri(self, s: str, p: str, o: str) -> None:
        """A quad whose object is an IRI."""
        refs = self._refs
        self.lines.append(f"{refs.get(s) or self._ref(s)} {p} {refs.get(o) or self._ref(o)}{self.tail}")
        self.count += 1
        if self._spill is not None and len(self.lines) >= SPILL_LINES:
            self._spill(self.take())

    def _ref(self, iri: str) -> str:
        text = self._refs[iri] = ref(iri)
        return text

    def take(self) -> str:
        """The lines held (as one text), forgotten here."""
        text = "".join(self.lines)
        self.lines = []
        self._refs.clear()
        return text

    def __len__(self) -> int:
        return self.count


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


# ---- small helpers of the recorder (record.py)

def files_under(root: str, limit: int) -> list[str]:
    """Up to ``limit`` regular files under ``root``, sorted."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            out.append(os.path.join(dirpath, name))
            if len(out) >= limit:
                return out
    return out


def config_content(path: str) -> dict:
    """A config file's top level (to tell which file set a key); empty if unreadable."""
    try:
        from sciflow.configload import read_config_file

        content = read_config_file(path)
    except Exception:  # noqa: BLE001 - recorded anyway, only not linked to its keys
        return {}
    return content if isinstance(content, dict) else {}


def current_login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def generated(q: Any, entity: str, activity: str, generation: str, at: Any, role: str) -> None:
    """``entity prov:wasGeneratedBy activity``, in the direct and the qualified form."""
    q.iri(entity, P.wasGeneratedBy, activity)
    q.iri(entity, P.qualifiedGeneration, generation)
    q.iri(generation, RDF_TYPE, V.PROV + "Generation")
    q.iri(generation, P.activity, activity)
    q.add(generation, P.atTime, lit(at))
    q.iri(generation, P.hadRole, role)
