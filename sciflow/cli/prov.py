"""``sciflow prov``: ask the provenance store how files came to be.

    sciflow prov lineage PATH [--format table|json|dot]
    sciflow prov query NAME|FILE.rq [--param k=v ...] [--format table|csv|json]
    sciflow prov runs
    sciflow prov diff RUN1 RUN2
    sciflow prov verify [PATH ...]
    sciflow prov check                      # SHACL shapes + PROV-CONSTRAINTS ordering
    sciflow prov reproduce PATH [-o NEWDIR] [--search DIR ...]   # rebuild it, compare
    sciflow prov export --format turtle|trig|nquads|jsonld|provn|provjson|ro-crate -o OUT [--run ID]
                        [--workflow-url URL | --no-workflow-url]
    sciflow prov view ID|PATH|RUN           # one entity, activity or agent as JSON
    sciflow prov find key=value ...         # path= sha256= rule= param= user= run= after= before=
    sciflow prov render PATH -o lineage.html

Wherever a PATH is taken, a short identifier ``sf:<10 hex>`` (printed by find and view) names
one recorded version instead (sciflow/provenance/lookup.py).

Every subcommand takes ``-d DIR`` (the working directory, default: the current one).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from sciflow.errors import ProvenanceError, UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("prov", help="query, verify and export provenance",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="prov_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    def add(name: str, func, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("-d", "--directory", default=".", metavar="DIR",
                       help="working directory holding .sciflow/ (default: current directory)")
        p.set_defaults(func=func)
        return p

    p = add("lineage", cmd_lineage, "the jobs, rules, parameters and raw inputs behind a file")
    p.add_argument("path")
    p.add_argument("--format", choices=("table", "json", "dot"), default="table")

    p = add("query", cmd_query, "run a named audit query or a SPARQL .rq file")
    p.add_argument("query", metavar="NAME|FILE.rq")
    p.add_argument("--param", action="append", default=[], metavar="K=V")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")

    p = add("runs", cmd_runs, "list the recorded runs")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")

    p = add("diff", cmd_diff, "what differs between two runs (raw inputs, workflow and config "
                              "files, config values, params, code, software, inputs) and, for "
                              "each changed output, the chain of causes upstream")
    p.add_argument("run1")
    p.add_argument("run2")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")

    p = add("verify", cmd_verify, "re-hash files and compare them with their recorded provenance")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")

    add("check", cmd_check, "validate the store: SHACL shapes and PROV-CONSTRAINTS ordering")

    p = add("reproduce", cmd_reproduce, "rebuild a recorded file in a fresh directory from its "
            "provenance (archived sources, recorded config, raw inputs found by checksum) and "
            "compare it with its record")
    p.add_argument("path")
    p.add_argument("-o", "--output", dest="into", default=None, metavar="NEWDIR",
                   help="the fresh directory to rebuild in (default: a new temporary one)")
    p.add_argument("--search", action="append", default=[], metavar="DIR",
                   help="where to look for raw inputs by checksum (besides the working directory)")
    p.add_argument("-c", "--cores", type=int, default=1)
    p.add_argument("--format", choices=("table", "json"), default="table")

    p = add("export", cmd_export, "export as Turtle, TriG, N-Quads, JSON-LD, PROV-N, PROV-JSON "
                                  "or a Workflow Run RO-Crate")
    p.add_argument("--format", required=True, choices=("turtle", "trig", "nquads", "jsonld", "provn",
                                                       "provjson", "ro-crate"))
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file (a folder for ro-crate)")
    p.add_argument("--run", default=None, metavar="RUN_ID",
                   help="only this run (ro-crate: default the latest run)")
    p.add_argument("--workflow-url", default=None, metavar="URL",
                   help="ro-crate: the address the run's workflow file is published at (it "
                        "must serve the recorded bytes), the main workflow's id; default "
                        "$SCIFLOW_WORKFLOW_URL, the config key workflow_url, or the raw "
                        "GitHub/GitLab URL at HEAD when the file is committed unchanged and pushed")
    p.add_argument("--no-workflow-url", dest="workflow_url", action="store_const", const="",
                   help="ro-crate: keep the main workflow a file of the crate (no published address)")

    from sciflow.cli.prov_tools import register_tools  # view, find, render

    register_tools(add)


# ---------------------------------------------------------------------- output helpers
def _emit(table, fmt: str) -> None:
    """A query answer (a ``Table``, or a DataFrame from a module that builds one) as a
    table, CSV or JSON, without importing pandas for a ``Table``."""
    from sciflow.cli.tables import emit

    emit(table, fmt)


def store_dir(args, path: str | None = None) -> str:
    """Where the store is: ``-d`` (default the current directory); failing that, for an
    HDF5/NetCDF file named on the command line, the working directory its stamp names
    (``sciflow_workdir``): a stamped copy anywhere on this machine finds its record."""
    from sciflow.provenance.store import has_store

    directory = args.directory or "."
    if path is None or has_store(directory):
        return directory
    from sciflow import scidata

    if not (os.path.isfile(path) and scidata.is_scidata(path)):
        return directory
    try:
        recorded = scidata.read_stamp(path).get("sciflow_workdir")
    except (OSError, ValueError):  # unreadable: resolve() reports it with the store it has
        return directory
    if recorded and has_store(recorded):
        print(f"{path}: its stamp names the provenance in {recorded}", file=sys.stderr)
        return recorded
    return directory


def _open(args, path: str | None = None):
    from sciflow.provenance.query import Provenance

    return Provenance(store_dir(args, path))


# ---------------------------------------------------------------------- commands
def cmd_lineage(args) -> int:
    p = _open(args, args.path)
    lin, params, rel = _resolved_lineage(p, args.path)  # params: of the version shown
    if lin.empty:
        raise ProvenanceError(f"no recorded job generated {rel}",
                              hint="`sciflow prov verify " + rel + "` tells whether sciflow knows it at all.")
    if args.format == "json":
        from sciflow.cli.tables import dumps
        from sciflow.provenance.lookup import short_id

        cols = [*lin.columns, "id"]
        files = [dict(zip(cols, (*row, short_id(row[0])))) for row in lin.rows]
        print(dumps({"target": rel, "files": files, "params": params.records()}))
    elif args.format == "dot":
        print(lineage_dot(lin))
    else:
        print(lineage_tree(lin, params))
    return 0


def _resolved_lineage(p, path: str):
    """The lineage (and its jobs' parameters) of the version the file *is* (by checksum or
    stamp: a copy anywhere resolves), not merely the latest generated at its path; an edited
    file is not passed off as the version its stamp names (sciflow/provenance/resolve.py)."""
    from sciflow.provenance.lookup import is_short_id
    from sciflow.provenance.resolve import resolve

    if is_short_id(path) or path.startswith("urn:"):  # one recorded version, named
        from sciflow.cli.prov_tools import lineage_of

        table, params, _, rel = lineage_of(p, path)
        return table, params, rel
    res = resolve(p, path)
    if res.generated and res.entity:
        if res.how != "checksum" or res.path != p.relpath(path):
            print(f"{path}: recorded as {res.path} (found by {res.how})", file=sys.stderr)
        return (*p.lineage_with_params(res.path, entity=res.entity), res.path)
    rel = p.relpath(path)
    if res.status == "missing":
        return (*p.lineage_with_params(path), rel)
    why = "; ".join(res.notes)
    if res.status == "raw":
        raise ProvenanceError(f"no recorded job generated {rel}: it is a raw input (sha256 "
                              f"{res.sha256[:12]}…){'; ' + why if why else ''}",
                              hint="Raw data is where lineage ends; `sciflow prov verify` "
                                   "compares it with what runs used.")
    if res.status == "edited":
        raise ProvenanceError(f"{rel} is not a version sciflow generated: {why}",
                              hint="Rerun the workflow to regenerate it, or `sciflow prov "
                                   "verify` to see what changed.")
    raise ProvenanceError(f"{rel} (sha256 {res.sha256[:12]}…) is not a version the store "
                          f"knows{': ' + why if why else ''}",
                          hint="`sciflow prov verify " + rel + "` compares it with the recorded version.")


def _by_file(lin):
    return {r["file"]: r for r in lin.records()}


def _parents(row) -> list[str]:
    value = row.get("derived_from")
    return value.split() if isinstance(value, str) and value else []


def lineage_tree(lin, params) -> str:
    """An indented tree from the target down to the raw inputs, params under each job; each
    file version ends with its short identifier (``prov view``/``lineage`` take it).

    Works on the rows as tuples (a 10,000-job chain is 10,000 rows and 20,000 parameters)."""
    from sciflow.provenance.lookup import short_id

    c = {name: i for i, name in enumerate(lin.columns)}
    i_path, i_sha, i_job, i_rule, i_run, i_raw, i_from = (
        c[k] for k in ("path", "sha256", "job", "rule", "run_id", "raw", "derived_from"))
    rows = {r[c["file"]]: r for r in lin.rows}
    parents_of = {f: (r[i_from].split() if isinstance(r[i_from], str) and r[i_from] else [])
                  for f, r in rows.items()}
    pc = {name: i for i, name in enumerate(params.columns)}
    i_pjob, i_name, i_value = pc["job"], pc["name"], pc["value"]
    by_job: dict[str, set[str]] = {}
    for r in params.rows:
        by_job.setdefault(r[i_pjob], set()).add(f"{r[i_name]}={r[i_value]}")
    children = {parent for ps in parents_of.values() for parent in ps}
    roots = [f for f in rows if f not in children] or list(rows)[:1]
    lines: list[str] = []
    seen: set[str] = set()

    # iterative (a 10,000-job chain is 10,000 levels deep); indentation stops growing after
    # MAX_INDENT levels, so deep chains print in linear, not quadratic, space
    stack = [(root, "", True, True, 0) for root in reversed(roots)]
    while stack:
        file, prefix, last, top, depth = stack.pop()
        r = rows[file]
        branch = "" if top else ("└─ " if last else "├─ ")
        sha = str(r[i_sha] or "?")[:12]
        if r[i_raw]:
            what = "raw input"
        else:
            what = f"rule {r[i_rule]}, job {str(r[i_job]).rsplit(':', 1)[-1]}, run {r[i_run]}"
        lines.append(f"{prefix}{branch}{r[i_path]}  sha256:{sha}…  ({what})  {short_id(file)}")
        inner = prefix if depth >= MAX_INDENT else prefix + ("" if top else ("   " if last else "│  "))
        if file in seen:
            if parents_of[file]:
                lines.append(f"{inner}   (inputs shown above)")
            continue
        seen.add(file)
        if not r[i_raw] and by_job.get(r[i_job]):
            lines.append(f"{inner}   params: {', '.join(sorted(by_job[r[i_job]]))}")
        parents = [x for x in parents_of[file] if x in rows]
        for i in reversed(range(len(parents))):
            stack.append((parents[i], inner, i == len(parents) - 1, False, depth + 1))
    return "\n".join(lines)


MAX_INDENT = 40


def lineage_dot(lin) -> str:
    """Graphviz: files as boxes, jobs as ellipses, data flowing input → job → output."""
    rows = _by_file(lin)
    ids = {f: f"f{i}" for i, f in enumerate(rows)}
    out = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    jobs: dict[str, str] = {}
    for f, r in rows.items():
        label = f"{r['path']}\\n{str(r.get('sha256') or '')[:12]}"
        shape = "note" if r.get("raw") else "box"
        out.append(f'  {ids[f]} [shape={shape}, label="{label}"];')
        if not r.get("raw"):
            job = r["job"]
            if job not in jobs:
                jobs[job] = f"j{len(jobs)}"
                out.append(f'  {jobs[job]} [shape=ellipse, style=filled, fillcolor="#dde8f5", '
                           f'label="{r["rule"]}\\n{str(job).rsplit(":", 1)[-1]}"];')
            out.append(f"  {jobs[job]} -> {ids[f]};")
            for parent in _parents(r):
                if parent in ids:
                    out.append(f"  {ids[parent]} -> {jobs[job]};")
    out.append("}")
    return "\n".join(dict.fromkeys(out))  # drop repeated edges, keep order


def _params(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"--param expects K=V, got {item!r}")
        key, value = item.split("=", 1)
        out[key] = value
    return out


def cmd_query(args) -> int:
    p = _open(args)
    params = _params(args.param)
    if "path" in params:  # an sf: identifier names a file version: its path
        from sciflow.provenance.lookup import path_of

        params["path"] = path_of(p, params["path"])
    _emit(p.named(args.query, params), args.format)
    return 0


def cmd_runs(args) -> int:
    _emit(_open(args).named("runs"), args.format)
    return 0


def cmd_diff(args) -> int:
    p = _open(args)
    known = p.run_ids()
    for rid in (args.run1, args.run2):
        if rid not in known:
            raise UsageError(f"no run {rid!r} recorded", hint="Known runs: " + (", ".join(known) or "none"))
    from sciflow.provenance.diff import as_table, diff

    _emit(as_table(diff(p, args.run1, args.run2)), args.format)
    return 0


def cmd_verify(args) -> int:
    from sciflow.provenance.lookup import is_short_id, path_of
    from sciflow.provenance.verify import as_frame, verify

    paths = args.paths
    if any(is_short_id(x) for x in paths):  # sf: identifiers name recorded versions: their paths
        p = _open(args)
        paths = [path_of(p, x) for x in paths]
    verdicts = verify(store_dir(args, paths[0] if len(paths) == 1 else None), paths)
    _emit(as_frame(verdicts), args.format)
    bad = [v for v in verdicts if not v.ok]
    if args.format == "table":
        print(f"{len(verdicts) - len(bad)} ok, {len(bad)} not matching their provenance", file=sys.stderr)
    return 1 if bad else 0


def cmd_check(args) -> int:
    from sciflow.provenance.shapes import validate

    p = _open(args)
    failed = 0
    for report in validate(p):
        print(f"run {report.run_id}: SHACL {'conforms' if report.conforms else 'DOES NOT conform'}")
        if not report.conforms:
            failed += 1
            print(report.text)
    from sciflow.provenance.checks import check_queries, violations

    found = violations(p)
    for name in check_queries():  # "ordering: 0 violation(s)", "versions: ..."
        n = int((found["check"] == name).sum())
        print(f"{name.removeprefix('check-').removesuffix('-check')}: {n} violation(s)")
    if not found.empty:
        failed += 1
        _emit(found, "table")
    return 1 if failed else 0


def cmd_reproduce(args) -> int:
    from dataclasses import asdict

    from sciflow.provenance.reproduce import reproduce

    r = reproduce(store_dir(args, args.path), args.path, directory=args.into, search=args.search,
                  cores=args.cores)
    if args.format == "json":
        print(json.dumps({"target": r.target, "run_id": r.run_id, "directory": str(r.directory),
                          "exit_code": r.exit_code, "ok": r.ok, "inputs": r.inputs,
                          "compared": [asdict(c) for c in r.compared]}, indent=1))
    else:
        print(f"rebuilt {r.target} (run {r.run_id}) in {r.directory}")
        for rel, src in sorted(r.inputs.items()):
            print(f"  raw input {rel}  <- {src}")
        if r.exit_code:
            print(f"  the rebuild failed (exit {r.exit_code}):\n{r.log}")
        for c in r.compared:
            mark = "*" if c.target else " "
            print(f" {mark}{c.status:<18} {c.path}")
        verdict = "REPRODUCED" if r.ok else "NOT reproduced"
        print(f"{verdict}: {r.target} is "
              f"{next((c.status for c in r.compared if c.target), 'missing')}")
    return 0 if r.ok else 1


def cmd_export(args) -> int:
    from sciflow.provenance.serialize import export

    try:
        out = export(args.directory, args.format, args.output, run_id=args.run,
                     workflow_url=args.workflow_url)
    except OSError as exc:  # the output path: missing folder, no permission, a directory...
        where = exc.filename or args.output
        raise ProvenanceError(f"cannot write the export to {where}: "
                              f"{exc.strerror or exc}",
                              hint="Choose an output path in a writable, existing folder "
                              "(-o PATH).") from None
    print(f"wrote {out}", file=sys.stderr)
    if args.format == "ro-crate":  # say which address the crate gives the workflow, if any
        graph = json.loads((out / "ro-crate-metadata.json").read_text(encoding="utf-8"))["@graph"]
        main = next((e.get("mainEntity", {}).get("@id") for e in graph if e.get("@id") == "./"), None)
        if main and main.startswith(("http://", "https://")):
            print(f"main workflow: {main}", file=sys.stderr)
    return 0
