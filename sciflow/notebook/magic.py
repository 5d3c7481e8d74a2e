"""``%load_ext sciflow`` and the ``%%sciflow`` cell magic: rules written in a notebook cell.

    %%sciflow climate --run -c 2
    rule plot:
        input: "results/summary.csv"
        output: "results/anomaly.png"
        run:
            plot_anomalies(input[0], output[0])      # defined in an earlier cell

The cell becomes ``Workflow.from_text(cell, name="climate")``: the file ``climate.smk`` in the
working directory (``-d DIR``, default the kernel's current directory), bound to the notebook
variable ``climate``, and shown (its rules table), or with ``--run`` run at once (live
progress) and the ``Run`` shown. The notebook's names are visible to the rules. Line numbers
in errors are the cell's own (the file's line 1 stands for the ``%%sciflow`` line), and
sciflow's errors are shown as the command line shows them, with no Python traceback.
"""
from __future__ import annotations

import argparse
import os
import shlex
from typing import Any

_cells: dict[str, str] = {}  # absolute path of a workflow file written from a cell -> its name


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # an exception, not SystemExit, in a kernel
        from sciflow.errors import UsageError

        raise UsageError(f"%%sciflow: {message}", hint=self.format_usage().strip())


def _parser() -> argparse.ArgumentParser:
    p = _ArgumentParser(prog="%%sciflow", add_help=False,
                        description="Define a workflow in this cell (and run it).")
    p.add_argument("name", nargs="?", default="workflow",
                   help="notebook variable and file name (<name>.smk); default: workflow")
    p.add_argument("--run", action="store_true", help="run it now")
    p.add_argument("-c", "--cores", type=int, default=None, help="cores for --run")
    p.add_argument("-d", "--directory", default=None, help="working directory (default: .)")
    p.add_argument("-p", "--printshellcmds", action="store_true", help="show commands as jobs start")
    p.add_argument("-F", "--forceall", action="store_true", help="--run: run every job")
    p.add_argument("targets", nargs="*", default=[], help="targets for --run")
    return p


def sciflow_cell(line: str, cell: str, shell: Any = None) -> Any:
    """The body of ``%%sciflow``: returns the ``Workflow`` (or, with ``--run``, the ``Run``)."""
    from sciflow.api import Workflow

    args = _parser().parse_args(shlex.split(line))
    if not args.name.isidentifier():
        from sciflow.errors import UsageError

        raise UsageError(f"%%sciflow {args.name}: the name must be a Python identifier "
                         "(it becomes a notebook variable)")
    namespace = shell.user_ns if shell is not None else None
    wf = Workflow.from_text(cell, args.directory or os.getcwd(), name=args.name,
                            namespace=namespace, first_line=2)
    _cells[os.path.abspath(str(wf.snakefile))] = args.name
    if namespace is not None:
        namespace[args.name] = wf
    wf.load()  # a broken cell fails here, at its own line
    if not args.run:
        return wf.rules
    return wf.run(args.targets, cores=args.cores, printshellcmds=args.printshellcmds,
                  forceall=args.forceall)


def cell_location(loc: Any) -> str:
    """``loc`` as the notebook user knows it: "line 5 of cell %%sciflow climate" for a
    workflow written in a cell, else ``FILE:LINE:COL``."""
    name = _cells.get(os.path.abspath(loc.path)) if loc is not None and loc.path else None
    if name is None:
        return str(loc)
    return f"line {loc.line} of cell %%sciflow {name} ({os.path.basename(loc.path)}:{loc.line})"


def format_error(err: Any) -> str:
    """A sciflow error as the command line prints it; in a cell's workflow, its location as
    the cell's line ("line 5 of cell 'climate'")."""
    text = err.format() if hasattr(err, "format") else str(err)
    loc = getattr(err, "loc", None)
    name = _cells.get(os.path.abspath(loc.path)) if loc is not None and loc.path else None
    if name is not None:
        text = f"line {loc.line} of cell %%sciflow {name}: " + text
    return f"{type(err).__name__}: {text}"


def _show_sciflow_error(shell: Any, etype: type, value: BaseException, tb: Any,
                        tb_offset: int | None = None) -> list[str]:
    """IPython's handler for ``SciflowError``: the user-facing message, no traceback."""
    stb = format_error(value).splitlines()
    shell._showtraceback(etype, value, stb)
    return stb


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%sciflow`` and show sciflow's errors without Python tracebacks."""
    from sciflow.errors import SciflowError

    def magic(line: str, cell: str) -> Any:
        return sciflow_cell(line, cell, ipython)

    magic.__doc__ = _parser().format_help()
    ipython.register_magic_function(magic, magic_kind="cell", magic_name="sciflow")
    ipython.set_custom_exc((SciflowError,), _show_sciflow_error)
