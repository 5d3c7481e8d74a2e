"""``sciflow run -S/-D`` and ``--list-changes``: Snakemake's views of the recorded metadata.

``-S/--summary`` prints one tab-separated line per output file of the DAG, with Snakemake 9's
columns: ``output_file date rule log-file(s) status plan``; ``-D/--detailed-summary`` adds
``input-file(s)`` and ``shellcmd`` after the log files. Files come in Snakemake's order: jobs
breadth-first from the targets. ``status`` is ``ok``, ``missing``, ``removed temp file``,
``updated input files``, ``rule implementation changed``, ``set of input files changed`` or
``params changed``; ``plan`` is ``update pending`` when the job would run, else ``no update``.
Input files come from the metadata of the run that made the file and the shell command from
its provenance (the command as it ran, threads and resources included); without provenance
(``--no-provenance``) the job's current command is shown. Log files are the job's current
ones. As in Snakemake, files without metadata show ``-``.

``--list-changes {params,code,input}`` prints the output files whose recorded params, code or
input set differ from the workflow's current ones, one per line.
"""
from __future__ import annotations

import os
import time
from collections import deque
from typing import Any, Iterator

from sciflow import layout
from sciflow.errors import ProvenanceError
from sciflow.jobs import Job, ReasonKind
from sciflow.metadata import MetadataStore, fingerprint

CHANGE_KINDS = ("code", "input", "params")


def bfs_jobs(dag: Any) -> list[Job]:
    """Jobs breadth-first from the targets over dependencies (Snakemake's ``dag.jobs``)."""
    seen: set[int] = set()
    order: list[Job] = []
    queue = deque(getattr(dag, "targets", ()) or ())
    while queue:
        job = queue.popleft()
        if id(job) in seen:
            continue
        seen.add(id(job))
        order.append(job)
        queue.extend(dag.dependencies(job))
    for job in dag.jobs:  # anything not reachable from a target (should not happen)
        if id(job) not in seen:
            order.append(job)
    return order


class _Changes:
    """Compares each output's metadata record with its job's current fingerprint."""

    def __init__(self, dag: Any, workdir: str) -> None:
        self.workdir = workdir
        path = getattr(dag.workflow, "path", "") or ""
        self.workflow_dir = os.path.join(workdir, os.path.dirname(path))
        store = MetadataStore(workdir)
        try:
            self.records = store.load()
        finally:
            store.close()
        self._code: dict[str, str] = {}
        self._fps: dict[int, Any] = {}

    def _fp(self, job: Job) -> Any:
        fp = self._fps.get(id(job))
        if fp is None:
            fp = self._fps[id(job)] = fingerprint(job, self.workflow_dir, self._code)
        return fp

    def changed(self, job: Job, path: str, kind: str) -> bool:
        rec = self.records.get(path)
        if rec is None:
            return False
        fp = self._fp(job)
        if kind == "code":
            return rec.code_hash != fp.code_hash
        if kind == "input":
            return rec.inputs != fp.inputs
        return rec.params_hash != fp.params_hash


def list_changes(plan: Any, workdir: str, kind: str) -> list[str]:
    """Output files whose ``kind`` (params, code, input) changed since they were made."""
    changes = _Changes(plan.dag, workdir)
    return [str(o) for job in bfs_jobs(plan.dag) for o in job.output
            if changes.changed(job, str(o), kind)]


_COMMANDS = """
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX sf: <https://w3id.org/sciflow/ns#>
SELECT ?path ?cmd ?t WHERE {
  ?e sf:path ?path ; prov:wasGeneratedBy ?a ; prov:qualifiedGeneration/prov:atTime ?t .
  ?a sf:command ?cmd .
}"""


def recorded_commands(workdir: str) -> dict[str, str]:
    """Output path → the command of the job that made its latest version (from provenance)."""
    if not os.path.isdir(layout.prov_store(workdir)):
        return {}
    try:
        from sciflow.provenance.query import open as open_provenance

        table = open_provenance(workdir).query(_COMMANDS)
    except ProvenanceError:  # a store that cannot be opened or read now: no commands shown
        return {}
    latest: dict[str, tuple[Any, str]] = {}
    for path, cmd, t in table.itertuples(index=False):
        if path not in latest or str(t) > str(latest[path][0]):
            latest[str(path)] = (t, str(cmd))
    return {p: c for p, (_t, c) in latest.items()}


def _shellcmd(job: Job, workflow: Any) -> str:
    action = job.rule.action
    if action is None or getattr(action.kind, "value", action.kind) != "shell":
        return "-"
    from sciflow.execute.spec import format_shell, namespace

    try:
        text = format_shell(action.source, namespace(job, workflow), action.loc or job.rule.loc,
                            job.rule.name)
    except Exception:  # the command cannot be formatted now: show the rule's text
        text = action.source
    return text.strip().replace("\n", "; ")


def summary_lines(plan: Any, workdir: str, detailed: bool = False) -> Iterator[str]:
    """The lines of Snakemake's ``--summary`` (``--detailed-summary``) table."""
    dag = plan.dag
    workflow = dag.workflow
    pending = {id(j) for j in plan.jobs}
    changes = _Changes(dag, workdir)
    commands = recorded_commands(workdir) if detailed else {}
    if detailed:
        yield "output_file\tdate\trule\tlog-file(s)\tinput-file(s)\tshellcmd\tstatus\tplan"
    else:
        yield "output_file\tdate\trule\tlog-file(s)\tstatus\tplan"
    for job in bfs_jobs(dag):
        plan_text = "update pending" if id(job) in pending else "no update"
        updated_input = any(r.kind is ReasonKind.UPDATED_INPUT for r in job.reasons or ())
        for out in job.output:
            path = str(out)
            full = os.path.join(workdir, path)
            exists = os.path.lexists(full)
            try:
                date = time.ctime(os.stat(full).st_mtime) if exists else "-"
            except OSError:
                date = "-"
            rec = changes.records.get(path)
            log = ",".join(map(str, job.log)) if rec is not None else "-"
            if not exists:
                status = "removed temp file" if "temp" in getattr(out, "flags", ()) else "missing"
            elif id(job) in pending and updated_input:
                status = "updated input files"
            elif changes.changed(job, path, "code"):
                status = "rule implementation changed"
            elif changes.changed(job, path, "input"):
                status = "set of input files changed"
            elif changes.changed(job, path, "params"):
                status = "params changed"
            else:
                status = "ok"
            if detailed:
                inputs = ",".join(rec.inputs) if rec is not None else "-"
                shellcmd = "-"
                if rec is not None:
                    shellcmd = commands.get(path, "").strip().replace("\n", "; ") or \
                        _shellcmd(job, workflow)
                yield "\t".join((path, date, job.rule.name, log, inputs, shellcmd, status,
                                 plan_text))
            else:
                yield "\t".join((path, date, job.rule.name, log, status, plan_text))
