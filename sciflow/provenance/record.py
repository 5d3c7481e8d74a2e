"""The provenance recorder: a ``Listener`` that writes W3C PROV-O as jobs finish.

Each run is one named graph (a ``prov:Bundle``). ``run_started`` writes the run activity, its
agents and plans; each ``job_finished``/``job_failed`` appends that job's quads to the run's
journal as one unit ending in a marker, so a run killed halfway keeps every finished job (and
no half job); the writer thread bulk-loads the journal into the store in chunks (journal.py);
``run_finished`` adds the end time and loads the rest. Both the direct PROV-O relations (used, wasGeneratedBy, wasDerivedFrom,
wasAssociatedWith, wasInformedBy) and their qualified forms (Usage, Generation, Association
with a Plan) are written. The model is documented in provenance/README.md.

Quads are built as N-Quads text (quads.py), not as pyoxigraph terms: measured on a 2,000-job
chain (2026-12-03, load 4-6), the recorder's CPU fell from 3.0-3.7 ms per 89-quad job (terms,
one ``Store.extend`` transaction per job, memtable flushes) to 1.1-1.5 ms (lines appended to
the journal, bulk-loaded per ~25,000 quads); the scheduler thread's share stayed ~0.4 ms.
"""
from __future__ import annotations

import atexit
import os
import platform
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import sciflow
from sciflow import scidata
from sciflow.configload import bounded_plain, plain as _plain
from sciflow.events import JobResult, Listener, RunInfo
from sciflow.provenance import shaping as S
from sciflow.provenance import vocab as V
from sciflow.hashing import FileDigest, HashCache, sha256_text
from sciflow.provenance.fingerprint import FingerprintCache
from sciflow.provenance.quads import (P, RDF_TYPE, RDFS_LABEL, Quads, Version, config_content, files_under,
                                      generated, lit, current_login, param_items, roles, sf)
from sciflow.provenance.journal import Journal
from sciflow.provenance.store import JournalWriter, SharedStore, compact_after_run, hash_db_path

_LATEST = """
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX sf: <https://w3id.org/sciflow/ns#>
SELECT ?path ?e ?sha ?size ?t ?dir WHERE {
  ?e a sf:File ; sf:path ?path ; sf:sha256 ?sha ; sf:size ?size .
  { ?e prov:qualifiedGeneration/prov:atTime ?t }
  UNION
  { ?u prov:entity ?e ; prov:atTime ?t . FILTER NOT EXISTS { ?e prov:wasGeneratedBy ?any } }
  BIND(EXISTS { ?e a sf:Directory } AS ?dir)
}"""


class ProvenanceRecorder(Listener):
    """Records each run into ``<workdir>/.sciflow/prov`` (see the module docstring).

    ``stamp`` writes the job's IRI into HDF5/NetCDF outputs (attributes ``sciflow_job``,
    ``sciflow_run``) before hashing them.

    Outputs are hashed by the worker that wrote them when the run asks it to
    (``wants_output_digests``): ``result.digests`` maps each output to its
    ``(size, mtime_ns, inode, sha256)``, which primes the hash cache for exactly that file
    version; anything else (a file changed since, a stamped file, no digest) is hashed here."""

    wants_output_digests = True

    def __init__(self, workdir: str | os.PathLike, *, stamp: bool = True,
                 background: bool = True) -> None:
        self.workdir = Path(workdir).resolve()
        self.stamp = stamp
        self.background = background
        self._store: SharedStore | None = None
        self._journal: Journal | None = None
        self._writer: JournalWriter | None = None
        self._hashes: HashCache | None = None
        self._fingerprints: FingerprintCache | None = None
        self._producer: dict[str, int] = {}      # absolute output path -> jobid (this run)
        self._inputs: dict[int, list[tuple[str, str, FileDigest | None]]] = {}
        self._rules_written: set[str] = set()
        self._described: set[str] = set()  # roles, agents, hosts already in this run's graph
        self._latest: dict[str, Version] = {}  # workdir-relative path -> latest version
        # what shaped the jobs, found once per run / rule (see sources.py)
        self._sources: list[tuple[str, str]] = []   # (role, entity): workflow, includes, configs
        self._agents: list[tuple[str, str]] = []    # (role, agent): the user, the researcher
        self._rule_facts: dict[str, tuple[str | None, list[S.Software], dict[str, list[str]]]] = {}
        self._config_files: list[tuple[str, dict]] = []  # (entity, its content) per config file
        self.jobs_recorded = 0

    # ------------------------------------------------------------------ listener hooks
    def run_started(self, run: RunInfo, jobs: Sequence[Any]) -> None:
        self._store = SharedStore(self.workdir)  # opened on first use, shared (see store.py)
        self._store.recover()  # jobs of a run that died, before the latest versions are read
        self._journal = Journal(self.workdir, (V.run_iri(run.run_id), V.graph_iri(run.run_id)))
        self._writer = JournalWriter(self._store, self._journal) if self.background else None
        atexit.register(self._drain_at_exit)  # an interpreter exiting mid-run still loads it
        self._hashes = HashCache(hash_db_path(self.workdir))
        self._fingerprints = FingerprintCache(self.workdir)
        self._producer.clear()
        self._rules_written.clear()
        self._described.clear()
        self._rule_facts.clear()
        self._latest = self._load_latest()
        self.jobs_added(run, jobs)
        q = Quads(V.graph_iri(run.run_id), self._described, self._spill)
        self._describe_run(q, run)
        self._commit(q)
        from sciflow.provenance.sources import archive_run

        archive_run(self.workdir, run)  # what `sciflow prov reproduce` rebuilds from

    def jobs_added(self, run: RunInfo, jobs: Sequence[Any]) -> None:
        for job in jobs:
            for path in list(job.output) + list(job.log):
                self._producer[self._abs(run, path)] = job.jobid

    def job_started(self, run: RunInfo, job: Any) -> None:
        # Inputs are hashed when the job starts: a temp() input may be gone by the time a
        # later job finishes, and the job read the version present now.
        self._inputs[job.jobid] = [(role, path, self._digest(run, path))
                                   for role, path in roles(job.input)]

    def job_finished(self, run: RunInfo, job: Any, result: JobResult) -> None:
        self._record(run, job, result, ok=True)

    def job_failed(self, run: RunInfo, job: Any, result: JobResult) -> None:
        self._record(run, job, result, ok=False)

    def _record(self, run: RunInfo, job: Any, result: JobResult, ok: bool) -> None:
        try:
            self._record_job(run, job, result, ok)
        except BaseException:
            if self._journal is not None:  # a job is recorded whole or not at all
                self._journal.abort()
            raise

    def job_retried(self, run: RunInfo, job: Any, result: JobResult) -> None:
        """A failed attempt that was tried again: its own activity, linked to the job."""
        if self._store is None:
            return
        rid = run.run_id
        q = Quads(V.graph_iri(rid), self._described, self._spill)
        job_iri = V.job_iri(rid, job.jobid)
        a = f"{job_iri}/attempt/{int(result.attempt)}"
        q.iri(a, RDF_TYPE, V.PROV + "Activity")
        q.iri(a, RDF_TYPE, V.SF + "JobAttempt")
        q.add(a, sf("jobId"), int(job.jobid))
        q.add(a, sf("ruleName"), job.rule.name)
        q.add(a, sf("inRun"), rid)
        q.add(a, sf("attempt"), int(result.attempt))
        q.add(a, sf("status"), "failed")
        q.add(a, P.startedAtTime, lit(result.started))
        q.add(a, P.endedAtTime, lit(result.ended))
        q.iri(a, P.wasPartOf, V.run_iri(rid))
        q.iri(a, sf("attemptOf"), job_iri)
        if result.error:
            q.add(a, sf("error"), result.error)
        if result.exit_code is not None:
            q.add(a, sf("exitCode"), int(result.exit_code))
        if result.host:
            q.add(a, sf("host"), result.host)
        if result.worker:
            q.add(a, sf("worker"), result.worker)
        self._commit(q)

    def run_finished(self, run: RunInfo, ok: bool) -> None:
        if self._store is None:
            return
        q = Quads(V.graph_iri(run.run_id))
        r = V.run_iri(run.run_id)
        q.add(r, P.endedAtTime, lit(run.ended or datetime.now(timezone.utc)))
        q.add(r, sf("status"), run.status or ("succeeded" if ok else "failed"))
        self._commit(q)
        try:
            self.drain()
            self._store.flush()
            compact_after_run(self._store, run.started, run.ended)
        finally:
            self.close()

    def drain(self) -> None:
        """Load everything recorded so far into the store (it is durable in the journal as
        soon as a job is recorded; readers see it once loaded)."""
        if self._writer is not None:
            self._writer.drain()
        elif self._journal is not None:
            self._journal.rotate()
            self._store.load_ready(self._journal)

    def _drain_at_exit(self) -> None:
        try:
            self.drain()
        except Exception:  # noqa: BLE001 - nothing left to report to at exit
            pass

    def close(self) -> None:
        """Release the store (and its lock), the journal and the hash cache."""
        atexit.unregister(self._drain_at_exit)
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._journal is not None:  # anything not loaded is left to the next run or reader
            self._journal.close()
            self._journal = None
        if self._store is not None:
            self._store.close()
        self._store = None
        if self._hashes is not None:
            self._hashes.close()
            self._hashes = None
        if self._fingerprints is not None:
            self._fingerprints.close()
            self._fingerprints = None

    # ------------------------------------------------------------------ run description
    def _describe_run(self, q: Quads, run: RunInfo) -> None:
        r = V.run_iri(run.run_id)
        g = V.graph_iri(run.run_id)
        q.iri(g, RDF_TYPE, V.PROV + "Bundle")
        q.iri(g, sf("describesRun"), r)
        for t in ("Activity", "Execution"):
            q.iri(r, RDF_TYPE, (V.PROV if t == "Activity" else V.PROVONE) + t)
        q.iri(r, RDF_TYPE, V.SF + "Run")
        q.add(r, sf("runId"), run.run_id)
        q.add(r, P.startedAtTime, lit(run.started))
        if run.ended:
            q.add(r, P.endedAtTime, lit(run.ended))
        q.add(r, sf("commandLine"), " ".join(run.command_line) if run.command_line else " ".join(sys.argv))
        q.add(r, sf("executor"), run.executor)
        q.add(r, sf("workdir"), run.workdir or str(self.workdir))
        for t in run.targets:
            q.add(r, sf("target"), str(t))
        # agents: sciflow itself (with the workflow as its plan), the user, the researcher
        tool = self._software(q, "sciflow", sciflow.__version__)
        self._agents = self._people(q, run)
        host = self._host(q, run.host or socket.gethostname())
        q.iri(r, P.atLocation, host)
        q.add(r, sf("host"), run.host or socket.gethostname())
        self._sources = self._source_files(q, run)
        wf = next((ent for role, ent in self._sources if role == "workflow"), None)
        self._associate(q, r, f"{r}:association:sciflow", tool, plan=wf, role=self._role(q, "agent", "agent", "engine"))
        for role, agent in self._agents:
            self._associate(q, r, f"{r}:association:{role}", agent, plan=None,
                            role=self._role(q, "agent", "agent", role))
        self._software(q, "python", platform.python_version())
        for n, (role, ent) in enumerate(self._sources):
            usage = f"{r}:usage:workflow" if role == "workflow" else f"{r}:usage:source:{n}"
            self._use(q, r, usage, ent, role, run.started, kind="source", scope="run")
        cfg = f"{r}:config"
        q.iri(cfg, RDF_TYPE, V.PROV + "Entity")
        q.iri(cfg, RDF_TYPE, V.SF + "Config")
        q.add(cfg, P.value, lit(dict(bounded_plain(run.config or {}))))  # capped: hostile input
        for ent, _ in self._config_files:
            q.iri(cfg, P.wasDerivedFrom, ent)
        self._use(q, r, f"{r}:usage:config", cfg, "config", run.started, scope="run")
        workflow = run.workflow
        for rule in (getattr(workflow, "rules", {}) or {}).values():
            self._describe_rule(q, run, rule)

    def _people(self, q: Quads, run: RunInfo) -> list[tuple[str, str]]:
        """(role, agent): the user who ran it (``operator``: the login) and, when given by
        ``--orcid``, ``$SCIFLOW_ORCID`` or the config key ``orcid``, the researcher
        (``researcher``: a ``prov:Person`` whose IRI is the ORCID iD)."""
        login = run.user or current_login()
        user = V.user_iri(login)
        if q.first_time(user):
            q.iri(user, RDF_TYPE, V.PROV + "Agent")
            q.iri(user, RDF_TYPE, V.PROV + "Person")
            q.add(user, P.accountName, login)
        people = [("operator", user)]
        config = run.config if isinstance(run.config, dict) else {}
        orcid = V.orcid_iri(run.orcid or os.environ.get("SCIFLOW_ORCID", "")
                            or str(config.get("orcid") or ""))
        if orcid:
            if q.first_time(orcid):
                q.iri(orcid, RDF_TYPE, V.PROV + "Agent")
                q.iri(orcid, RDF_TYPE, V.PROV + "Person")
                q.add(orcid, sf("orcid"), orcid)
            people.append(("researcher", orcid))
        return people

    def _source_files(self, q: Quads, run: RunInfo) -> list[tuple[str, str]]:
        """(role, entity) of the workflow file, every included file and every config file:
        entities with sha256, used by the run and by every job (a walk from any output
        reaches them). A file that cannot be read is left out."""
        workflow = run.workflow
        found: list[tuple[str, str]] = []
        wanted = [("workflow", run.workflow_path)]
        wanted += [("include", f) for f in getattr(workflow, "includes", ()) or ()]
        wanted += [("configfile", f) for f in getattr(workflow, "configfiles", ()) or ()]
        seen: set[str] = set()
        self._config_files = []
        for role, path in wanted:
            if not path or self._abs(run, path) in seen:
                continue
            seen.add(self._abs(run, path))
            d = self._digest(run, path)
            if d is None:
                continue
            ent = self._file(q, run, path, d)
            q.iri(ent, RDF_TYPE, V.SF + {"workflow": "WorkflowFile", "include": "IncludedFile",
                                         "configfile": "ConfigFile"}[role])
            if role == "workflow":
                q.iri(ent, RDF_TYPE, V.PROV + "Plan")
            if role == "configfile":
                self._config_files.append((ent, config_content(self._abs(run, path))))
            found.append((role, ent))
        return found

    def _describe_rule(self, q: Quads, run: RunInfo, rule: Any) -> str:
        iri = V.rule_iri(run.run_id, rule.name)
        if rule.name in self._rules_written:
            return iri
        self._rules_written.add(rule.name)
        q.iri(iri, RDF_TYPE, V.PROV + "Plan")
        q.iri(iri, RDF_TYPE, V.PROV + "Entity")
        q.iri(iri, RDF_TYPE, V.SF + "Rule")
        q.add(iri, sf("ruleName"), rule.name)
        q.add(iri, RDFS_LABEL, f"rule {rule.name}")
        loc = rule.loc
        q.add(iri, sf("sourceFile"), str(loc.path))
        q.add(iri, sf("line"), int(loc.line))
        q.add(iri, sf("sourceLocation"), str(loc))
        action = rule.action
        if action is not None:
            q.add(iri, sf("actionKind"), str(getattr(action.kind, "value", action.kind)))
            q.add(iri, sf("source"), action.source)
            if action.loc is not None:
                q.add(iri, sf("actionLocation"), str(action.loc))
        return iri

    # ------------------------------------------------------------------ one job
    def _record_job(self, run: RunInfo, job: Any, result: JobResult, ok: bool) -> None:
        if self._store is None:  # a listener used without run_started (should not happen)
            self.run_started(run, [job])
        digests = result.digests if ok else None
        if digests and self._hashes is not None:
            for out, (size, mtime_ns, inode, sha) in digests.items():
                self._hashes.prime(self._abs(run, out), (size, mtime_ns, inode), sha)
        rid = run.run_id
        q = Quads(V.graph_iri(rid), self._described, self._spill)
        a = V.job_iri(rid, job.jobid)
        r = V.run_iri(rid)
        q.iri(a, RDF_TYPE, V.PROV + "Activity")
        q.iri(a, RDF_TYPE, V.SF + "Job")
        q.add(a, RDFS_LABEL, repr(job))
        q.add(a, sf("jobId"), int(job.jobid))
        q.add(a, sf("ruleName"), job.rule.name)
        q.add(a, sf("inRun"), rid)  # the run's id, also on the job: one pattern less per hop
        q.add(a, P.startedAtTime, lit(result.started))
        q.add(a, P.endedAtTime, lit(result.ended))
        q.iri(a, P.wasPartOf, r)
        q.add(a, sf("status"), "succeeded" if ok else "failed")
        if result.exit_code is not None:
            q.add(a, sf("exitCode"), int(result.exit_code))
        if result.attempt != 1:  # only retried jobs say which attempt is recorded
            q.add(a, sf("attempt"), int(result.attempt))
        if result.command:
            q.add(a, sf("command"), result.command)
        if result.error:
            q.add(a, sf("error"), result.error)
        if result.log_tail and not ok:  # what the failed job said last (the report shows it)
            q.add(a, sf("logTail"), result.log_tail[-LOG_TAIL_MAX:])
        host = result.host or run.host or socket.gethostname()
        q.iri(a, P.atLocation, self._host(q, host))
        q.add(a, sf("host"), host)
        if result.worker:
            q.add(a, sf("worker"), result.worker)
        if result.batch_job_id:  # the batch job whose worker ran it (HPC)
            q.add(a, sf("batchJobId"), str(result.batch_job_id))
            q.add(a, sf("batchSystem"), str(result.batch_system or ""))
        q.add(a, sf("threads"), int(job.threads))
        if job.resources:
            q.add(a, sf("resources"), lit(_plain(dict(job.resources))))
        q.add(a, sf("wildcards"), lit(_plain(job.wildcards.as_dict())))
        for reason in job.reasons:
            q.add(a, sf("reason"), str(reason))
        if result.max_rss_mb is not None:
            q.add(a, sf("maxRssMb"), float(result.max_rss_mb))
        # what ran: the rule's code hash; the commands a run: block's shell() ran
        code, software, param_keys = self._facts(run, job, result)
        if code:
            q.add(a, sf("codeSha256"), code)
        for command in result.shell_commands or ():
            q.add(a, sf("shellCommand"), command)
        # associations, each with its role: sciflow with the rule as plan, the user and the
        # researcher, and the software found from the rule's text (sources.py)
        plan = self._describe_rule(q, run, job.rule)
        tool = self._software(q, "sciflow", sciflow.__version__)
        self._associate(q, a, f"{a}:association:sciflow", tool, plan=plan,
                        role=self._role(q, "agent", "agent", "engine"))
        for role, agent in self._agents:
            self._associate(q, a, f"{a}:association:{role}", agent, plan=None,
                            role=self._role(q, "agent", "agent", role))
        if _touches_scidata(job):
            software = software + [S.Software(name, version, "library")
                                   for name, version in S.native_libraries().items()]
        for sw in software:
            agent = self._software_agent(q, sw)
            self._associate(q, a, f"{a}:association:software:{V.quote(sw.name, safe='')}", agent,
                            plan=None, role=self._role(q, "agent", "agent", "software"))
        # the files that shaped the job: workflow file, included files, config files, script
        sources = list(self._sources)
        if job.rule.action is not None and str(getattr(job.rule.action.kind, "value", job.rule.action.kind)) \
                in ("script", "notebook") and result.command:
            d = self._digest(run, result.command)
            if d is not None:
                script = self._file(q, run, result.command, d)
                q.iri(script, RDF_TYPE, V.SF + "ScriptFile")
                sources.append(("script", script))
        for n, (role, ent) in enumerate(sources):
            self._use(q, a, f"{a}:usage:source:{n}", ent, role, result.started, kind="source",
                      scope="run")
        # inputs (hashed at job start, or now if job_started was not seen)
        inputs = self._inputs.pop(job.jobid, None)
        if inputs is None:
            inputs = [(role, path, self._digest(run, path)) for role, path in roles(job.input)]
        used: list[str] = []
        informed: set[int] = set()
        for n, (role, path, digest) in enumerate(inputs):
            ent = self._file(q, run, path, digest)
            self._describe_content(q, ent, self._abs(run, path), digest)
            used.append(ent)
            self._use(q, a, f"{a}:usage:{n}", ent, role, result.started, rule=job.rule.name)
            producer = self._producer.get(self._abs(run, path))
            if producer is not None and producer != job.jobid:
                informed.add(producer)
        for producer in sorted(informed):
            q.iri(a, P.wasInformedBy, V.job_iri(rid, producer))
        for n, (name, value) in enumerate(param_items(job.params)):
            value = _plain(value)
            ent = V.param_iri(job.rule.name, name, V.canonical_json(value))
            if q.first_time(ent):
                q.iri(ent, RDF_TYPE, V.PROV + "Entity")
                q.iri(ent, RDF_TYPE, V.SF + "Parameter")
                q.add(ent, sf("name"), name)
                q.add(ent, sf("ruleName"), job.rule.name)
                q.add(ent, P.value, lit(value))
                for key in param_keys.get(name, ()):  # config["key"] in the params: source
                    q.add(ent, sf("configKey"), key)
                    found, cval = S.lookup(run.config, key)
                    if found:
                        q.iri(ent, P.wasDerivedFrom, self._config_value(q, key, cval))
            self._use(q, a, f"{a}:usage:param:{n}", ent, name, result.started, kind="param",
                      rule=job.rule.name)
        if ok:
            self._generate(q, run, job, result, a, used)
        self._commit(q)  # one transaction per job
        self.jobs_recorded += 1

    def _commit(self, q: Quads) -> None:
        """The batch's (last) lines and its end marker to the journal: from then on the job
        survives a crash (journal.py). A segment it fills is loaded by the writer thread."""
        if self._journal.append(q.take(), end=True):
            if self._writer is not None:
                self._writer.wake()
            else:
                self._store.load_ready(self._journal)
        self._described |= q.described

    def _spill(self, text: str) -> None:
        """Lines of a big job, written before its end (Quads.spill): memory stays flat."""
        self._journal.append(text, end=False)

    def _generate(self, q: Quads, run: RunInfo, job: Any, result: JobResult, a: str,
                  used: list[str]) -> None:
        outputs = [(role, path, True) for role, path in roles(job.output)]
        outputs += [(f"log:{role}", path, False) for role, path in roles(job.log)]
        members: list[tuple[str, str, str]] = []  # (directory entity, file path, role)
        for n, (role, path, derived) in enumerate(outputs):
            full = self._abs(run, path)
            stamped = False
            if self.stamp and scidata.is_scidata(full) and os.path.isfile(full):
                stamped = scidata.stamp(full, {"sciflow_job": a, "sciflow_run": V.run_iri(run.run_id),
                                                # where the record is: a copy finds its way back
                                                "sciflow_workdir": str(run.workdir)})
                if stamped and self._hashes is not None:
                    self._hashes.forget(full)  # content changed: hash after stamping
            digest = self._digest(run, path)
            rel = self._rel(run, path)
            ent = self._file(q, run, path, digest, generated_by=job.jobid)
            if digest is not None:
                self._replace(q, rel, ent, a, result.started, n)
                self._latest[rel] = Version(ent, digest.sha256, int(digest.size), digest.is_dir)
            for flag in sorted(getattr(path, "flags", ()) or ()):  # temp, protected, directory...
                q.add(ent, sf("flag"), flag)
            if "report" in (getattr(path, "flags", ()) or ()):
                self._describe_report_item(q, run, ent, path)
            generated(q, ent, a, f"{a}:generation:{n}", result.ended,
                       self._role(q, job.rule.name, "output", role))
            if derived:
                for src in used:
                    q.iri(ent, P.wasDerivedFrom, src)
            if digest is not None and scidata.is_scidata(full):
                q.add(ent, sf("stamped"), stamped)
                self._describe_content(q, ent, full, digest)
            if digest is not None and digest.is_dir and derived:
                members += [(ent, f, role) for f in files_under(full, MAX_MEMBERS)]
        # the files of a directory() output (e.g. a checkpoint's) are generated by the job
        # too: recording them lets lineage go on through jobs that use single files from it
        for m, (directory, full, role) in enumerate(members):
            d = self._digest(run, full)
            if d is None:
                continue
            ent = self._file(q, run, full, d, generated_by=job.jobid)
            self._replace(q, self._rel(run, full), ent, a, result.started, f"member:{m}")
            self._latest[self._rel(run, full)] = Version(ent, d.sha256, int(d.size), d.is_dir)
            q.iri(directory, RDF_TYPE, V.PROV + "Collection")
            q.iri(directory, P.hadMember, ent)
            generated(q, ent, a, f"{a}:generation:member:{m}", result.ended,
                       self._role(q, job.rule.name, "output", role))
            for src in used:
                q.iri(ent, P.wasDerivedFrom, src)

    def _describe_report_item(self, q: Quads, run: RunInfo, ent: str, path: Any) -> None:
        """``report(path, caption=..., category=...)``: the caption's text (read from its file,
        found next to the workflow file or in the working directory, else the text given),
        category, subcategory and labels, so the report needs nothing but provenance."""
        meta = (getattr(getattr(path, "flags", None), "meta", {}) or {}).get("report") or {}
        caption = meta.get("caption")
        if caption:
            text = str(caption)
            wf_dir = os.path.dirname(self._abs(run, run.workflow_path or "."))
            for base in (wf_dir, run.workdir or str(self.workdir)):
                full = os.path.join(base, text)
                if os.path.isfile(full):
                    try:
                        with open(full, encoding="utf-8", errors="replace") as fh:
                            text = fh.read(CAPTION_MAX)
                    except OSError:
                        pass
                    break
            q.add(ent, sf("reportCaption"), text[:CAPTION_MAX])
        for key, prop in (("category", "reportCategory"), ("subcategory", "reportSubcategory")):
            if meta.get(key) is not None:
                q.add(ent, sf(prop), str(meta[key]))
        if meta.get("labels"):
            q.add(ent, sf("reportLabels"), lit(_plain(dict(meta["labels"]))))

    def _describe_content(self, q: Quads, ent: str, full: str, digest: FileDigest | None) -> None:
        """What an HDF5/NetCDF version holds — its variables and its content fingerprint
        (``sf:contentFingerprint``, with ``sf:dataFingerprint``/``sf:attributesFingerprint``,
        see fingerprint.py) — once per version and run graph, for inputs and outputs alike."""
        if digest is None or digest.is_dir or not scidata.is_scidata(full) \
                or not q.first_time(ent + "#content"):
            return
        fp = None
        if self._fingerprints is not None:
            current = self._digest(None, full)  # the version read may be gone (temp) or changed
            if current is not None and current.sha256 == digest.sha256:
                fp = self._fingerprints.get(full, digest.sha256)
            else:
                fp = self._fingerprints.by_sha256(digest.sha256)
            if current is None or current.sha256 != digest.sha256:
                full = ""  # not the version recorded: no structure either
        if fp is not None:
            q.add(ent, sf("contentFingerprint"), fp.combined)
            q.add(ent, sf("dataFingerprint"), fp.data)
            q.add(ent, sf("attributesFingerprint"), fp.attributes)
        if not full:
            return
        q.add(ent, sf("format"), scidata.file_format(full) or "")
        for var in scidata.structure(full):
            v = f"urn:sciflow:variable:{digest.sha256}:{V.quote(var.name, safe='/')}"
            q.iri(ent, sf("variable"), v)
            q.iri(v, RDF_TYPE, V.SF + "Variable")
            q.add(v, sf("name"), var.name)
            q.add(v, sf("dims"), lit(var.dims))
            q.add(v, sf("shape"), lit(var.shape))
            q.add(v, sf("dtype"), var.dtype)
            if var.units is not None:
                q.add(v, sf("units"), var.units)

    # ------------------------------------------------------------------ building blocks
    def _abs(self, run: RunInfo | None, path: Any) -> str:
        base = (run.workdir if run is not None else "") or str(self.workdir)
        return os.path.normpath(os.path.join(base, str(path)))

    def _rel(self, run: RunInfo, path: Any) -> str:
        return os.path.relpath(self._abs(run, path), run.workdir or str(self.workdir))

    def _digest(self, run: RunInfo, path: Any) -> FileDigest | None:
        try:
            return self._hashes.digest(self._abs(run, path)) if self._hashes else None
        except OSError:
            return None

    def _file(self, q: Quads, run: RunInfo, path: Any, digest: FileDigest | None,
              generated_by: int | None = None) -> str:
        """The entity of the version of ``path`` that ``digest`` describes. A version a job
        generates (``generated_by``) is always a new entity; a file read is the latest known
        version at that path when the bytes match, else a raw version (data, or a file edited
        by hand), which becomes the latest."""
        rel = self._rel(run, path)
        if digest is None:
            ent = V.missing_file_iri(run.run_id, rel)
            if q.first_time(ent):
                q.add(ent, sf("status"), "missing")
                q.iri(ent, RDF_TYPE, V.PROV + "Entity")
                q.iri(ent, RDF_TYPE, V.SF + "File")
                self._place(q, ent, rel)
            return ent
        version = Version("", digest.sha256, int(digest.size), digest.is_dir)
        if generated_by is not None:
            version.iri = V.generated_file_iri(digest.sha256, rel, run.run_id, generated_by)
        else:
            known = self._latest.get(rel)
            if known is not None and known.sha256 == digest.sha256:
                version = known
            else:
                version.iri = V.file_iri(digest.sha256, rel)
                self._latest[rel] = version
        self._describe_file(q, rel, version)
        return version.iri

    def _describe_file(self, q: Quads, rel: str, v: Version) -> None:
        if not q.first_time(v.iri):  # described earlier in this run's graph
            return
        q.add(v.iri, sf("sha256"), v.sha256)
        q.add(v.iri, sf("size"), v.size)
        if v.is_dir:
            q.iri(v.iri, RDF_TYPE, V.SF + "Directory")
        q.iri(v.iri, RDF_TYPE, V.PROV + "Entity")
        q.iri(v.iri, RDF_TYPE, V.SF + "File")
        self._place(q, v.iri, rel)

    def _place(self, q: Quads, ent: str, rel: str) -> None:
        """Where a file version is: ``sf:path`` (the literal queries match on),
        ``prov:atLocation`` a ``prov:Location`` carrying the same path, and
        ``prov:specializationOf`` the entity that stands for the path through all versions."""
        q.add(ent, sf("path"), rel)
        loc, whole = V.location_iri(rel), V.path_iri(rel)
        q.iri(ent, P.atLocation, loc)
        q.iri(ent, P.specializationOf, whole)
        if q.first_time(loc):
            q.iri(loc, RDF_TYPE, V.PROV + "Location")
            q.add(loc, sf("path"), rel)
            q.add(loc, RDFS_LABEL, rel)
        if q.first_time(whole):
            q.iri(whole, RDF_TYPE, V.PROV + "Entity")
            q.iri(whole, RDF_TYPE, V.SF + "FilePath")
            q.add(whole, sf("path"), rel)

    def _replace(self, q: Quads, rel: str, new: str, job: str, when: datetime, n: Any) -> None:
        """``new`` is the latest version of ``rel`` now: it revises the version it replaced,
        which the job invalidated when it started (outputs are removed before a job runs)."""
        old = self._latest.get(rel)
        if old is None or old.iri == new:
            return
        self._describe_file(q, rel, old)
        q.iri(new, P.wasRevisionOf, old.iri)
        q.iri(old.iri, P.wasInvalidatedBy, job)
        inv = f"{job}:invalidation:{n}"
        q.iri(old.iri, P.qualifiedInvalidation, inv)
        q.iri(inv, RDF_TYPE, V.PROV + "Invalidation")
        q.iri(inv, P.activity, job)
        q.add(inv, P.atTime, lit(when))

    def _load_latest(self) -> dict[str, Version]:
        latest: dict[str, tuple[datetime, Version]] = {}
        try:
            rows = self._store.select(_LATEST)
        except Exception:  # noqa: BLE001 - an unreadable store: versions start unlinked
            return {}
        for path, ent, sha, size, t, is_dir in rows:
            when = datetime.fromisoformat(t.replace("Z", "+00:00"))
            if path not in latest or when > latest[path][0]:
                latest[path] = (when, Version(ent, sha, int(size), is_dir == "true"))
        return {path: v for path, (_, v) in latest.items()}

    def _use(self, q: Quads, activity: str, usage: str, ent: str, role: str, when: datetime,
             kind: str = "input", rule: str = "", scope: str = "job") -> None:
        q.iri(activity, P.used, ent)
        q.iri(activity, P.qualifiedUsage, usage)
        q.iri(usage, RDF_TYPE, V.PROV + "Usage")
        q.iri(usage, P.entity, ent)
        q.add(usage, P.atTime, lit(when))
        q.iri(usage, P.hadRole, self._role(q, rule or scope, kind, role))

    def _role(self, q: Quads, scope: str, kind: str, name: str) -> str:
        iri = _ROLES.get((scope, kind, name))
        if iri is None:  # ~10 roles per job, the same ones each time: quoted once
            iri = f"urn:sciflow:role:{V.quote(scope, safe='')}:{kind}:{V.quote(name, safe='')}"
            if len(_ROLES) < 4096:
                _ROLES[(scope, kind, name)] = iri
        if not q.first_time(iri):
            return iri
        q.iri(iri, RDF_TYPE, V.PROV + "Role")
        q.add(iri, RDFS_LABEL, name)
        q.add(iri, sf("roleKind"), kind)
        return iri

    def _associate(self, q: Quads, activity: str, assoc: str, agent: str, plan: str | None,
                   role: str | None = None) -> None:
        q.iri(activity, P.wasAssociatedWith, agent)
        q.iri(activity, P.qualifiedAssociation, assoc)
        q.iri(assoc, RDF_TYPE, V.PROV + "Association")
        q.iri(assoc, P.agent, agent)
        if plan:
            q.iri(assoc, P.hadPlan, plan)
        if role:
            q.iri(assoc, P.hadRole, role)

    def _software_agent(self, q: Quads, sw: S.Software) -> str:
        """A ``prov:SoftwareAgent`` for one piece of software; a program is identified by
        its path and sha256 (``urn:sciflow:program:…``), the rest by name and version."""
        if sw.kind != "program":
            iri = self._software(q, sw.name, sw.version)
            if sw.kind != "python" and q.first_time(iri + "#kind"):
                q.add(iri, sf("softwareKind"), sw.kind)
            return iri
        iri = V.program_iri(sw.path or sw.name, sw.sha256 or "")
        if q.first_time(iri):
            q.iri(iri, RDF_TYPE, V.PROV + "Agent")
            q.iri(iri, RDF_TYPE, V.PROV + "SoftwareAgent")
            q.add(iri, sf("name"), sw.name)
            q.add(iri, sf("version"), sw.version)
            q.add(iri, sf("softwareKind"), "program")
            q.add(iri, sf("executablePath"), sw.path or sw.name)
            if sw.sha256:
                q.add(iri, sf("sha256"), sw.sha256)
            q.add(iri, RDFS_LABEL, f"{sw.name} {sw.version}")
        return iri

    def _config_value(self, q: Quads, key: str, value: Any) -> str:
        """The entity of one config value (a dotted key and its value), derived from the
        config files that set its top-level key."""
        value = _plain(value)
        iri = "urn:sciflow:config:" + sha256_text(f"{key}\0{V.canonical_json(value)}")[:32]
        if q.first_time(iri):
            q.iri(iri, RDF_TYPE, V.PROV + "Entity")
            q.iri(iri, RDF_TYPE, V.SF + "ConfigValue")
            q.add(iri, sf("key"), key)
            q.add(iri, P.value, lit(value))
            top = key.split(".", 1)[0]
            for ent, content in self._config_files:
                if top in content:
                    q.iri(iri, P.wasDerivedFrom, ent)
        return iri

    def _facts(self, run: RunInfo, job: Any, result: JobResult):
        """(code sha256, software, {param: config keys}) of the job's rule, found once per
        rule (and script) from the workflow's text: the same for every job of the rule,
        whichever worker ran it (the worker's own list of imported modules is not used)."""
        rule = job.rule
        action = rule.action
        kind = str(getattr(action.kind, "value", action.kind)) if action is not None else ""
        script = result.command if kind in ("script", "notebook") else None
        key = f"{rule.name}\0{script or ''}"
        facts = self._rule_facts.get(key)
        if facts is None:
            if action is None:
                code = None
            elif script and os.path.isfile(script):
                code = self._hashes.digest(script).sha256 if self._hashes else None
            else:
                code = sha256_text(action.source)
            workdir = run.workdir or str(self.workdir)
            software = S.action_software(kind, action.source if action else "", script, workdir)
            facts = (code, software, S.param_config_keys(rule))
            self._rule_facts[key] = facts
        return facts

    def _software(self, q: Quads, name: str, version: str) -> str:
        iri = V.software_iri(name, version)
        if not q.first_time(iri):
            return iri
        q.iri(iri, RDF_TYPE, V.PROV + "Agent")
        q.iri(iri, RDF_TYPE, V.PROV + "SoftwareAgent")
        q.add(iri, sf("name"), name)
        q.add(iri, sf("version"), version)
        q.add(iri, RDFS_LABEL, f"{name} {version}")
        return iri

    def _host(self, q: Quads, host: str) -> str:
        iri = V.host_iri(host)
        if not q.first_time(iri):
            return iri
        q.iri(iri, RDF_TYPE, V.PROV + "Location")
        q.add(iri, RDFS_LABEL, host)
        return iri


_ROLES: dict[tuple[str, str, str], str] = {}  # role IRIs by (scope, kind, name)
MAX_MEMBERS = 10_000  # files of one directory() output recorded one by one
LOG_TAIL_MAX = 8_000  # characters of a failed job's log tail kept in provenance
CAPTION_MAX = 20_000  # characters of a report() caption


def _touches_scidata(job: Any) -> bool:
    """Does the job read or write HDF5/NetCDF files (then the C libraries are recorded)?"""
    return any(scidata.is_scidata(str(f)) for f in (*job.input, *job.output))
