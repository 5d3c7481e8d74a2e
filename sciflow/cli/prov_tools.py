"""``sciflow prov view | find | render``: single records, searches and a lineage page.

    sciflow prov view ID|PATH|RUN            # one entity, activity or agent as JSON
    sciflow prov find key=value …            # path=GLOB sha256=PREFIX rule= param=N[=V] user=
                                             # run= after=ISO before=ISO kind=file|job
    sciflow prov render PATH|ID -o lineage.html

IDs are the short identifiers ``sf:<10 hex>`` that ``find`` and ``view`` print (see
sciflow/provenance/lookup.py); every ``sciflow prov`` command that takes a path takes one.
Registered by sciflow/cli/prov.py; kept apart so the two files change independently.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

from sciflow.errors import ProvenanceError, UsageError


def register_tools(add: Callable[..., Any]) -> None:
    """Adds the subcommands through ``add(name, func, help)`` of ``sciflow.cli.prov``."""
    p = add("view", cmd_view, "one entity, activity or agent as JSON (an sf: id, IRI, path or run id)")
    p.add_argument("ref", metavar="ID|PATH|RUN")

    p = add("find", cmd_find, "file versions or jobs matching key=value criteria (all must hold)")
    p.add_argument("criteria", nargs="+", metavar="KEY=VALUE",
                   help="path=GLOB sha256=PREFIX rule=NAME param=NAME[=VALUE] user=LOGIN run=ID "
                        "after=ISO before=ISO kind=file|job")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")

    p = add("render", cmd_render, "the lineage of a file as a self-contained interactive HTML page")
    p.add_argument("path", metavar="PATH|ID")
    p.add_argument("-o", "--output", default="lineage.html", metavar="FILE.html")


def _open(args, path: str | None = None):
    from sciflow.cli.prov import store_dir
    from sciflow.provenance.query import Provenance

    return Provenance(store_dir(args, path))


def cmd_view(args) -> int:
    from sciflow.cli.tables import json_value
    from sciflow.provenance.lookup import describe, resolve

    p = _open(args, args.ref)
    print(json.dumps(describe(p, resolve(p, args.ref)), indent=1, default=json_value))
    return 0


def cmd_find(args) -> int:
    from sciflow.cli.tables import emit
    from sciflow.provenance.lookup import find, parse_criteria

    emit(find(_open(args), parse_criteria(args.criteria)), args.format)
    return 0


def lineage_of(p, ref: str):
    """(lineage table, its parameters, target IRI, path) of a path, or of the version an sf:
    id or IRI names (``Provenance.lineage_with_params``)."""
    from sciflow.provenance.lookup import is_short_id, resolve, version_on_disk

    named = is_short_id(ref) or ref.startswith("urn:")
    iri = resolve(p, ref) if named else version_on_disk(p, ref)  # a file: the version it is
    if iri:
        table, params = p.lineage_with_params("", entity=iri)
        if table.empty:
            raise ProvenanceError(f"{ref} ({iri}) is not a file version")
        row = next(r for r in table.records() if r["file"] == iri)
        return table, params, iri, row["path"]
    table, params = p.lineage_with_params(ref)
    target = next((r["file"] for r in table.records() if r["path"] == p.relpath(ref)), None)
    return table, params, target, p.relpath(ref)


def cmd_render(args) -> int:
    from sciflow.provenance.render import graph_of, render_html

    p = _open(args, args.path)
    table, params, target, rel = lineage_of(p, args.path)
    if table.empty:
        raise ProvenanceError(f"no recorded job generated {rel}")
    page = render_html(graph_of(table, params), target, f"lineage of {rel}")
    out = Path(args.output)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote {out} ({len(table)} file versions)", file=sys.stderr)
    return 0

