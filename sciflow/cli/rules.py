"""``sciflow rules [-s FILE]``: list each rule with its file:line, inputs and outputs."""
from __future__ import annotations

import argparse

from sciflow.layout import find_workflow_file


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("rules", help="list the rules of a workflow",
                              description="Each rule with where it is defined, its inputs and "
                                          "its outputs.")
    p.add_argument("-s", "--snakefile", metavar="FILE", default=None,
                   help="workflow file (default: Sciflowfile, Snakefile or workflow/Snakefile)")
    p.set_defaults(func=run)


def _describe(items) -> str:
    names = {}
    for name, value in items.items():
        for v in value if isinstance(value, list) else [value]:
            names[id(v)] = name
    out = []
    for v in items:
        shown = _show(v)
        name = names.get(id(v))
        out.append(f"{name}={shown}" if name else str(shown))
    return ", ".join(out) if out else "-"


def _show(value) -> str:
    """A pattern as written; input functions by name (``unpack(f)``, ``ancient(f)``)."""
    if isinstance(value, str):
        return value
    from sciflow.model import FlaggedFunction, Unpack

    if isinstance(value, Unpack):
        return f"unpack({_show(value.func)})"
    if isinstance(value, FlaggedFunction):
        return f"{value.flag_name}({_show(value.func)})"
    return f"<function {getattr(value, '__name__', type(value).__name__)}>"


def run(args: argparse.Namespace) -> int:
    from sciflow.parse import load_workflow  # imported by the command that needs it

    workflow = load_workflow(find_workflow_file(args.snakefile))
    for rule in workflow:
        kind = "checkpoint" if rule.checkpoint else "rule"
        print(f"{kind} {rule.name}  ({rule.loc})")
        print(f"    input:  {_describe(rule.input)}")
        print(f"    output: {_describe(rule.output)}")
    return 0
