"""What the report shows, read from the provenance store with SPARQL, as plain Python data.

Everything here comes from the recorded PROV-O graph of one run (and, for lineage, of the runs
that made its inputs): nothing is taken from the workflow file or the engine, so a report can be
made at any time later, on any machine that has the ``.sciflow/`` folder. Files are matched by
their ``sf:path`` (or, in stores written before paths were ``sf:path`` literals, by the
``prov:atLocation`` literal), so old and new stores both report.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sciflow import layout
from sciflow.errors import ProvenanceError

MAX_LINEAGE_GRAPHS = 40     # final outputs drawn with their lineage (the rest: path + checksum)
MAX_LINEAGE_EDGES = 400     # per output: a lineage larger than that is cut (and says so)


def _path(entity: str, var: str) -> str:
    """A graph pattern binding ``?var`` to the path of ``?entity`` in either store model."""
    return (f"{{ ?{entity} sf:path ?{var} }} UNION "
            f"{{ ?{entity} prov:atLocation ?{var} . FILTER(isLiteral(?{var})) }}")


_RUN = """
SELECT ?executor ?workdir ?target WHERE {
  ?run a sf:Run ; sf:runId $run .
  OPTIONAL { ?run sf:executor ?executor } OPTIONAL { ?run sf:workdir ?workdir }
  OPTIONAL { ?run sf:target ?target }
}"""

_JOBS = """
SELECT ?job ?id ?rule ?wildcards ?status ?exit ?start ?end ?host ?worker ?command ?error
       ?tail ?rss ?threads WHERE {
  ?job a sf:Job ; sf:inRun $run ; sf:jobId ?id ; sf:ruleName ?rule ; sf:status ?status ;
       prov:startedAtTime ?start ; prov:endedAtTime ?end .
  OPTIONAL { ?job sf:wildcards ?wildcards } OPTIONAL { ?job sf:exitCode ?exit }
  OPTIONAL { ?job sf:host ?host } OPTIONAL { ?job sf:worker ?worker }
  OPTIONAL { ?job sf:command ?command } OPTIONAL { ?job sf:error ?error }
  OPTIONAL { ?job sf:logTail ?tail } OPTIONAL { ?job sf:maxRssMb ?rss }
  OPTIONAL { ?job sf:threads ?threads }
} ORDER BY ?id"""

_REASONS = """
SELECT ?id ?reason WHERE { ?job a sf:Job ; sf:inRun $run ; sf:jobId ?id ; sf:reason ?reason }"""

_CONFIG = """
SELECT ?value WHERE {
  ?run a sf:Run ; sf:runId $run ; prov:used ?cfg . ?cfg a sf:Config ; prov:value ?value
}"""

_PARAMS = """
SELECT DISTINCT ?rule ?name ?value WHERE {
  ?job a sf:Job ; sf:inRun $run ; sf:ruleName ?rule ; prov:used ?p .
  ?p a sf:Parameter ; sf:name ?name ; prov:value ?value
} ORDER BY ?rule ?name"""

_SOFTWARE = """
SELECT DISTINCT ?rule ?name ?version WHERE {
  ?job a sf:Job ; sf:inRun $run ; sf:ruleName ?rule ; prov:wasAssociatedWith ?sw .
  ?sw a prov:SoftwareAgent ; sf:name ?name ; sf:version ?version
} ORDER BY ?rule ?name"""

_RULE_EDGES = """
SELECT DISTINCT ?from ?to WHERE {
  ?j2 a sf:Job ; sf:inRun $run ; sf:ruleName ?to ; prov:wasInformedBy ?j1 .
  ?j1 sf:ruleName ?from
}"""

_OUTPUTS = f"""
SELECT DISTINCT ?f ?path ?sha ?size ?id ?rule ?role ?flag ?used ?member WHERE {{
  ?f prov:wasGeneratedBy ?job ; sf:sha256 ?sha .
  ?job a sf:Job ; sf:inRun $run ; sf:jobId ?id ; sf:ruleName ?rule .
  {_path("f", "path")}
  OPTIONAL {{ ?f sf:size ?size }}
  OPTIONAL {{ ?f prov:qualifiedGeneration ?g . ?g prov:hadRole ?r . ?r rdfs:label ?role }}
  OPTIONAL {{ ?f sf:flag ?flag }}
  BIND(EXISTS {{ ?other a sf:Job ; sf:inRun $run ; prov:used ?f . ?made prov:wasGeneratedBy ?other }}
       AS ?used)
  BIND(EXISTS {{ ?dir prov:hadMember ?f }} AS ?member)
}} ORDER BY ?path"""

_REPORT_ITEMS = f"""
SELECT DISTINCT ?f ?path ?sha ?size ?id ?rule ?caption ?category ?subcategory ?labels WHERE {{
  ?f sf:flag "report" ; prov:wasGeneratedBy ?job ; sf:sha256 ?sha .
  ?job a sf:Job ; sf:inRun $run ; sf:jobId ?id ; sf:ruleName ?rule .
  {_path("f", "path")}
  OPTIONAL {{ ?f sf:size ?size }}
  OPTIONAL {{ ?f sf:reportCaption ?caption }} OPTIONAL {{ ?f sf:reportCategory ?category }}
  OPTIONAL {{ ?f sf:reportSubcategory ?subcategory }} OPTIONAL {{ ?f sf:reportLabels ?labels }}
}} ORDER BY ?category ?path"""

_LINEAGE = f"""
SELECT DISTINCT ?x ?xpath ?j ?jrun ?jid ?rule ?wc ?y ?ypath WHERE {{
  <ENTITY> prov:wasDerivedFrom* ?x .
  ?x prov:wasGeneratedBy ?j .
  ?j a sf:Job ; sf:inRun ?jrun ; sf:jobId ?jid ; sf:ruleName ?rule .
  OPTIONAL {{ ?j sf:wildcards ?wc }}
  {_path("x", "xpath")}
  OPTIONAL {{ ?j prov:used ?y . ?y a sf:File . {_path("y", "ypath")} }}
}} LIMIT {MAX_LINEAGE_EDGES + 1}"""


@dataclass
class JobRow:
    """One job of the run, once (its reasons joined)."""

    id: int
    rule: str
    wildcards: dict[str, Any]
    status: str
    start: datetime
    end: datetime
    exit_code: int | None = None
    host: str = ""
    worker: str = ""
    command: str = ""
    error: str = ""
    log_tail: str = ""
    max_rss_mb: float | None = None
    threads: int | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())

    @property
    def label(self) -> str:
        wc = ", ".join(f"{k}={v}" for k, v in self.wildcards.items())
        return f"{self.rule} ({wc})" if wc else self.rule


@dataclass
class RuleStats:
    rule: str
    jobs: int
    failed: int
    total_s: float
    mean_s: float
    max_s: float
    max_rss_mb: float | None


@dataclass
class OutputFile:
    """A file the run made that no job of the run made something from (a target rule such as
    ``all`` reads results but makes nothing): a result."""

    path: str
    sha256: str
    size: int | None
    rule: str
    jobid: int
    entity: str
    flags: list[str] = field(default_factory=list)
    lineage: "Lineage | None" = None


@dataclass
class Lineage:
    """Files and jobs an output came from: edges file -> job -> file."""

    jobs: dict[str, str] = field(default_factory=dict)     # job IRI -> label
    files: dict[str, str] = field(default_factory=dict)    # file IRI -> path
    edges: set[tuple[str, str]] = field(default_factory=set)
    cut: bool = False


@dataclass
class ReportItem:
    """A ``report()``-flagged output, with its caption and category."""

    path: str
    sha256: str
    size: int | None
    rule: str
    jobid: int
    caption: str = ""
    category: str = ""
    subcategory: str = ""
    labels: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReportData:
    run: dict[str, Any]
    jobs: list[JobRow]
    rule_stats: list[RuleStats]
    config: dict[str, Any]
    params: dict[str, list[tuple[str, Any]]]
    software: dict[str, list[tuple[str, str]]]
    rules: list[str]
    rule_edges: list[tuple[str, str]]
    outputs: list[OutputFile]
    items: list[ReportItem]
    workdir: Path

    @property
    def failed(self) -> list[JobRow]:
        return [j for j in self.jobs if j.status == "failed"]


def load(workdir: str | Path = ".", run_id: str | None = None) -> ReportData:
    """Everything the report shows about ``run_id`` (default: the latest run)."""
    import sciflow.provenance as sp

    prov = sp.open(workdir)
    runs = prov.runs()
    if runs.empty:
        raise ProvenanceError(f"no runs recorded in {layout.state_dir(workdir)}",
                              hint="Run the workflow first: sciflow run")
    if run_id is None:
        row = runs.sort_values("started").iloc[-1]
    else:
        match = runs[runs.run_id == run_id]
        if match.empty:
            raise ProvenanceError(f"no run {run_id!r} recorded",
                                  hint="Known runs: " + ", ".join(runs.run_id))
        row = match.iloc[0]
    rid = str(row.run_id)
    run = {k: _value(v) for k, v in row.items()}
    extra = prov.query(_RUN, run=rid)
    if not extra.empty:
        run["executor"] = _value(extra["executor"].iloc[0])
        run["workdir"] = _value(extra["workdir"].iloc[0])
        run["targets"] = sorted({str(t) for t in extra["target"] if _value(t)})
    jobs = _jobs(prov, rid)
    config_rows = prov.query(_CONFIG, run=rid)
    config = _json(config_rows["value"].iloc[0]) if not config_rows.empty else {}
    params: dict[str, list[tuple[str, Any]]] = {}
    for r in prov.query(_PARAMS, run=rid).itertuples():
        params.setdefault(r.rule, []).append((str(r.name), _json(r.value)))
    software: dict[str, list[tuple[str, str]]] = {}
    for r in prov.query(_SOFTWARE, run=rid).itertuples():
        software.setdefault(r.rule, []).append((str(r.name), str(r.version)))
    edges = sorted({(str(r[0]), str(r[1])) for r in
                    prov.query(_RULE_EDGES, run=rid).itertuples(index=False)})
    rules = sorted({j.rule for j in jobs} | {e for edge in edges for e in edge})
    outputs = _outputs(prov, rid)
    for out in outputs[:MAX_LINEAGE_GRAPHS]:
        out.lineage = _lineage(prov, out.entity)
    return ReportData(run=run, jobs=jobs, rule_stats=rule_stats(jobs), config=config,
                      params=params, software=software, rules=rules, rule_edges=edges,
                      outputs=outputs, items=_items(prov, rid), workdir=Path(workdir).resolve())


def _jobs(prov: Any, rid: str) -> list[JobRow]:
    """One row per job: a job has one row in the store's answer per recorded reason, so the
    reasons are read apart and joined here."""
    reasons: dict[int, list[str]] = {}
    for r in prov.query(_REASONS, run=rid).itertuples():
        reasons.setdefault(int(r.id), []).append(str(r.reason))
    jobs: dict[int, JobRow] = {}
    for r in prov.query(_JOBS, run=rid).itertuples():
        jid = int(r.id)
        if jid in jobs:
            continue
        jobs[jid] = JobRow(
            id=jid, rule=str(r.rule), wildcards=_json(r.wildcards) or {}, status=str(r.status),
            start=r.start, end=r.end, exit_code=_int(r.exit), host=_str(r.host),
            worker=_str(r.worker), command=_str(r.command), error=_str(r.error),
            log_tail=_str(r.tail), max_rss_mb=_float(r.rss), threads=_int(r.threads),
            reasons=sorted(reasons.get(jid, [])))
    return sorted(jobs.values(), key=lambda j: j.id)


def rule_stats(jobs: list[JobRow]) -> list[RuleStats]:
    """Jobs, failures, total/mean/max seconds and the largest max RSS (benchmarked jobs) per rule."""
    by_rule: dict[str, list[JobRow]] = {}
    for job in jobs:
        by_rule.setdefault(job.rule, []).append(job)
    out = []
    for rule, rows in sorted(by_rule.items()):
        secs = [j.seconds for j in rows]
        rss = [j.max_rss_mb for j in rows if j.max_rss_mb is not None]
        out.append(RuleStats(rule, len(rows), sum(j.status == "failed" for j in rows), sum(secs),
                             sum(secs) / len(secs), max(secs), max(rss) if rss else None))
    return out


def _outputs(prov: Any, rid: str) -> list[OutputFile]:
    found: dict[str, OutputFile] = {}
    excluded: set[str] = set()
    for r in prov.query(_OUTPUTS, run=rid).itertuples():
        f = str(r.f)
        role = _str(r.role)
        if r.used is True or r.member is True or role.startswith("log:") or \
                str(r.path).startswith(layout.STATE_DIR + "/"):
            excluded.add(f)
            continue
        out = found.get(f)
        if out is None:
            out = found[f] = OutputFile(path=str(r.path), sha256=str(r.sha), size=_int(r.size),
                                        rule=str(r.rule), jobid=int(r.id), entity=f)
        flag = _str(r.flag)
        if flag and flag not in out.flags:
            out.flags.append(flag)
    return sorted((o for k, o in found.items() if k not in excluded and "temp" not in o.flags),
                  key=lambda o: o.path)


def _lineage(prov: Any, entity: str) -> Lineage:
    """The jobs and files ``entity`` derives from (``prov:wasDerivedFrom*``), as a graph."""
    lin = Lineage()
    rows = prov.query(_LINEAGE.replace("ENTITY", entity.replace(">", "%3E")))
    if len(rows) > MAX_LINEAGE_EDGES:
        lin.cut = True
        rows = rows.iloc[:MAX_LINEAGE_EDGES]
    for r in rows.itertuples():
        j = str(r.j)
        wc = _json(r.wc) or {}
        label = str(r.rule) + (" (" + ", ".join(f"{k}={v}" for k, v in wc.items()) + ")"
                               if wc else "")
        lin.jobs[j] = label
        lin.files[str(r.x)] = str(r.xpath)
        lin.edges.add((j, str(r.x)))
        if _value(r.y) is not None:
            lin.files[str(r.y)] = str(r.ypath)
            lin.edges.add((str(r.y), j))
    return lin


def _items(prov: Any, rid: str) -> list[ReportItem]:
    items: dict[str, ReportItem] = {}
    for r in prov.query(_REPORT_ITEMS, run=rid).itertuples():
        if str(r.f) in items:
            continue
        items[str(r.f)] = ReportItem(
            path=str(r.path), sha256=str(r.sha), size=_int(r.size), rule=str(r.rule),
            jobid=int(r.id), caption=_str(r.caption), category=_str(r.category),
            subcategory=_str(r.subcategory), labels=_json(r.labels) or {})
    return sorted(items.values(), key=lambda i: (i.category, i.subcategory, i.path))


# ------------------------------------------------------------------------------ values
def _value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v):
        return None
    import pandas as pd  # a dependency: the store's answers are DataFrames

    return None if v is pd.NaT else v


def _str(v: Any) -> str:
    v = _value(v)
    return "" if v is None else str(v)


def _int(v: Any) -> int | None:
    v = _value(v)
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None


def _float(v: Any) -> float | None:
    v = _value(v)
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def _json(v: Any) -> Any:
    v = _value(v)
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v
