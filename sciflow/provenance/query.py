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
#
# With ``params`` the same query also brings each job's parameter values (``sciflow prov
# lineage`` prints them): grouped per row into one string of ``name,value,datatype`` items,
# name and value percent-encoded (ENCODE_FOR_URI: no commas or spaces left in them). Oxigraph
# keeps short names and values inside its term encoding, so they are concatenated without a
# dictionary lookup, where returning one row per job and parameter, or a second query naming
# the 10,000 jobs, decoded every job IRI again (10,000-job chain: lineage and parameters
# 0.37-0.43 s of CPU as two queries, 0.24-0.30 s as one). ``?job`` itself is not selected:
# decoding an IRI is a RocksDB read (~3 µs), and a file-version IRI names its job
# (``vocab.job_of_file_iri``); only entities of another form ask the store (``_generations``).
_LINEAGE = """
SELECT ?file ?rule ?parent PARAMS_OUT WHERE {
  TARGET
  ?target prov:wasDerivedFrom* ?file .
  GENERATION
  PARENTS
  PARAMS_BIND
} GROUP_BY"""
_PLANS = {
    "lookup": {
        "GENERATION": "OPTIONAL { ?file prov:wasGeneratedBy ?job . ?job sf:ruleName ?rule PARAMS }",
        "PARAMS": "OPTIONAL { PATTERN }",
        "PARENTS": "OPTIONAL { ?file prov:wasDerivedFrom ?parent }",
    },
    "hash": {
        "GENERATION": """OPTIONAL { SELECT ?file ?job ?rule PARAMS_VARS WHERE {
    { SELECT ?file ?job WHERE { ?file prov:wasGeneratedBy ?job } }
    { SELECT ?job ?rule WHERE { ?job sf:ruleName ?rule } } PARAMS } }""",
        "PARAMS": "OPTIONAL { SELECT ?job ?name ?value WHERE { PATTERN } }",
        "PARENTS": "OPTIONAL { SELECT ?file ?parent WHERE { ?file prov:wasDerivedFrom ?parent } }",
    },
}
_PARAM_PATTERN = ("?job prov:used ?e . ?e a sf:Parameter ; sf:name ?name ; prov:value ?value "
                  "FILTER(isLiteral(?value))")
_PARAM_ITEM = ('BIND(CONCAT(ENCODE_FOR_URI(?name), ",", ENCODE_FOR_URI(STR(?value)), ",", '
               'STR(DATATYPE(?value))) AS ?pv)')


def lineage_query(plan: str, params: bool) -> str:
    """The lineage query of a plan (``hash`` or ``lookup``), with or without parameters;
    ``$path`` names the target (or replace ``_TARGET`` by a VALUES of one entity)."""
    parts = dict(_PLANS[plan])
    with_params = parts["PARAMS"].replace("PATTERN", _PARAM_PATTERN) if params else ""
    generation = parts["GENERATION"].replace("PARAMS_VARS", "?name ?value" if params else "")
    text = (_LINEAGE.replace("GENERATION", generation.replace("PARAMS", with_params))
            .replace("PARENTS", parts["PARENTS"]).replace("TARGET", _TARGET))
    if params:
        return (text.replace("PARAMS_OUT", '(GROUP_CONCAT(?pv; separator=" ") AS ?params)')
                .replace("PARAMS_BIND", _PARAM_ITEM).replace("GROUP_BY", "GROUP BY ?file ?job ?rule ?parent"))
    return text.replace("PARAMS_OUT", "").replace("PARAMS_BIND", "").replace("GROUP_BY", "")


HASH_JOIN_MAX = 200_000
_DERIVATIONS_UP_TO = f"""SELECT (COUNT(*) AS ?n) WHERE {{
  {{ SELECT ?a WHERE {{ ?a prov:wasDerivedFrom ?b }} LIMIT {HASH_JOIN_MAX + 1} }} }}"""
_RUN_PREFIX = "urn:sciflow:run:"


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


def literal_value(lexical: str, datatype: str) -> Any:
    """A literal's lexical form and datatype IRI as a plain Python value (as ``to_python``)."""
    return to_python(ox.Literal(lexical, datatype=ox.NamedNode(datatype)))


def _param_rows(used: dict[str, str], rules: dict[str, str | None]) -> list[tuple]:
    """(rule, name, value, datatype, job) rows from each job's concatenated parameters (see
    ``_PARAM_ITEM``), sorted by rule, name and job: jobs are taken in order into one list per
    (rule, name), so 20,000 rows need no sort of their own; jobs sharing a parameter string
    (most of a rule's jobs) share its parsing."""
    parsed: dict[str, list[tuple]] = {}
    lists: dict[tuple, list] = {}
    for job in sorted(used):
        text = used[job]
        items = parsed.get(text)
        if items is None:
            items = parsed[text] = []
            for item in dict.fromkeys(text.split(" ")):
                name, value, datatype = item.split(",", 2)
                items.append((unquote(name), literal_value(unquote(value), datatype), datatype))
        rule = rules.get(job)
        for name, value, datatype in items:
            key = (rule or "", name)
            rows = lists.get(key)
            if rows is None:
                rows = lists[key] = []
            rows.append((rule, name, value, datatype, job))
    return [row for key in sorted(lists) for row in lists[key]]


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
        the path, checksum and generating job are read from the file-version IRI
        (``urn:sciflow:file:<sha256>:<path>[:gen:<run>:<job>]``), and generations, rules and
        parents are hash-joined (see ``_LINEAGE``), which keeps a 10,000-hop lineage near
        0.2 s. Parents are listed by path, rows generated first, then by path."""
        return self._lineage(path, entity, params=False)[0]

    def lineage_with_params(self, path: str | os.PathLike,
                            entity: str | None = None) -> tuple[Table, Table]:
        """``lineage_table`` and the parameter values of its jobs, from one query: a Table of
        the columns of ``params-of.rq`` (rule, name, value, datatype, job), sorted by rule,
        name and job."""
        return self._lineage(path, entity, params=True)

    def _lineage(self, path, entity, params: bool) -> tuple[Table, Table]:
        cols = ["file", "path", "sha256", "job", "rule", "run_id", "raw", "derived_from"]
        query = lineage_query("hash" if self._hash_joins() else "lookup", params)
        if entity:  # one given version (sciflow.provenance.resolve), not the path's latest
            query = query.replace(_TARGET, f"VALUES ?target {{ {sparql_term(entity, 'iri')} }}", 1)
        query = query.replace("$path", sparql_term(self.relpath(path)))
        result = self.store.query(query, use_default_graph_as_union=True, prefixes=V.PREFIXES)
        facts: dict[str, tuple] = {}  # file -> (job, rule, parents): one entry per file version
        used: dict[str, str] = {}  # job -> its parameters as the query concatenated them
        odd: list[str] = []  # generated files whose IRI does not name their job
        job_of = V.job_of_file_iri
        for file_t, rule, parent, *more in result:
            file = file_t.value
            fact = facts.get(file)
            if fact is None:
                job = None if rule is None else job_of(file)
                if rule is not None and job is None:
                    odd.append(file)
                fact = facts[file] = (job, None if rule is None else rule.value, [])
                if more and more[0] is not None and more[0].value:
                    used[file] = more[0].value
            if parent is not None:
                fact[2].append(parent.value)
        for file, job in self._generations(odd):
            facts[file] = (job, *facts[file][1:])
        used = {facts[file][0]: text for file, text in used.items()}
        table = Table(cols, self._lineage_rows(facts))
        if not params:
            return table, Table([], [])
        rules = {job: rule for job, rule, _ in facts.values() if job is not None}
        return table, Table(["rule", "name", "value", "datatype", "job"], _param_rows(used, rules))

    def _lineage_rows(self, facts: dict[str, tuple]) -> list[tuple]:
        """Rows of ``lineage_table`` from each file's (job, rule, parent IRIs)."""
        where = {file: V.parse_file_iri(file) for file in facts}  # (sha256, path)
        odd = [file for file, (sha, _) in where.items() if sha is None]
        for file, rel, sha in self._file_facts(odd):
            where[file] = (sha, rel)
        runs: dict[str, str | None] = {}  # job IRI up to ":job:" -> run id (one per run)
        rows = []
        for file, (job, rule, parents) in facts.items():
            sha, rel = where[file]
            if len(parents) > 1:
                parents = sorted(dict.fromkeys(parents), key=lambda x: (where[x][1] or "", x)
                                 if x in where else ("", x))
            if job is None:
                rows.append((file, rel, sha, None, None, None, True, " ".join(parents)))
                continue
            head = job.rpartition(":job:")[0]
            run = runs.get(head, "")
            if run == "":
                run = runs[head] = run_of_job(job)
            rows.append((file, rel, sha, job, rule, run, False, " ".join(parents)))
        rows.sort(key=lambda r: (r[6], r[1] or "", r[0]))  # generated first, then by path
        return rows

    def _hash_joins(self) -> bool:
        """Whether the store is small enough (derivations) for the hash-join lineage plan."""
        if self._hash_ok is None:
            n = next(iter(self.store.query(_DERIVATIONS_UP_TO, use_default_graph_as_union=True,
                                           prefixes=V.PREFIXES)))[0]
            self._hash_ok = int(n.value) <= HASH_JOIN_MAX
        return self._hash_ok

    def _generations(self, files: list[str]) -> list[tuple[str, str]]:
        """(file, job) of generated files whose IRI is not sciflow's ``…:gen:<run>:<job>``
        form: the lineage query reads the job from the IRI instead of decoding one more IRI
        per file (10,000-job chain: ~0.04 s CPU)."""
        if not files:
            return []
        values = " ".join(f"<{f}>" for f in files)
        table = self.select(f"SELECT ?f ?job WHERE {{ VALUES ?f {{ {values} }} "
                            "?f prov:wasGeneratedBy ?job . ?job sf:ruleName ?rule }")
        return list(dict(table.rows).items())

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
