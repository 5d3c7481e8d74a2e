"""``sciflow report -o report.html [-d DIR] [--run RUN_ID]``: an HTML report of a run, from
its recorded provenance."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="write an HTML report of a run (from its provenance)")
    p.add_argument("-o", "--output", default="report.html", help="the HTML file to write")
    p.add_argument("-d", "--directory", default=".", help="the workflow's working directory")
    p.add_argument("--run", dest="run_id", help="the run to report (default: the latest)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from sciflow.report import build_report

    out = Path(args.output)
    text = build_report(args.directory, args.run_id, output=out)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)  # never a half-written report
    print(f"wrote {out}", file=sys.stderr)
    return 0
