"""The report as one self-contained HTML page: inline CSS and SVG, images as data: URIs, no
script and nothing fetched from the network, so it reads the same offline, mailed to a colleague.

A ``report()``-flagged file is embedded from the working directory only when its bytes still
have the checksum provenance recorded (else the page says it changed since the run): images are
shown, CSV/TSV tables rendered (the first rows), other files linked by their path, with their
checksum, relative to where the report is written.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import os
from pathlib import Path
from typing import Any

from sciflow.report.data import OutputFile, ReportData, ReportItem
from sciflow.report.graphs import lineage_graph, rule_colours, rule_graph, timeline, when

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".svg": "image/svg+xml", ".webp": "image/webp"}
TABLE_TYPES = {".csv": ",", ".tsv": "\t"}
MAX_EMBED_BYTES = 25 * 1024 * 1024
MAX_TABLE_ROWS = 200
LOG_TAIL_LINES = 40

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05em; } nav a { margin-right: 1em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; } .sha { font-family: monospace; }
.failed { color: #b00; font-weight: bold; } .succeeded { color: #070; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: bold; } pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto;
font-size: 0.85em; white-space: pre-wrap; } .legend { font-size: 0.8em; margin: 0.3em 0; }
.key { margin-right: 1em; } .swatch { display: inline-block; width: 0.8em; height: 0.8em;
margin-right: 0.3em; vertical-align: middle; } figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; } figcaption { font-size: 0.9em; }
svg { max-width: 100%; height: auto; } .note { color: #666; font-size: 0.85em; }
"""


def render(data: ReportData, output: str | Path | None = None) -> str:
    """The page for ``data``; ``output`` (where it will be written) makes file links relative."""
    link_dir = Path(output).resolve().parent if output else data.workdir
    colours = rule_colours(data.rules or [j.rule for j in data.jobs])
    run = data.run
    rid = _e(run.get("run_id"))
    parts = ["<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'/>"
             f"<title>sciflow run {rid}</title><style>{STYLE}</style></head><body>",
             f"<h1>sciflow run {rid}</h1>",
             "<nav><a href='#timeline'>Timeline</a><a href='#rules'>Rules</a>"
             "<a href='#results'>Results</a><a href='#outputs'>Outputs</a>"
             "<a href='#failed'>Failed jobs</a><a href='#config'>Configuration</a>"
             "<a href='#software'>Software</a><a href='#jobs'>Jobs</a></nav>",
             _header(data)]
    parts.append("<h2 id='timeline'>Timeline</h2><p class='note'>One bar per job, one lane per "
                 "worker; hover a bar for its job and duration.</p>")
    parts.append(timeline(data.jobs, colours))
    parts.append("<h2 id='rules'>Rules</h2>")
    parts.append(rule_graph(data.rules, data.rule_edges, colours))
    parts.append(_rule_table(data))
    parts.append("<h2 id='results'>Results</h2>")
    parts.append(_items(data, link_dir) if data.items else
                 "<p class='note'>No output was flagged with <code>report()</code>.</p>")
    parts.append("<h2 id='outputs'>Final outputs and their lineage</h2>")
    parts.append(_outputs(data, colours))
    parts.append("<h2 id='failed'>Failed jobs</h2>")
    parts.append(_failed(data))
    parts.append("<h2 id='config'>Configuration and parameters</h2>")
    parts.append(_config(data))
    parts.append("<h2 id='software'>Software per rule</h2>")
    parts.append(_software(data))
    parts.append("<h2 id='jobs'>Jobs</h2>")
    parts.append(_jobs(data))
    parts.append("<p class='note'>Built by sciflow from the run's recorded provenance "
                 "(<code>.sciflow/prov</code>). Ask more with <code>sciflow prov lineage PATH"
                 "</code> and <code>sciflow prov query NAME</code>.</p></body></html>\n")
    return "\n".join(parts)


def _e(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value))


def _header(data: ReportData) -> str:
    run = data.run
    seconds = None
    if run.get("started") is not None and run.get("ended") is not None:
        seconds = (run["ended"] - run["started"]).total_seconds()
    status = _e(run.get("status") or "unfinished")
    rows = [("status", f"<span class='{status}'>{status}</span>"),
            ("started", _e(when(run.get("started")))), ("ended", _e(when(run.get("ended")))),
            ("duration", f"{seconds:.1f} s" if seconds is not None else ""),
            ("jobs", f"{len(data.jobs)} ({len(data.failed)} failed)"),
            ("user", _e(run.get("user"))), ("host", _e(run.get("host"))),
            ("executor", _e(run.get("executor"))), ("directory", _e(run.get("workdir"))),
            ("targets", _e(", ".join(run.get("targets") or []))),
            ("command", f"<code>{_e(run.get('command_line'))}</code>")]
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows if v) + "</dl>"


def _rule_table(data: ReportData) -> str:
    rows = ["<table><tr><th>rule</th><th>jobs</th><th>failed</th><th>total s</th>"
            "<th>mean s</th><th>max s</th><th>max RSS (MB)</th></tr>"]
    for s in data.rule_stats:
        rss = f"{s.max_rss_mb:.1f}" if s.max_rss_mb is not None else ""
        rows.append(f"<tr><td>{_e(s.rule)}</td><td class='num'>{s.jobs}</td>"
                    f"<td class='num'>{s.failed or ''}</td><td class='num'>{s.total_s:.2f}</td>"
                    f"<td class='num'>{s.mean_s:.2f}</td><td class='num'>{s.max_s:.2f}</td>"
                    f"<td class='num'>{rss}</td></tr>")
    return "".join(rows) + "</table>"


def _items(data: ReportData, link_dir: Path) -> str:
    parts = []
    category = subcategory = None
    for item in data.items:
        if item.category != category:
            category, subcategory = item.category, None
            parts.append(f"<h3>{_e(item.category or 'Other results')}</h3>")
        if item.subcategory != subcategory:
            subcategory = item.subcategory
            if subcategory:
                parts.append(f"<h4>{_e(subcategory)}</h4>")
        parts.append(_item(data, item, link_dir))
    return "\n".join(parts)


def _item(data: ReportData, item: ReportItem, link_dir: Path) -> str:
    full = data.workdir / item.path
    suffix = full.suffix.lower()
    body, note = "", ""
    content = _read_verified(full, item.sha256)
    if content is None:
        note = ("<p class='note'>The file is no longer there, or changed since the run: "
                "only its recorded checksum is shown.</p>")
    elif suffix in IMAGE_TYPES:
        b64 = base64.b64encode(content).decode("ascii")
        body = f"<img alt='{_e(item.path)}' src='data:{IMAGE_TYPES[suffix]};base64,{b64}'/>"
    elif suffix in TABLE_TYPES:
        body = _table(content, TABLE_TYPES[suffix])
    else:
        href = os.path.relpath(full, link_dir)
        body = f"<p><a href='{_e(Path(href).as_posix())}'>{_e(item.path)}</a></p>"
    labels = ", ".join(f"{k}: {v}" for k, v in item.labels.items())
    caption = (f"<div>{_e(item.caption)}</div>" if item.caption else "")
    meta = (f"<div class='note'><code>{_e(item.path)}</code> &middot; rule {_e(item.rule)} "
            f"(job {item.jobid}){' &middot; ' + _e(labels) if labels else ''} &middot; "
            f"sha256 <span class='sha'>{_e(item.sha256)}</span></div>")
    return f"<figure>{body}{note}<figcaption>{caption}{meta}</figcaption></figure>"


def _read_verified(path: Path, sha256: str) -> bytes | None:
    try:
        if path.stat().st_size > MAX_EMBED_BYTES:
            return None
        content = path.read_bytes()
    except OSError:
        return None
    return content if hashlib.sha256(content).hexdigest() == sha256 else None


def _table(content: bytes, delimiter: str) -> str:
    text = content.decode("utf-8", errors="replace")
    rows = []
    for n, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter)):
        if n > MAX_TABLE_ROWS:
            break
        rows.append(row)
    if not rows:
        return "<p class='note'>(empty table)</p>"
    head = "".join(f"<th>{_e(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>"
                   for row in rows[1:MAX_TABLE_ROWS + 1])
    more = (f"<p class='note'>first {MAX_TABLE_ROWS} rows shown</p>"
            if len(rows) > MAX_TABLE_ROWS else "")
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _outputs(data: ReportData, colours: dict[str, str]) -> str:
    if not data.outputs:
        return "<p class='note'>The run made no file that it did not also use.</p>"
    parts = ["<table><tr><th>path</th><th>bytes</th><th>sha256</th><th>made by</th></tr>"]
    for out in data.outputs:
        parts.append(f"<tr><td><a href='#out-{_anchor(out)}'>{_e(out.path)}</a></td>"
                     f"<td class='num'>{_e(out.size)}</td><td class='sha'>{_e(out.sha256)}</td>"
                     f"<td>{_e(out.rule)} (job {out.jobid})</td></tr>")
    parts.append("</table>")
    for out in data.outputs:
        if out.lineage is None:
            continue
        cut = (" <span class='note'>(large lineage: cut)</span>" if out.lineage.cut else "")
        parts.append(f"<h3 id='out-{_anchor(out)}'>{_e(out.path)}</h3>"
                     f"<div class='note'>sha256 <span class='sha'>{_e(out.sha256)}</span>{cut}</div>")
        parts.append(lineage_graph(out.lineage, out.entity, colours))
    return "\n".join(parts)


def _anchor(out: OutputFile) -> str:
    return hashlib.sha1(out.entity.encode()).hexdigest()[:12]


def _failed(data: ReportData) -> str:
    if not data.failed:
        return "<p class='note'>No job failed.</p>"
    parts = []
    for job in data.failed:
        tail = "\n".join(job.log_tail.rstrip().splitlines()[-LOG_TAIL_LINES:])
        parts.append(f"<h3 class='failed'>job {job.id}: {_e(job.label)}</h3><dl>"
                     f"<dt>exit status</dt><dd>{_e(job.exit_code)}</dd>"
                     f"<dt>host / worker</dt><dd>{_e(job.host)} {_e(job.worker)}</dd></dl>")
        if job.command:
            parts.append(f"<pre>{_e(job.command.strip())}</pre>")
        if job.error:
            parts.append(f"<pre>{_e(job.error.strip())}</pre>")
        if tail:
            parts.append(f"<p>last lines of its log:</p><pre>{_e(tail)}</pre>")
    return "\n".join(parts)


def _config(data: ReportData) -> str:
    parts = []
    if data.config:
        parts.append("<h3>config</h3><pre>" + _e(json.dumps(data.config, indent=2,
                                                             sort_keys=True, default=str))
                     + "</pre>")
    else:
        parts.append("<p class='note'>No configuration.</p>")
    if data.params:
        parts.append("<h3>parameters per rule</h3><table><tr><th>rule</th><th>parameter</th>"
                     "<th>values used</th></tr>")
        for rule, items in sorted(data.params.items()):
            by_name: dict[str, list[str]] = {}
            for name, value in items:
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                by_name.setdefault(name, []).append(text)
            for name, values in by_name.items():
                shown = ", ".join(sorted(set(values))[:20])
                parts.append(f"<tr><td>{_e(rule)}</td><td>{_e(name)}</td><td>{_e(shown)}</td></tr>")
        parts.append("</table>")
    return "\n".join(parts)


def _software(data: ReportData) -> str:
    if not data.software:
        return "<p class='note'>No software recorded.</p>"
    rows = ["<table><tr><th>rule</th><th>software</th></tr>"]
    for rule, items in sorted(data.software.items()):
        text = ", ".join(f"{n} {v}" for n, v in items)
        rows.append(f"<tr><td>{_e(rule)}</td><td>{_e(text)}</td></tr>")
    return "".join(rows) + "</table>"


def _jobs(data: ReportData) -> str:
    rows = ["<table><tr><th>id</th><th>rule</th><th>wildcards</th><th>status</th><th>exit</th>"
            "<th>started</th><th>seconds</th><th>worker</th><th>reason</th></tr>"]
    for job in data.jobs:
        wc = ", ".join(f"{k}={v}" for k, v in job.wildcards.items())
        rows.append(f"<tr><td class='num'>{job.id}</td><td>{_e(job.rule)}</td><td>{_e(wc)}</td>"
                    f"<td class='{_e(job.status)}'>{_e(job.status)}</td>"
                    f"<td class='num'>{_e(job.exit_code)}</td><td>{_e(when(job.start))}</td>"
                    f"<td class='num'>{job.seconds:.2f}</td><td>{_e(job.worker or job.host)}</td>"
                    f"<td>{'<br/>'.join(_e(r) for r in job.reasons)}</td></tr>")
    return "".join(rows) + "</table>"
