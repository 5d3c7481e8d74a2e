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
    from sciflow.dag import build_dag
    from sciflow.parse import find_workflow_file, load_workflow

    workdir = os.path.abspath(args.directory or ".")
    if not os.path.isdir(workdir):
        raise UsageError(f"-d {args.directory}: no such directory")
    snakefile = os.path.abspath(args.snakefile) if args.snakefile else None
    overrides = _key_values(args.config)
    configfiles = [os.path.abspath(f) for f in args.configfiles]  # as given, before -d
    old = os.getcwd()
    os.chdir(workdir)
    try:
        path = str(find_workflow_file(snakefile))
        if os.path.isabs(path) and path.startswith(workdir + os.sep):
            path = os.path.relpath(path)  # errors then say "Snakefile:3", not a long path
        workflow = load_workflow(path, config_overrides=overrides, configfiles=configfiles)
        dag = build_dag(workflow, args.targets)
        if args.format == "mermaid":
            text = dag.to_mermaid(args.rulegraph)
        elif args.format == "svg":
            text = dag.to_svg(args.rulegraph)
        else:
            text = dag.to_dot(args.rulegraph)
    finally:
        os.chdir(old)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _key_values(items: list[str]) -> dict[str, Any]:
    try:
        from sciflow.cli.run import parse_key_values
    except ImportError:  # pragma: no cover - run command not present
        parse_key_values = None
    if parse_key_values is not None:
        return parse_key_values(items, "--config")
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--config {item!r}: expected KEY=VALUE")
        out[key] = value
    return out
