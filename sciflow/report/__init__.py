"""``sciflow report``: a self-contained HTML report of a run, read back from its provenance.

The report is built from what was *recorded* (the PROV-O graph), not from the engine's memory
or the workflow file, so it can be made at any time after a run, on any machine that has the
``.sciflow/`` folder: ``data`` asks the store (SPARQL) for the run, its jobs (each once), rule
statistics, configuration, parameters, software, the rule graph, each final output with its
lineage and checksum, failed jobs with their log tails and the ``report()``-flagged results;
``graphs`` draws the timeline and the graphs as SVG; ``html`` writes one page that needs no
network.
"""
from __future__ import annotations

from pathlib import Path

from sciflow.report.data import ReportData, load
from sciflow.report.html import render

__all__ = ["build_report", "load", "render", "ReportData"]


def build_report(workdir: str | Path = ".", run_id: str | None = None,
                 output: str | Path | None = None) -> str:
    """The HTML text of the report for ``run_id`` (default: the latest run in ``workdir``);
    ``output`` is where it will be written (links to files are made relative to it)."""
    return render(load(workdir, run_id), output)
