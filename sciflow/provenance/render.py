"""``sciflow prov render PATH -o lineage.html``: the lineage of one file as one HTML page.

Self-contained: the graph is an inline SVG laid out here (files and jobs in columns, from the
raw inputs on the left to the file on the right), the data is an inline JSON document and the
interaction is a few lines of inline JavaScript — nothing is fetched, so the page opens
offline, from an e-mail or an archive. Click a node for its facts (path, sha256, short id,
rule, run, parameters); hovering highlights everything upstream of it; the wheel zooms and
dragging pans; the search box highlights files whose path contains the text.
"""
from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from sciflow.provenance.lookup import short_id

if TYPE_CHECKING:  # pragma: no cover
    from sciflow.provenance.query import Table

COL_W, ROW_H, BOX_W, BOX_H = 260, 64, 220, 40


def graph_of(lineage: "Table", params: "Table | None" = None) -> dict[str, Any]:
    """Nodes (files and jobs) and edges (input → job → output) of a lineage table."""
    by_job: dict[str, dict[str, Any]] = {}
    for r in (params.records() if params is not None else []):
        by_job.setdefault(r["job"], {})[r["name"]] = r["value"]
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[tuple[str, str]] = []
    for r in lineage.records():
        nodes[r["file"]] = {"iri": r["file"], "id": short_id(r["file"]), "kind": "file",
                            "label": r["path"] or r["file"], "path": r["path"],
                            "sha256": r["sha256"], "raw": bool(r["raw"])}
        if r["raw"] or not r["job"]:
            continue
        job = r["job"]
        if job not in nodes:
            nodes[job] = {"iri": job, "id": short_id(job), "kind": "job",
                          "label": f"{r['rule']} #{job.rsplit(':', 1)[-1]}", "rule": r["rule"],
                          "run": r["run_id"], "params": by_job.get(job, {})}
        edges.append((job, r["file"]))
        for parent in (r["derived_from"] or "").split():
            edges.append((parent, job))
    edges = [e for e in dict.fromkeys(edges) if e[0] in nodes and e[1] in nodes]
    return {"nodes": nodes, "edges": edges}


def _layout(graph: dict[str, Any], target: str | None) -> dict[str, tuple[float, float]]:
    """Columns by the longest path down from the target; rows in order of appearance."""
    parents: dict[str, list[str]] = {}
    for src, dst in graph["edges"]:
        parents.setdefault(dst, []).append(src)
    depth: dict[str, int] = {}
    roots = [target] if target in graph["nodes"] else [n for n in graph["nodes"]
                                                       if not any(s == n for s, _ in graph["edges"])]
    stack = [(r, 0) for r in roots]
    while stack:  # iterative: a 10,000-job chain is 20,000 levels deep
        node, d = stack.pop()
        if depth.get(node, -1) >= d:
            continue
        depth[node] = d
        stack.extend((p, d + 1) for p in parents.get(node, ()))
    for node in graph["nodes"]:
        depth.setdefault(node, 0)
    deepest = max(depth.values(), default=0)
    rows: dict[int, int] = {}
    pos = {}
    for node in graph["nodes"]:
        col = deepest - depth[node]
        row = rows.get(col, 0)
        rows[col] = row + 1
        pos[node] = (20 + col * COL_W, 20 + row * ROW_H)
    return pos


_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;display:flex;height:100vh}
#g{flex:1;overflow:hidden;cursor:grab;background:#fbfbfd}
#side{width:360px;border-left:1px solid #ddd;padding:12px;overflow:auto;font-size:13px}
.file rect{fill:#fff;stroke:#4a6fa5}.file.raw rect{fill:#f3f0e6;stroke:#a58a4a}
.job rect{fill:#dde8f5;stroke:#4a6fa5;rx:18}
.node text{font-size:12px;pointer-events:none}.node{cursor:pointer}
.edge{stroke:#999;fill:none;marker-end:url(#arrow)}
.hl rect{stroke:#d9480f;stroke-width:3}.edge.hl{stroke:#d9480f;stroke-width:2}
.match rect{fill:#ffe8a3}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;padding:8px}
"""

_SCRIPT = """
const data = JSON.parse(document.getElementById('data').textContent);
const svg = document.getElementById('svg');
let vb = svg.viewBox.baseVal;
const parents = {};
data.edges.forEach(([s, d], i) => { (parents[d] = parents[d] || []).push([s, i]); });
function upstream(id, seen) {
  if (seen.has(id)) return; seen.add(id);
  (parents[id] || []).forEach(([s, i]) => { seen.add('e' + i); upstream(s, seen); });
}
function clearHl() { document.querySelectorAll('.hl').forEach(e => e.classList.remove('hl')); }
document.querySelectorAll('.node').forEach(el => {
  const id = el.dataset.iri;
  el.addEventListener('mouseenter', () => {
    const seen = new Set(); upstream(id, seen);
    seen.forEach(k => { const n = document.querySelector('[data-key="' + CSS.escape(k) + '"]');
                        if (n) n.classList.add('hl'); });
  });
  el.addEventListener('mouseleave', clearHl);
  el.addEventListener('click', () => {
    const n = data.nodes[id];
    document.getElementById('title').textContent = n.label;
    document.getElementById('facts').textContent = JSON.stringify(n, null, 1);
  });
});
let drag = null;
svg.addEventListener('mousedown', e => { drag = [e.clientX, e.clientY, vb.x, vb.y]; });
window.addEventListener('mouseup', () => { drag = null; });
window.addEventListener('mousemove', e => {
  if (!drag) return; const k = vb.width / svg.clientWidth;
  vb.x = drag[2] - (e.clientX - drag[0]) * k; vb.y = drag[3] - (e.clientY - drag[1]) * k;
});
svg.addEventListener('wheel', e => {
  e.preventDefault(); const f = e.deltaY > 0 ? 1.15 : 1 / 1.15;
  vb.x += vb.width * (1 - f) / 2; vb.y += vb.height * (1 - f) / 2; vb.width *= f; vb.height *= f;
}, {passive: false});
document.getElementById('q').addEventListener('input', e => {
  const q = e.target.value.toLowerCase();
  document.querySelectorAll('.file').forEach(el => {
    el.classList.toggle('match', q !== '' && (data.nodes[el.dataset.iri].label || '').toLowerCase().includes(q));
  });
});
"""


def render_html(graph: dict[str, Any], target: str | None, title: str) -> str:
    """The page (see the module docstring)."""
    pos = _layout(graph, target)
    width = max((x for x, _ in pos.values()), default=0) + BOX_W + 40
    height = max((y for _, y in pos.values()), default=0) + BOX_H + 40
    esc = html.escape
    parts = []
    for i, (src, dst) in enumerate(graph["edges"]):
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        x1, y1, y2 = x1 + BOX_W, y1 + BOX_H / 2, y2 + BOX_H / 2
        mid = (x1 + x2) / 2
        parts.append(f'<path class="edge" data-key="e{i}" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"/>')
    for iri, node in graph["nodes"].items():
        x, y = pos[iri]
        cls = f"node {node['kind']}" + (" raw" if node.get("raw") else "")
        label = node["label"] if len(node["label"]) <= 32 else "…" + node["label"][-31:]
        sub = (node.get("sha256") or "")[:12] if node["kind"] == "file" else node.get("run") or ""
        parts.append(
            f'<g class="{cls}" data-iri="{esc(iri)}" data-key="{esc(iri)}">'
            f'<title>{esc(node["label"])}</title>'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="{18 if node["kind"] == "job" else 3}"/>'
            f'<text x="{x + 8}" y="{y + 16}">{esc(label)}</text>'
            f'<text x="{x + 8}" y="{y + 32}" fill="#666">{esc(str(sub))}</text></g>')
    data = json.dumps({"nodes": graph["nodes"], "edges": graph["edges"], "target": target},
                      default=str).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>{_STYLE}</style></head><body>
<div id="g"><svg id="svg" xmlns="http://www.w3.org/2000/svg" width="100%" height="100%"
 viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6"
 orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#999"/></marker></defs>
{chr(10).join(parts)}
</svg></div>
<div id="side"><h3>{esc(title)}</h3>
<input id="q" placeholder="highlight files whose path contains…" style="width:100%">
<p>{sum(n['kind'] == 'file' for n in graph['nodes'].values())} file versions,
{sum(n['kind'] == 'job' for n in graph['nodes'].values())} jobs. Click a node for its facts;
hover to see what it came from; wheel to zoom, drag to pan.</p>
<h4 id="title"></h4><pre id="facts"></pre></div>
<script type="application/json" id="data">{data}</script>
<script>{_SCRIPT}</script>
</body></html>
"""
