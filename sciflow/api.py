"""The notebook-facing API: a workflow you can look at, plan, run and question from Python.

    >>> from sciflow import Workflow                   # doctest: +SKIP
    >>> wf = Workflow("workflows/climate")             # a directory or a Snakefile
    >>> wf.rules                                       # a table of rules with file:line
    >>> wf.dag()                                       # drawn as SVG in Jupyter
    >>> wf.plan()                                      # which jobs would run, and why
    >>> run = wf.run(cores=2)                          # runs on the local Dask cluster
    >>> wf.provenance().lineage("results/report.txt")  # pandas DataFrame

Everything goes through the same entry points as the command line (``sciflow.engine.run``,
``sciflow.dag.build_dag``), so a notebook sees exactly what ``sciflow run`` would do. Objects
display themselves (``_repr_html_``, ``_repr_svg_``, ``_repr_mimebundle_``) instead of
writing files; the HTML is well-formed XML so it embeds anywhere.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from sciflow.engine import RunSummary
    from sciflow.jobs import Job
    from sciflow.notebook.logs import JobLog

__all__ = ["Workflow", "Rules", "DagView", "PlanView", "Run"]

_STYLE = "border-collapse:collapse;font-family:sans-serif;font-size:12px"
_CELL = "border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], caption: str = "") -> str:
    """A small, well-formed (XML-parseable) HTML table; every cell is escaped."""
    out = [f'<table style="{_STYLE}">']
    if caption:
        out.append(f"<caption style=\"text-align:left\">{escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f'<th style="{_CELL}">{escape(str(h))}</th>'
                                         for h in header) + "</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f'<td style="{_CELL}">{escape(str(c))}</td>' for c in row)
                   + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _files(items: Iterable[Any], limit: int = 4) -> str:
    items = [str(i) if not callable(i) else f"<function {getattr(i, '__name__', 'input')}>"
             for i in items]
    more = f" … (+{len(items) - limit})" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


# ----------------------------------------------------------------------------- rules
class Rules(dict):
    """The workflow's rules by name (``Rule`` objects), shown as a table in notebooks."""

    def __repr__(self) -> str:
        return f"<{len(self)} rules: " + ", ".join(self) + ">"

    def to_frame(self) -> "pd.DataFrame":
        import pandas as pd

        return pd.DataFrame([{"rule": r.name, "location": str(r.loc),
                              "action": r.action.kind if r.action else "",
                              "input": _files(r.input), "output": _files(r.output)}
                             for r in self.values()])

    def _repr_html_(self) -> str:
        return _table(["rule", "location", "action", "input", "output"],
                      [[r.name + (" (checkpoint)" if r.checkpoint else ""), str(r.loc),
                        r.action.kind if r.action else "", _files(r.input), _files(r.output)]
                       for r in self.values()], caption=f"{len(self)} rules")


# ----------------------------------------------------------------------------- the DAG
class DagView:
    """A job DAG (or rule graph) that draws itself: SVG through Graphviz when ``dot`` is
    installed, else the Mermaid/dot source as text."""

    def __init__(self, dag: Any, rulegraph: bool = False) -> None:
        self.dag = dag
        self.rulegraph = rulegraph

    @property
    def jobs(self) -> list["Job"]:
        return self.dag.jobs

    def to_dot(self) -> str:
        return self.dag.to_dot(rulegraph=self.rulegraph)

    def to_mermaid(self) -> str:
        return self.dag.to_mermaid(rulegraph=self.rulegraph)

    def to_svg(self) -> str:
        """SVG text; raises ``MissingDependencyError`` (with how to install) without Graphviz."""
        return self.dag.to_svg(rulegraph=self.rulegraph)

    def _svg_or_none(self) -> str | None:
        from sciflow.errors import SciflowError

        try:
            return self.to_svg()
        except SciflowError:
            return None

    def _repr_svg_(self) -> str | None:
        return self._svg_or_none()

    def _repr_html_(self) -> str:
        svg = self._svg_or_none()
        if svg is not None:
            body = svg[svg.index("<svg"):]  # drop the XML prolog and doctype for embedding
        else:
            body = ("<pre>" + escape(self.to_mermaid()) + "</pre><p>Install Graphviz "
                    "(apt-get install graphviz) to see this graph drawn.</p>")
        return f"<div>{body}</div>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        bundle = {"text/plain": repr(self), "text/vnd.mermaid": self.to_mermaid()}
        svg = self._svg_or_none()
        if svg is not None:
            bundle["image/svg+xml"] = svg
        return bundle

    def __repr__(self) -> str:
        kind = "rule graph" if self.rulegraph else "DAG"
        return f"<{kind}: {len(self.jobs)} jobs>"


# ----------------------------------------------------------------------------- the plan
@dataclass
class PlanView:
    """What a run would do: the jobs, each with the reason it must run."""

    summary: "RunSummary"

    @property
    def jobs(self) -> list["Job"]:
        return self.summary.jobs

    def counts(self) -> dict[str, int]:
        return self.summary.plan.counts_by_rule() if self.summary.plan else {}

    def to_frame(self) -> "pd.DataFrame":
        import pandas as pd

        return pd.DataFrame([{"id": j.jobid, "rule": j.rule.name,
                              "wildcards": ", ".join(f"{k}={v}" for k, v in j.wildcards.items()),
                              "outputs": _files(j.output), "reason": j.reason_text}
                             for j in self.jobs],
                            columns=["id", "rule", "wildcards", "outputs", "reason"])

    def to_json(self) -> dict[str, Any]:
        return self.summary.plan.to_json() if self.summary.plan else {"jobs": []}

    def __len__(self) -> int:
        return len(self.jobs)

    def _repr_html_(self) -> str:
        if not self.jobs:
            return "<p>Nothing to be done: every output is up to date.</p>"
        counts = _table(["rule", "jobs"], [*self.counts().items(), ("total", len(self.jobs))])
        jobs = _table(["id", "rule", "wildcards", "outputs", "reason"],
                      self.to_frame().itertuples(index=False), caption="jobs to run")
        return f"<div>{counts}{jobs}</div>"

    def __repr__(self) -> str:
        return f"<Plan: {len(self.jobs)} jobs {self.counts()}>"


# ----------------------------------------------------------------------------- a run
_RUN_COLUMNS = ["id", "rule", "wildcards", "status", "seconds", "host", "exit_code", "log",
                "log_tail"]


@dataclass
class Run:
    """The outcome of ``Workflow.run``: ``ok``, the run id, each job's result, the error."""

    summary: "RunSummary"
    workdir: str

    @property
    def ok(self) -> bool:
        return self.summary.ok

    @property
    def run_id(self) -> str | None:
        return self.summary.run.run_id if self.summary.run else None

    @property
    def error(self) -> Any:
        return self.summary.error

    def to_frame(self, tail: int = 5) -> "pd.DataFrame":
        """One row per planned job: rule, wildcards, status, seconds, host, exit code, the
        file its output was captured in and that output's last ``tail`` lines."""
        import pandas as pd

        rows = []
        for job in self.summary.jobs:
            res = self.summary.results.get(job.jobid)
            log = self.logs(job)
            rows.append({"id": job.jobid, "rule": job.rule.name,
                         "wildcards": ", ".join(f"{k}={v}" for k, v in job.wildcards.items()),
                         "status": "not run" if res is None else ("ok" if res.ok else "FAILED"),
                         "seconds": None if res is None else round((res.ended - res.started).total_seconds(), 3),
                         "host": "" if res is None else res.host,
                         "exit_code": None if res is None else res.exit_code,
                         "log": log.path, "log_tail": log.tail(tail) if res is not None else ""})
        return pd.DataFrame(rows, columns=_RUN_COLUMNS)

    def logs(self, job: "int | str | Job") -> "JobLog":
        """Where ``job`` (a job id, a ``Job``, or the name of a rule with one job) wrote its
        output, and the end of it: ``run.logs(3).tail(20)``, or displayed as is."""
        from sciflow.notebook.logs import JobLog

        jobs = self.summary.jobs
        if isinstance(job, str):
            found = [j for j in jobs if j.rule.name == job]
            if len(found) != 1:
                ids = ", ".join(str(j.jobid) for j in found) or "none"
                raise KeyError(f"rule {job!r} has {len(found)} jobs in this run (ids: {ids}); "
                               "pass a job id")
            job = found[0]
        elif isinstance(job, int):
            found = [j for j in jobs if j.jobid == job]
            if not found:
                raise KeyError(f"no job {job} in this run")
            job = found[0]
        return JobLog.of(job, self.summary.run.workdir if self.summary.run else self.workdir)

    def provenance(self):
        """The provenance store of this run's working directory."""
        import sciflow.provenance

        return sciflow.provenance.open(self.workdir)

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        done = int((frame["status"] == "ok").sum()) if len(frame) else 0
        failed = int((frame["status"] == "FAILED").sum()) if len(frame) else 0
        state = "finished" if self.ok else "FAILED"
        color = "#2a7" if self.ok else "#c33"
        head = (f'<p><b style="color:{color}">Run {escape(state)}</b> '
                f"{escape(self.run_id or '(nothing to do)')}: {done} jobs done, {failed} failed, "
                f"{len(frame)} planned, in {escape(self.workdir)}</p>")
        err = f"<pre>{escape(self.error.format())}</pre>" if self.error is not None else ""
        shown = [c for c in frame.columns if c not in ("log", "log_tail")]
        table = _table(shown, frame[shown].itertuples(index=False)) if len(frame) else ""
        failed_logs = "".join(
            f"<p>job {row.id} ({escape(row.rule)}) failed; last lines of <code>{escape(row.log)}"
            f"</code>:</p><pre>{escape(row.log_tail or '(nothing written)')}</pre>"
            for row in frame.itertuples(index=False) if row.status == "FAILED")
        return f"<div>{head}{err}{failed_logs}{table}</div>"

    def __repr__(self) -> str:
        return f"<Run {self.run_id}: {'ok' if self.ok else 'FAILED'}, {len(self.summary.results)} jobs>"


# ----------------------------------------------------------------------------- the workflow
class Workflow:
    """A workflow file and its working directory, for use from Python and notebooks.

    ``path`` is a Sciflowfile/Snakefile or a directory holding one; the working directory is
    ``directory`` if given, else the directory the file is in. ``config`` overrides values as
    ``--config`` does. The file is re-read on every call, so edits show up at once."""

    def __init__(self, path: str | os.PathLike = ".", *, directory: str | os.PathLike | None = None,
                 config: dict[str, Any] | None = None, configfiles: Sequence[str] = ()) -> None:
        p = Path(path)
        if p.is_dir():
            self.directory = Path(directory or p).resolve()
            self.snakefile: str | None = None
        else:
            self.directory = Path(directory or p.parent).resolve()
            self.snakefile = str(p.resolve())
        self.config = dict(config or {})
        self.configfiles = list(configfiles)
        self.namespace: dict[str, Any] | None = None  # a notebook's names (``from_text``)

    @classmethod
    def from_text(cls, text: str, directory: str | os.PathLike | None = None, *,
                  name: str = "workflow", namespace: dict[str, Any] | None = None,
                  first_line: int = 1, config: dict[str, Any] | None = None,
                  configfiles: Sequence[str] = ()) -> "Workflow":
        """A workflow written as a string (a notebook cell): saved as ``<directory>/<name>.smk``
        (so workers, provenance and ``sciflow run -s`` see a real file) and read from there.

        ``namespace`` (default: the notebook's, inside Jupyter) is visible to the workflow's
        code, on the workers too: rules can call functions defined in earlier cells. Error
        locations count lines from ``first_line`` (2 for a ``%%sciflow`` cell's body, whose
        line 1 is the magic), so they name the cell's own line numbers."""
        from sciflow.notebook.session import in_notebook

        directory = Path(directory or os.getcwd()).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.smk"
        head = ["# written by sciflow from a notebook cell: edit the cell, not this file"]
        head += [""] * (first_line - 2)
        body = ("\n".join(head[:first_line - 1]) + "\n" if first_line > 1 else "") + text
        if not body.endswith("\n"):
            body += "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")
        wf = cls(path, directory=directory, config=config, configfiles=configfiles)
        if namespace is None and in_notebook():
            from IPython import get_ipython

            namespace = get_ipython().user_ns
        wf.namespace = namespace
        return wf

    def _share_namespace(self) -> None:
        """Save the notebook's current names for this file (before every load and run, so a
        function redefined in a later cell is the one the next run uses)."""
        if self.namespace is None or self.snakefile is None:
            return
        from sciflow.hashing import sha256_file
        from sciflow.notebook.namespace import save_namespace

        sha = sha256_file(self.snakefile)
        self.skipped_names = save_namespace(self.snakefile, sha, self.namespace)

    # ---- the same options the command line builds
    def options(self, **kwargs: Any):
        """``RunOptions`` for this workflow; keyword arguments are ``sciflow run`` flags."""
        from sciflow.engine import RunOptions

        config = {**self.config, **kwargs.pop("config", {})}
        targets = kwargs.pop("targets", ())
        targets = [targets] if isinstance(targets, str) else list(targets)
        return RunOptions(snakefile=self.snakefile, directory=str(self.directory), config=config,
                          configfiles=list(self.configfiles), targets=targets,
                          command_line=["sciflow.api"], **kwargs)

    @property
    def path(self) -> str:
        from sciflow.engine import find_workflow

        return find_workflow(self.options(), str(self.directory))

    def load(self):
        """The parsed ``sciflow.model.Workflow`` (config applied)."""
        from sciflow.engine import in_directory
        from sciflow.parse import load_workflow

        self._share_namespace()
        with in_directory(str(self.directory)):
            return load_workflow(self.path, config_overrides=dict(self.config),
                                 configfiles=list(self.configfiles))

    @property
    def rules(self) -> Rules:
        return Rules((r.name, r) for r in self.load())

    def dag(self, targets: str | Sequence[str] = (), *, rulegraph: bool = False) -> DagView:
        """The job graph for ``targets`` (default target if empty)."""
        from sciflow.dag import build_dag
        from sciflow.engine import in_directory

        targets = [targets] if isinstance(targets, str) else list(targets)
        workflow = self.load()
        with in_directory(str(self.directory)):
            return DagView(build_dag(workflow, targets), rulegraph=rulegraph)

    def plan(self, targets: str | Sequence[str] = (), **options: Any) -> PlanView:
        """A dry run: which jobs would run and why (options as ``sciflow run``: forceall...)."""
        from sciflow.engine import run

        self._share_namespace()
        return PlanView(run(self.options(targets=targets, dry_run=True, **options)))

    def run(self, targets: str | Sequence[str] = (), *, cores: int | None = None,
            listeners: Sequence[Any] = (), raise_on_failure: bool = False,
            client: Any = None, progress: bool | None = None, session: bool | None = None,
            **options: Any) -> Run:
        """Run the workflow on Dask: on ``client`` (a ``distributed.Client``, left open) if
        given, else ``scheduler=``/``cluster=``, else a local cluster. In a notebook (or with
        ``session=True``) that local cluster is the session's, kept for the next run
        (``sciflow.close()`` stops it); elsewhere it lasts one run.

        In a notebook (or with ``progress=True``) the run draws its progress live in the
        cell's output (``sciflow.notebook.NotebookProgress``; ``printshellcmds=True`` lists
        each command as its job starts). A failed job does not raise (the ``Run`` shows it
        with the end of its log) unless ``raise_on_failure``; a broken workflow raises its
        ``WorkflowError`` as the command line would report it."""
        from sciflow.engine import run
        from sciflow.errors import RunFailedError
        from sciflow.notebook import session as nb_session

        notebook = nb_session.in_notebook()
        remote = options.get("scheduler") or options.get("cluster")
        if client is None and not remote and not options.get("dry_run") and (
                session if session is not None else notebook):
            client = nb_session.session_client(cores)
        listeners = list(listeners)
        if progress if progress is not None else (notebook and not listeners):
            from sciflow.notebook.progress import NotebookProgress

            listeners.append(NotebookProgress(printshellcmds=bool(options.get("printshellcmds")),
                                              dashboard=nb_session.dashboard_link()))
        self._share_namespace()
        try:
            summary = run(self.options(targets=targets, cores=cores, client=client, **options),
                          listeners=listeners)
        except RunFailedError as exc:
            if raise_on_failure or getattr(exc, "summary", None) is None:
                raise
            summary = exc.summary  # type: ignore[attr-defined]
        return Run(summary, str(self.directory))

    def provenance(self):
        """The provenance store of the working directory (``sciflow.provenance.open``)."""
        import sciflow.provenance

        return sciflow.provenance.open(str(self.directory))

    def runs(self) -> "pd.DataFrame":
        """Past runs in this working directory, from its provenance (one row per run: id,
        start, end, status, ...); empty before the first run."""
        from sciflow import layout

        if not layout.prov_store(self.directory).exists():
            import pandas as pd

            return pd.DataFrame(columns=["run_id"])
        return self.provenance().runs()

    def _repr_html_(self) -> str:
        try:
            path = self.path
        except Exception as exc:  # a notebook repr must never raise
            return f"<p>sciflow workflow in {escape(str(self.directory))}: {escape(str(exc))}</p>"
        return (f"<p>sciflow workflow <code>{escape(path)}</code> in "
                f"<code>{escape(str(self.directory))}</code></p>")

    def __repr__(self) -> str:
        return f"Workflow({str(self.snakefile or self.directory)!r})"
