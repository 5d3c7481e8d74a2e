"""``sciflow lint [-s FILE]``: check a workflow file and report every problem as FILE:LINE:COL."""
from __future__ import annotations

import argparse
import os
import sys

from sciflow.layout import find_workflow_file


def check_workflow(path):  # the parser (~70 ms) is imported only when linting
    from sciflow.parse import check_workflow as check

    return check(path)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("lint", help="check a workflow file for problems",
                              description="Parse and load the workflow; print each problem "
                                          "with its file:line:col. Exit 1 if there is any.")
    p.add_argument("-s", "--snakefile", metavar="FILE", default=None,
                   help="workflow file (default: Sciflowfile, Snakefile or workflow/Snakefile)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = find_workflow_file(args.snakefile)
    workflow, problems = check_workflow(path)
    if workflow is not None:  # outputs that would write or delete outside the workdir
        from sciflow.confine import lint_workflow

        problems = lint_workflow(workflow, workflow.workdir or os.getcwd())
        if problems:
            workflow = None
    if workflow is None:
        for problem in problems:
            print(problem.format(), file=sys.stderr)
            print(file=sys.stderr)
        n = len(problems)
        print(f"{path}: {n} problem{'s' if n != 1 else ''}", file=sys.stderr)
        return 1
    n = len(workflow.rules)
    print(f"{path}: {n} rule{'s' if n != 1 else ''}, 0 problems")
    return 0
