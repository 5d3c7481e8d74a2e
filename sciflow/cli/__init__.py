"""The ``sciflow`` command line: one module per command, each with ``register(subparsers)``.

Every ``SciflowError`` is printed as ``FILE:LINE:COL: message`` (with the source line and a
caret) and turned into the exit status: 0 success, 1 workflow or job error, 2 bad usage.
No traceback reaches the user for errors sciflow raises on purpose, and none for anything else
either: an unexpected exception is a sciflow bug, reported as one (its type, where to report
it; exit status 3) — the traceback is shown with ``sciflow --debug`` or ``SCIFLOW_DEBUG=1``.
A closed output pipe (``sciflow prov query … | head -1``) ends the command quietly.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import Sequence

from sciflow import __version__
from sciflow.cli.parser import SuggestingParser
from sciflow.errors import SciflowError

# Each name is a module sciflow.cli.<name> defining register(subparsers) -> None; the
# subcommand's parser must set_defaults(func=callable(args) -> int).
COMMANDS = ("lint", "rules", "run", "dag", "prov", "report")
BUG_EXIT = 3  # an unexpected exception: a bug in sciflow (1: workflow/job error, 2: usage)
REPORT_BUGS_TO = "the sciflow issue tracker"


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
    parser.add_argument("--debug", action="store_true", dest="sciflow_debug",
                        help="show the traceback of an unexpected error (also SCIFLOW_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:  # every command is part of sciflow: a failing import is a bug
        importlib.import_module(f"sciflow.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except SciflowError as err:
        print(err.format(), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        _silence_stdout()
        return 141
    except Exception as exc:  # noqa: BLE001 - the one place that catches everything
        if _debug(argv):
            raise
        print(bug_report(exc), file=sys.stderr)
        return BUG_EXIT


def bug_report(exc: BaseException) -> str:
    """What a user sees for an exception sciflow did not raise on purpose: what happened (the
    type and message, cut short), that it is sciflow's fault, and what to send where."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    if len(text) > 200:
        text = text[:200] + "…"
    where = ""
    tb = traceback.extract_tb(exc.__traceback__)
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ours = [f for f in tb if os.path.abspath(f.filename).startswith(package + os.sep)]
    if ours or tb:  # the innermost frame in sciflow's own code says most
        frame = (ours or tb)[-1]
        rel = os.path.relpath(os.path.abspath(frame.filename), os.path.dirname(package))
        where = f" (in {rel if ours else os.path.basename(frame.filename)}:{frame.lineno}, " \
                f"{frame.name})"
    return (f"sciflow: internal error: {type(exc).__name__}: {text}{where}\n"
            "This is a bug in sciflow, not a problem with your workflow. Please report it to "
            f"{REPORT_BUGS_TO} with the command you ran and the traceback printed by "
            "`sciflow --debug …` (or SCIFLOW_DEBUG=1).")


def _debug(argv: Sequence[str]) -> bool:
    if os.environ.get("SCIFLOW_DEBUG", "").strip().lower() not in ("", "0", "false", "no"):
        return True
    return "--debug" in argv


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def run_main() -> None:  # pragma: no cover - console entry point wrapper
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        code = code or 141
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run_main()
