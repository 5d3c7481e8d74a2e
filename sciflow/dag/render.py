"""Pictures of the DAG: Graphviz dot, Mermaid and SVG (job graph or rule graph).

Drawing reads the DAG only through its public graph API (``jobs``, ``dependencies``,
``workflow``), so it can change without touching the builder.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sciflow.errors import MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    from sciflow.dag.build import DAG


def to_dot(dag: "DAG", rulegraph: bool = False) -> str:
    """The job graph (or, with ``rulegraph``, the rule graph) in Graphviz dot."""
    nodes, edges = _graph(dag, rulegraph)
    colors = {name: i for i, name in enumerate(dag.workflow.rules)}
    n = max(len(colors), 1)
    lines = ["digraph sciflow_dag {", "    graph[bgcolor=white, margin=0];",
             "    node[shape=box, style=rounded, fontname=sans, fontsize=10, penwidth=2];",
             "    edge[penwidth=2, color=grey];"]
    for key, (rule, label) in nodes.items():
        hue = colors.get(rule, 0) / n
        text = label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'    {key}[label = "{text}", color = "{hue:.2f} 0.6 0.85", '
                     f'style="rounded"];')
    lines.extend(f"    {a} -> {b}" for a, b in edges)
    lines.append("}")
    return "\n".join(lines) + "\n"

def to_mermaid(dag: "DAG", rulegraph: bool = False) -> str:
    """The job graph (or rule graph) as a Mermaid flowchart."""
    nodes, edges = _graph(dag, rulegraph)
    lines = ["flowchart TB"]
    for key, (_rule, label) in nodes.items():
        text = label.replace('"', "#quot;").replace("\n", "<br/>")
        lines.append(f'    id{key}["{text}"]')
    lines.extend(f"    id{a} --> id{b}" for a, b in edges)
    return "\n".join(lines) + "\n"

def _graph(dag: "DAG", rulegraph: bool) -> tuple[dict[int, tuple[str, str]], list[tuple[int, int]]]:
    """Nodes (key -> (rule name, label)) and edges (dependency -> dependent)."""
    jobs = dag.jobs
    if rulegraph:
        keys = {}
        for job in jobs:
            keys.setdefault(job.rule.name, len(keys))
        nodes = {k: (name, name) for name, k in keys.items()}
        edges = list(dict.fromkeys((keys[d.rule.name], keys[j.rule.name])
                                   for j in jobs for d in dag.dependencies(j)))
        return nodes, edges
    nodes = {}
    for job in jobs:
        label = job.rule.name + "".join(f"\n{k}: {v}" for k, v in job.wildcards.items())
        nodes[job.jobid] = (job.rule.name, label)
    edges = [(d.jobid, j.jobid) for j in jobs for d in dag.dependencies(j)]
    return nodes, edges


def render_svg(dot_source: str) -> str:
    """SVG text for a dot graph, or a ``MissingDependencyError`` saying how to get Graphviz."""
    try:
        import graphviz
    except ImportError:
        raise MissingDependencyError(
            "drawing SVG needs the 'graphviz' Python package",
            hint="pip install graphviz (and the dot program: apt-get install graphviz)") from None
    try:
        return graphviz.Source(dot_source).pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise MissingDependencyError(
            "drawing SVG needs Graphviz's 'dot' program, which is not installed",
            hint="Install it: apt-get install graphviz (conda install graphviz, brew install "
                 "graphviz); or use --format dot / mermaid.") from None
