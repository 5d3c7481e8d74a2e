"""The report's pictures, as inline SVG: the rule graph and each output's lineage (laid out by
graphviz's ``dot``, run locally) and the timeline (drawn here: one bar per job, one lane per
worker). Without ``dot`` a graph becomes a plain list of its edges, so the report still says
everything offline."""
from __future__ import annotations

import html
import itertools
import re
from datetime import datetime
from typing import Iterable

import graphviz

from sciflow.report.data import JobRow, Lineage

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7",
           "#9c755f", "#bab0ac", "#86bcb6", "#d37295", "#a0cbe8")
_ids = itertools.count()


def rule_colours(rules: Iterable[str]) -> dict[str, str]:
    return {rule: PALETTE[i % len(PALETTE)] for i, rule in enumerate(sorted(set(rules)))}


def _dot_svg(nodes: dict[str, dict[str, str]], edges: Iterable[tuple[str, str]],
             rankdir: str = "TB") -> str | None:
    """SVG text laid out by ``dot``, or None if the ``dot`` program cannot run here (the
    ``graphviz`` Python package is a dependency; the program is a system package)."""
    g = graphviz.Digraph(graph_attr={"rankdir": rankdir, "bgcolor": "transparent"},
                         node_attr={"fontname": "Helvetica", "fontsize": "10"},
                         edge_attr={"color": "#888888"})
    # SPARQL answers come in no fixed order; sorted nodes and edges make the same provenance
    # give the same page byte for byte
    names = {key: f"n{i}" for i, key in enumerate(sorted(nodes))}
    for key in sorted(nodes):
        g.node(names[key], **nodes[key])
    for a, b in sorted(set(edges)):
        if a in names and b in names:
            g.edge(names[a], names[b])
    try:
        svg = g.pipe(format="svg").decode("utf-8")
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError):
        # no `dot` executable, or it failed: the caller shows a list of the edges instead
        return None
    svg = svg[svg.find("<svg"):]
    prefix = f"g{next(_ids)}_"  # several inline SVGs in one page: keep their ids unique
    svg = re.sub(r'\bid="', f'id="{prefix}', svg)
    return re.sub(r'href="#', f'href="#{prefix}', svg)


def _edge_list(edges: Iterable[tuple[str, str]], label: dict[str, str]) -> str:
    items = "".join(f"<li>{html.escape(label.get(a, a))} &rarr; {html.escape(label.get(b, b))}</li>"
                    for a, b in sorted(edges))
    return f"<ul class='edges'>{items}</ul>" if items else "<p>(no edges)</p>"


def rule_graph(rules: list[str], edges: list[tuple[str, str]], colours: dict[str, str]) -> str:
    nodes = {r: {"label": r, "shape": "box", "style": "rounded,filled",
                 "fillcolor": colours.get(r, "#dddddd") + "55", "color": colours.get(r, "#888")}
             for r in rules}
    return _dot_svg(nodes, edges) or _edge_list(edges, {r: r for r in rules})


def lineage_graph(lin: Lineage, target: str, colours: dict[str, str]) -> str:
    nodes: dict[str, dict[str, str]] = {}
    for iri, path in lin.files.items():
        nodes[iri] = {"label": path, "shape": "note", "style": "filled",
                      "fillcolor": "#ffe08a" if iri == target else "#f4f4f4"}
    for iri, label in lin.jobs.items():
        rule = label.split(" ", 1)[0]
        nodes[iri] = {"label": label, "shape": "box", "style": "rounded,filled",
                      "fillcolor": colours.get(rule, "#dddddd") + "55"}
    labels = {**lin.files, **lin.jobs}
    return _dot_svg(nodes, lin.edges, rankdir="LR") or _edge_list(lin.edges, labels)


def timeline(jobs: list[JobRow], colours: dict[str, str], width: int = 900) -> str:
    """One bar per job from its start to its end, one lane per worker (host when no worker)."""
    if not jobs:
        return "<p>(no jobs)</p>"
    t0 = min(j.start for j in jobs)
    t1 = max(j.end for j in jobs)
    span = max((t1 - t0).total_seconds(), 1e-3)
    lanes = sorted({j.worker or j.host or "?" for j in jobs})
    label_w, lane_h, top = 190, 22, 24
    plot_w = width - label_w - 10
    height = top + lane_h * len(lanes) + 10
    x = lambda t: label_w + (t - t0).total_seconds() / span * plot_w  # noqa: E731
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' class='timeline' width='{width}' "
           f"height='{height}' viewBox='0 0 {width} {height}' role='img' "
           f"aria-label='timeline of {len(jobs)} jobs'>"]
    for i in range(6):  # axis: seconds since the first job started
        xt = label_w + plot_w * i / 5
        out.append(f"<line x1='{xt:.1f}' y1='{top - 6}' x2='{xt:.1f}' y2='{height - 8}' "
                   "stroke='#e3e3e3'/>")
        anchor = "end" if i == 5 else "middle"
        out.append(f"<text x='{xt:.1f}' y='{top - 10}' font-size='10' text-anchor='{anchor}' "
                   f"fill='#666'>{_fmt(span * i / 5)}</text>")
    for n, lane in enumerate(lanes):
        y = top + n * lane_h
        out.append(f"<text x='4' y='{y + 15}' font-size='11' fill='#333'>"
                   f"{html.escape(_short(lane))}</text>")
    for job in jobs:
        lane = lanes.index(job.worker or job.host or "?")
        y = top + lane * lane_h + 3
        xa, xb = x(job.start), x(job.end)
        w = max(xb - xa, 1.5)
        stroke = " stroke='#b00000' stroke-width='2'" if job.status == "failed" else ""
        tip = f"{job.label}: {job.seconds:.2f} s, {job.status}"
        out.append(f"<rect x='{xa:.1f}' y='{y}' width='{w:.1f}' height='{lane_h - 6}' rx='2' "
                   f"fill='{colours.get(job.rule, '#999')}'{stroke}>"
                   f"<title>{html.escape(tip)}</title></rect>")
    out.append("</svg>")
    legend = "".join(f"<span class='key'><span class='swatch' style='background:{c}'></span>"
                     f"{html.escape(r)}</span>" for r, c in colours.items())
    return "".join(out) + f"<div class='legend'>{legend}</div>"


def _fmt(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _short(lane: str) -> str:
    return lane if len(lane) <= 28 else "…" + lane[-27:]


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
