"""A self-contained HTML report of a run, read back from the provenance store.

The report is built from what was *recorded* (the PROV-O graph), not from the engine's memory,
so it can be made at any time after a run, on any machine that has the ``.sciflow/`` folder:
the run (who, where, when, command, status), each job (rule, wildcards, why it ran, times,
host and worker, exit status), each output (path, size, sha256) and, when the workflow file is
still there and graphviz is installed, the rule graph as inline SVG.
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from sciflow.errors import ProvenanceError

_JOBS = """
SELECT ?job ?id ?rule ?wildcards ?reason ?status ?exit ?start ?end ?host ?worker WHERE {
  ?job a sf:Job ; sf:inRun $run ; sf:jobId ?id ; sf:ruleName ?rule ; sf:status ?status ;
       prov:startedAtTime ?start ; prov:endedAtTime ?end .
  OPTIONAL { ?job sf:wildcards ?wildcards } OPTIONAL { ?job sf:reason ?reason }
  OPTIONAL { ?job sf:exitCode ?exit } OPTIONAL { ?job sf:host ?host }
  OPTIONAL { ?job sf:worker ?worker }
} ORDER BY ?id
"""

_OUTPUTS = """
SELECT DISTINCT ?path ?size ?sha ?rule ?id WHERE {
  ?job a sf:Job ; sf:inRun $run ; sf:jobId ?id ; sf:ruleName ?rule .
  ?file prov:wasGeneratedBy ?job ; prov:atLocation ?path ; sf:sha256 ?sha .
  OPTIONAL { ?file sf:size ?size }
} ORDER BY ?path
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.sha { font-family: monospace; }
.failed { color: #b00; font-weight: bold; } .succeeded { color: #070; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: bold; }
"""


def build_report(workdir: str | Path = ".", run_id: str | None = None) -> str:
    """The HTML text of the report for ``run_id`` (default: the latest run in ``workdir``)."""
    import sciflow.provenance as sp

    prov = sp.open(workdir)
    runs = prov.runs()
    if runs.empty:
        raise ProvenanceError(f"no runs recorded in {Path(workdir) / '.sciflow'}",
                              hint="Run the workflow first: sciflow run")
    if run_id is None:
        run = runs.sort_values("started").iloc[-1]
    else:
        match = runs[runs.run_id == run_id]
        if match.empty:
            raise ProvenanceError(f"no run {run_id!r} recorded",
                                  hint="Known runs: " + ", ".join(runs.run_id))
        run = match.iloc[0]
    jobs = prov.query(_JOBS, run=str(run.run_id))
    outputs = prov.query(_OUTPUTS, run=str(run.run_id))
    graph = _rule_graph_svg(Path(workdir))
    return _render(run, jobs, outputs, graph)


def _rule_graph_svg(workdir: Path) -> str | None:
    """The rule graph of the workflow file in ``workdir``, as SVG, if it can still be drawn."""
    try:
        from sciflow.dag import build_dag
        from sciflow.layout import find_workflow_file
        from sciflow.parse import load_workflow

        cwd = os.getcwd()
        os.chdir(workdir)
        try:
            workflow = load_workflow(str(find_workflow_file(None)))
            return build_dag(workflow).to_svg(rulegraph=True)
        finally:
            os.chdir(cwd)
    except Exception:  # the picture is optional: the recorded provenance is the report
        return None


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value))


def _wildcards(text: Any) -> str:
    if not text or not isinstance(text, str):
        return ""
    try:
        return ", ".join(f"{k}={v}" for k, v in json.loads(text).items())
    except (ValueError, AttributeError):
        return text


def _render(run: Any, jobs: Any, outputs: Any, graph: str | None) -> str:
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'/>"
             f"<title>sciflow run {_cell(run.run_id)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>sciflow run {_cell(run.run_id)}</h1><dl>"]
    for label, value in (("status", run.status), ("started", run.started), ("ended", run.ended),
                         ("user", run.user), ("host", run.host), ("command", run.command_line),
                         ("jobs", run.jobs)):
        parts.append(f"<dt>{label}</dt><dd>{_cell(value)}</dd>")
    parts.append("</dl>")
    if graph:
        parts.append("<h2>Rule graph</h2>" + graph[graph.find("<svg"):])
    parts.append("<h2>Jobs</h2><table><tr><th>id</th><th>rule</th><th>wildcards</th><th>status</th>"
                 "<th>exit</th><th>started</th><th>seconds</th><th>host</th><th>worker</th>"
                 "<th>reason</th></tr>")
    for job in jobs.itertuples():
        seconds = (job.end - job.start).total_seconds() if job.end is not None else None
        parts.append(
            f"<tr><td>{_cell(job.id)}</td><td>{_cell(job.rule)}</td>"
            f"<td>{_cell(_wildcards(job.wildcards))}</td>"
            f"<td class='{_cell(job.status)}'>{_cell(job.status)}</td><td>{_cell(job.exit)}</td>"
            f"<td>{_cell(job.start)}</td><td>{_cell(round(seconds, 3) if seconds is not None else None)}</td>"
            f"<td>{_cell(job.host)}</td><td>{_cell(job.worker)}</td><td>{_cell(job.reason)}</td></tr>")
    parts.append("</table><h2>Outputs</h2><table><tr><th>path</th><th>bytes</th><th>sha256</th>"
                 "<th>made by</th></tr>")
    for out in outputs.itertuples():
        parts.append(f"<tr><td>{_cell(out.path)}</td><td>{_cell(out.size)}</td>"
                     f"<td class='sha'>{_cell(out.sha)}</td><td>{_cell(out.rule)} (job {_cell(out.id)})</td></tr>")
    parts.append("</table><p>Ask more with <code>sciflow prov lineage PATH</code> and "
                 "<code>sciflow prov query NAME</code>.</p></body></html>\n")
    return "\n".join(parts)
