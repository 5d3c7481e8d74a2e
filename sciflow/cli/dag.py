"""``sciflow dag``: print the job graph (or the rule graph) as dot, Mermaid or SVG.

    sciflow dag | dot -Tpdf > dag.pdf
    sciflow dag --rulegraph --format mermaid
    sciflow dag --format svg results/a.txt > dag.svg
"""
from __future__ import annotations

import os
import sys
from typing import Any

from sciflow.cli import add_workflow_arguments
from sciflow.errors import UsageError

FORMATS = ("dot", "mermaid", "svg")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("dag", help="print the job graph (dot, mermaid or svg)",
                              description="Print the graph of the jobs needed to make TARGETs "
                                          "(default: the workflow's default target rule).")
    add_workflow_arguments(p)
    p.add_argument("--rulegraph", action="store_true",
                   help="one node per rule instead of one per job")
    p.add_argument("--format", choices=FORMATS, default="dot", help="output format (default: dot)")
    p.add_argument("--config", "-C", nargs="+", default=[], metavar="KEY=VALUE",
                   help="set or override config values")
    p.add_argument("--configfile", "--configfiles", nargs="+", default=[], metavar="FILE",
                   dest="configfiles", help="config files (YAML/JSON), applied after configfile:")
    p.set_defaults(func=main)


def main(args: Any) -> int:
    text = render_graph(args.snakefile, args.directory, args.targets, _key_values(args.config),
                        args.configfiles, rulegraph=args.rulegraph, fmt=args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def render_graph(snakefile: str | None, directory: str | None, targets: list[str],
                 overrides: dict[str, Any], configfiles: list[str], *, rulegraph: bool = False,
                 fmt: str = "dot") -> str:
    """The job graph (or rule graph) as dot, Mermaid or SVG text; shared by ``sciflow dag``
    and ``sciflow run --dag/--rulegraph``, so both print the same."""
    from sciflow.dag import build_dag
    from sciflow.layout import find_workflow_file, in_directory
    from sciflow.parse import load_workflow

    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    workdir = os.path.abspath(directory or ".")
    if not os.path.isdir(workdir):
        raise UsageError(f"-d {directory}: no such directory")
    snakefile = os.path.abspath(snakefile) if snakefile else None
    configfiles = [os.path.abspath(f) for f in configfiles]  # as given, before -d
    with in_directory(workdir):
        path = str(find_workflow_file(snakefile))
        if os.path.isabs(path) and path.startswith(workdir + os.sep):
            path = os.path.relpath(path)  # errors then say "Snakefile:3", not a long path
        workflow = load_workflow(path, config_overrides=overrides, configfiles=configfiles)
        dag = build_dag(workflow, targets)
        if fmt == "mermaid":
            return dag.to_mermaid(rulegraph)
        if fmt == "svg":
            return dag.to_svg(rulegraph)
        return dag.to_dot(rulegraph)


def _key_values(items: list[str]) -> dict[str, Any]:
    from sciflow.cli.run import parse_key_values  # one --config parser (values read as YAML)

    return parse_key_values(items, "--config")
