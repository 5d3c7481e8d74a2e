"""The ``sciflow`` command line: one module per command, each with ``register(subparsers)``.

Every ``SciflowError`` is printed as ``FILE:LINE:COL: message`` (with the source line and a
caret) and turned into the exit status: 0 success, 1 workflow or job error, 2 bad usage.
No traceback reaches the user for errors sciflow raises on purpose.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from sciflow import __version__
from sciflow.cli.parser import SuggestingParser
from sciflow.errors import SciflowError

# Each name is a module sciflow.cli.<name> defining register(subparsers) -> None; the
# subcommand's parser must set_defaults(func=callable(args) -> int).
COMMANDS = ("lint", "rules", "run", "dag", "prov", "report")


def add_workflow_arguments(parser: argparse.ArgumentParser, *, targets: bool = True) -> None:
    """The arguments every workflow command shares: TARGET…, ``-s FILE`` and ``-d DIR``."""
    if targets:
        parser.add_argument("targets", nargs="*", metavar="TARGET",
                            help="files or rule names to make")
    parser.add_argument("-s", "--snakefile", metavar="FILE", help="the workflow file (default: "
                        "Sciflowfile, Snakefile or workflow/Snakefile in DIR)")
    parser.add_argument("-d", "--directory", metavar="DIR", help="working directory (default: .)")


def build_parser() -> argparse.ArgumentParser:
    parser = SuggestingParser(prog="sciflow", description="sciflow: a scientific workflow manager with provenance.")
    parser.add_argument("--version", action="version", version=f"sciflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"sciflow.cli.{name}")
        except ModuleNotFoundError as exc:  # a command not written yet
            if exc.name != f"sciflow.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SciflowError as err:
        print(err.format(), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run_main() -> None:  # pragma: no cover - console entry point wrapper
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run_main()
