"""Asking the provenance store: SPARQL, and the named audit queries, as pandas DataFrames.

pandas costs ~0.4 s to import, ten times a query on a small store, so it is imported only
when a DataFrame is asked for: the command line works on ``Table`` (columns and rows of plain
Python values) from ``select``/``named``/``lineage_table``, and the DataFrame methods wrap them.

Named queries are the files ``provenance/queries/NAME.rq``. Their parameters are SPARQL
variables written with ``$`` (``$path``), declared in a header comment::

    # @param path string  the file's path relative to the working directory

Before evaluation each bound ``$name`` is replaced by the SPARQL term of its value (a string
literal, an ``<iri>`` or an integer, by the declared type), so it also binds inside
sub-queries and property paths; a ``$name`` left unbound stays an ordinary variable. The files
are plain SPARQL 1.1 and run unchanged in any other engine (``$x`` is ``?x``).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping
from urllib.parse import unquote

import pyoxigraph as ox

from sciflow.errors import ProvenanceError, UsageError
from sciflow.provenance import vocab as V
from sciflow.provenance.store import open_readonly, rdflib_dataset
from sciflow.resources import vocab_dir

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

_PARAM_DECL = re.compile(r"^#\s*@param\s+(\w+)\s+(\w+)\s*(.*)$", re.M)
_PARAM_USE = re.compile(r"\$(\w+)")


@dataclass(frozen=True, slots=True)
class NamedQuery:
    """One ``.rq`` file: its text, its declared parameters (name -> (type, help)) and summary."""

    name: str
    path: Path
    text: str
    params: dict[str, tuple[str, str]]

    @property
    def summary(self) -> str:
        for line in self.text.splitlines():
            if line.startswith("#") and "@param" not in line:
                return line.lstrip("# ").strip()
        return ""

    @classmethod
    def load(cls, path: str | os.PathLike) -> "NamedQuery":
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        params = {m.group(1): (m.group(2), m.group(3).strip()) for m in _PARAM_DECL.finditer(text)}
        return cls(p.stem, p, text, params)

    def bind(self, values: Mapping[str, Any]) -> str:
        """The query text with ``$name`` replaced by the SPARQL term of each given value."""
        unknown = set(values) - set(self.params) - set(_PARAM_USE.findall(self.text))
        if unknown:
            raise UsageError(f"query {self.name!r} has no parameter {', '.join(sorted(unknown))}"
                             f" (parameters: {', '.join(self.params) or 'none'})")

        def term(match: re.Match) -> str:
            name = match.group(1)
            if name not in values or values[name] is None:
                return match.group(0)
            kind = self.params.get(name, ("string", ""))[0]
            return sparql_term(values[name], kind)

        return _PARAM_USE.sub(term, self.text)


def sparql_term(value: Any, kind: str = "string") -> str:
    """A value written as a SPARQL term of the declared kind (string, iri, integer)."""
    if kind == "iri":
        return str(ox.NamedNode(str(value)))
    if kind == "integer":
        return str(int(value))
    return str(ox.Literal(str(value)))  # N-Triples escaping is valid SPARQL


_TARGET = """{ SELECT ?target WHERE {
      ?target sf:path $path ; prov:qualifiedGeneration/prov:atTime ?t .
    } ORDER BY DESC(?t) LIMIT 1 }"""
# Two plans for one answer. Oxigraph joins a pattern whose variable is already bound by an
# index lookup per row (~10-20 µs on a RocksDB store), and a sub-query, evaluated on its own,
# by a hash join over its whole result (a scan: ~0.3 µs a row). The walk itself
# (``wasDerivedFrom*``) is one lookup per hop either way; per file, the lookup plan then costs
# three more lookups (parents, generation, rule), the hash plan a share of three scans of the
# whole store's derivations/generations/rule names. The hash plan is chosen while the store has
# at most HASH_JOIN_MAX derivations, which bounds its scans to tens of milliseconds
# (10,000-hop chain: 1.0 s -> ~0.3 s); beyond that, a long lineage in a huge store is rare and a
# short one is cheaper by lookups.
_LINEAGE_LOOKUP = """
SELECT ?file ?job ?rule ?parent WHERE {
  TARGET
  ?target prov:wasDerivedFrom* ?file .
  OPTIONAL { ?file prov:wasGeneratedBy ?job . ?job sf:ruleName ?rule }
  OPTIONAL { ?file prov:wasDerivedFrom ?parent }
}""".replace("TARGET", _TARGET)
_LINEAGE_HASH = """
SELECT ?file ?job ?rule ?parent WHERE {
  TARGET
  ?target prov:wasDerivedFrom* ?file .
  OPTIONAL { SELECT ?file ?job ?rule WHERE {
    { SELECT ?file ?job WHERE { ?file prov:wasGeneratedBy ?job } }
    { SELECT ?job ?rule WHERE { ?job sf:ruleName ?rule } } } }
  OPTIONAL { SELECT ?file ?parent WHERE { ?file prov:wasDerivedFrom ?parent } }
}""".replace("TARGET", _TARGET)
HASH_JOIN_MAX = 200_000
_DERIVATIONS_UP_TO = f"""SELECT (COUNT(*) AS ?n) WHERE {{
  {{ SELECT ?a WHERE {{ ?a prov:wasDerivedFrom ?b }} LIMIT {HASH_JOIN_MAX + 1} }} }}"""
_RUN_PREFIX = "urn:sciflow:run:"
_parse_file_iri = V.parse_file_iri  # (sha256, path) from a file-version IRI


def run_of_job(iri: str) -> str | None:
    if iri.startswith(_RUN_PREFIX) and ":job:" in iri:
        return unquote(iri[len(_RUN_PREFIX):].rsplit(":job:", 1)[0])
    return None


def named_queries() -> dict[str, NamedQuery]:
    """Every shipped named query, by name."""
    return {p.stem: NamedQuery.load(p) for p in sorted((vocab_dir() / "queries").glob("*.rq"))}


_XSD_STRING = V.XSD + "string"


@dataclass(slots=True)
class Table:
    """A SELECT result without pandas: column names and rows of plain Python values."""

    columns: list[str]
    rows: list[tuple]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def empty(self) -> bool:
        return not self.rows

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records())

    def to_frame(self) -> "pd.DataFrame":
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)


def to_python(term: Any) -> Any:
    """An Oxigraph term as a plain Python value (IRIs as strings, typed literals converted)."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        dt = term.datatype.value
        if dt == _XSD_STRING:
            return term.value
        try:
            if dt == V.XSD + "integer":
                return int(term.value)
            if dt in (V.XSD + "double", V.XSD + "decimal", V.XSD + "float"):
                return float(term.value)
            if dt == V.XSD + "boolean":
                return term.value in ("true", "1")
            if dt == V.XSD + "dateTime":
                return datetime.fromisoformat(term.value.replace("Z", "+00:00"))
        except ValueError:
            return term.value
        return term.value
    return term.value


class Provenance:
    """The provenance of a working directory: ``.graph`` (rdflib) and audit queries.

    Opens a read-only snapshot of ``.sciflow/prov`` (works while a run is recording)."""

    def __init__(self, workdir: str | os.PathLike = ".") -> None:
        self.workdir = Path(workdir).resolve()
        self.store = open_readonly(self.workdir)
        self._graph = None
        self._hash_ok: bool | None = None  # see _hash_joins

    @property
    def graph(self):
        """An ``rdflib.Dataset`` over the store (default graph = union of every run's graph)."""
        if self._graph is None:
            self._graph = rdflib_dataset(self.store)
        return self._graph

    # ------------------------------------------------------------------ generic
    def query(self, sparql: str, **params: Any) -> "pd.DataFrame | bool | list":
        """Run SPARQL over the union of all runs. SELECT → DataFrame, ASK → bool,
        CONSTRUCT/DESCRIBE → list of pyoxigraph triples. ``params`` bind ``$name`` variables."""
        result = self.select(sparql, **params)
        return result.to_frame() if isinstance(result, Table) else result

    def select(self, sparql: str, **params: Any) -> "Table | bool | list":
        """As ``query``, with a SELECT answered as a ``Table`` (no pandas import)."""
        if params:
            sparql = NamedQuery("adhoc", Path("-"), sparql, {}).bind(params)
        try:
            result = self.store.query(sparql, use_default_graph_as_union=True, prefixes=V.PREFIXES)
        except SyntaxError as exc:
            raise ProvenanceError(f"SPARQL syntax error: {exc}") from exc
        if isinstance(result, ox.QueryBoolean):
            return bool(result)
        if isinstance(result, ox.QuerySolutions):
            names = [v.value for v in result.variables]
            width = range(len(names))
            rows = [tuple(to_python(sol[i]) for i in width) for sol in result]
            return Table(names, rows)
        return list(result)

    def run_named(self, name_or_file: str, params: Mapping[str, Any] | None = None) -> "pd.DataFrame":
        """A named query (``lineage``...) or a ``.rq`` file, with its ``$`` parameters bound."""
        result = self.named(name_or_file, params)
        return result.to_frame() if isinstance(result, Table) else result

    def named(self, name_or_file: str, params: Mapping[str, Any] | None = None) -> "Table":
        """As ``run_named``, answered as a ``Table`` (no pandas import)."""
        if name_or_file.endswith(".rq") or os.sep in name_or_file:
            if not Path(name_or_file).is_file():
                raise UsageError(f"no query file {name_or_file}")
            nq = NamedQuery.load(name_or_file)
        else:
            known = named_queries()
            if name_or_file not in known:
                raise UsageError(f"no named query {name_or_file!r}",
                                 hint=f"Known queries: {', '.join(known)}; or pass a FILE.rq.")
            nq = known[name_or_file]
        params = dict(params or {})
        missing = [p for p in nq.params if p not in params]
        if missing:
            raise UsageError(f"query {nq.name!r} needs --param {' --param '.join(m + '=...' for m in missing)}")
        for key in ("path",):
            if key in params:
                params[key] = self.relpath(params[key])
        return self.select(nq.bind(params))

    def relpath(self, path: str | os.PathLike) -> str:
        """A user-given path as recorded: relative to the working directory. A path that exists
        from the current directory is taken from there, else as relative to the workdir."""
        p = Path(path)
        if not p.is_absolute():
            if p.exists() and not (self.workdir / p).exists():
                p = p.resolve()
            else:
                p = self.workdir / p
        return os.path.relpath(os.path.normpath(p), self.workdir)

    # ------------------------------------------------------------------ the audit questions
    def lineage(self, path: str | os.PathLike, entity: str | None = None) -> "pd.DataFrame":
        """``lineage_table`` as a DataFrame."""
        return self.lineage_table(path, entity).to_frame()

    def lineage_table(self, path: str | os.PathLike, entity: str | None = None) -> Table:
        """One row per file version behind ``path`` (itself included): path, sha256, the job
        and rule that generated it (none for raw inputs: ``raw``), its run, and
        ``derived_from``: the space-separated IRIs of the files it was derived from.

        Same answer as the named query ``lineage.rq``, computed with fewer lookups per hop:
        the path and checksum are read from the file-version IRI (``urn:sciflow:file:<sha256>:
        <path>[:gen:<run>:<job>]``), the run id from the job IRI, and generations, rules and
        parents are hash-joined (see ``_LINEAGE_HASH``), which keeps a 10,000-hop lineage near
        0.3 s. Parents are listed by path, rows generated first, then by path."""
        cols = ["file", "path", "sha256", "job", "rule", "run_id", "raw", "derived_from"]
        query = _LINEAGE_HASH if self._hash_joins() else _LINEAGE_LOOKUP
        if entity:  # one given version (sciflow.provenance.resolve), not the path's latest
            query = query.replace(_TARGET, f"VALUES ?target {{ {sparql_term(entity, 'iri')} }}", 1)
        query = query.replace("$path", sparql_term(self.relpath(path)))
        result = self.store.query(query, use_default_graph_as_union=True, prefixes=V.PREFIXES)
        nodes: dict[str, list] = {}
        parents: dict[str, list[str]] = {}
        odd: list[str] = []
        for file_t, job, rule, parent in result:
            file = file_t.value
            node = nodes.get(file)
            if node is None:
                sha, rel = _parse_file_iri(file)
                if sha is None:
                    odd.append(file)
                if job is None:
                    node = [file, rel, sha, None, None, None, True]
                else:
                    j = job.value
                    node = [file, rel, sha, j, rule.value, run_of_job(j), False]
                nodes[file] = node
                parents[file] = []
            if parent is not None:
                parents[file].append(parent.value)
        for file, rel, sha in self._file_facts(odd):
            nodes[file][1], nodes[file][2] = rel, sha
        rows = []
        for file, node in nodes.items():
            ps = parents[file]
            if len(ps) > 1:
                ps = sorted(dict.fromkeys(ps), key=lambda x: (nodes[x][1] or "", x) if x in nodes else ("", x))
            node.append(" ".join(ps))
            rows.append(tuple(node))
        rows.sort(key=lambda r: (r[6], r[1] or "", r[0]))  # generated first, then by path
        return Table(cols, rows)

    def _hash_joins(self) -> bool:
        """Whether the store is small enough (derivations) for the hash-join lineage plan."""
        if self._hash_ok is None:
            n = next(iter(self.store.query(_DERIVATIONS_UP_TO, use_default_graph_as_union=True,
                                           prefixes=V.PREFIXES)))[0]
            self._hash_ok = int(n.value) <= HASH_JOIN_MAX
        return self._hash_ok

    def _file_facts(self, iris: list[str]) -> list[tuple[str, str | None, str | None]]:
        """(iri, path, sha256) of entities whose IRI is not sciflow's file-version form."""
        if not iris:
            return []
        values = " ".join(f"<{i}>" for i in iris)
        df = self.select(f"SELECT ?f ?path ?sha WHERE {{ VALUES ?f {{ {values} }} "
                         f"OPTIONAL {{ ?f sf:path ?path }} OPTIONAL {{ ?f sf:sha256 ?sha }} }}")
        return [(f, path if isinstance(path, str) else None, sha if isinstance(sha, str) else None)
                for f, path, sha in df.rows]

    def params_of(self, path: str | os.PathLike) -> "pd.DataFrame":
        return self.run_named("params-of", {"path": path})

    def runs_using_checksum(self, sha256: str) -> "pd.DataFrame":
        return self.run_named("runs-using-checksum", {"sha256": sha256})

    def stale_if_changed(self, path: str | os.PathLike) -> "pd.DataFrame":
        return self.run_named("stale-if-changed", {"path": path})

    def software_of(self, path: str | os.PathLike) -> "pd.DataFrame":
        return self.run_named("software-of", {"path": path})

    def diff_runs(self, run1: str, run2: str) -> "pd.DataFrame":
        return self.run_named("diff-runs", {"run1": run1, "run2": run2})

    def ordering_check(self) -> "pd.DataFrame":
        return self.run_named("ordering-check")

    def runs(self) -> "pd.DataFrame":
        return self.run_named("runs")

    def run_ids(self) -> list[str]:
        return self.named("runs").column("run_id")


def open(workdir: str | os.PathLike = ".") -> Provenance:  # noqa: A001 - the public API name
    """The provenance recorded in ``workdir`` (its ``.sciflow/prov`` store)."""
    return Provenance(workdir)
