"""Incremental planning: which jobs of the DAG must run, and why.

Follows Snakemake's ``DAG.update_needrun`` so dry-run job counts per rule match it exactly:

1. Visit jobs in topological order and give each its *own* reasons: forced (``--forceall``,
   ``--forcerun``); a target without outputs (always runs if it has an action, or if an input
   is missing); a missing output (targets only); an input newer than the oldest output (or,
   when none exists, than a dependent's; ``ancient()`` inputs exempt, and an input whose
   content still matches the checksum recorded for it is not "newer"); and, from the metadata
   store, changed params, code, input set or software. Jobs downstream of a job that already
   runs are not examined (Snakemake "masks" them): they run anyway, because of step 2.
2. Breadth-first from every job that runs: its dependents run too (UPSTREAM, unless every file
   linking them is ``ancient()`` and exists), and its dependencies run if a file it needs is
   missing. So a deleted intermediate or ``temp()`` file under up-to-date results is only
   remade when a job that needs it runs.
3. Outputs of jobs that do not run but carry an incomplete marker (a crash, or a failure with
   ``--keep-incomplete``) are an error, or with ``--rerun-incomplete`` are rerun (step 2 again).
4. ``--until``: the plan is then cut to jobs upstream of (and including) the named ones;
   ``--omit-from``: the named jobs and everything downstream of them are left out.

Each step was checked against Snakemake 9 as the oracle (tests/execute/test_engine.py).
Each file is stat'ed once (``StatCache``); every step is linear in jobs + edges.
"""
from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from sciflow.confine import check_job_paths
from sciflow.gcpause import paused_gc
from sciflow.errors import WorkflowError
from sciflow.jobs import Job, JobState, Reason, ReasonKind
from sciflow.hashing import checksum
from sciflow.metadata import MetadataStore, fingerprint

if TYPE_CHECKING:  # pragma: no cover
    from sciflow.dag import DAG


@dataclass(slots=True)
class PlanOptions:
    """The ``sciflow run`` flags that change *what* runs."""

    workdir: str = "."
    forceall: bool = False
    forcerun: set[str] = field(default_factory=set)     # rule names (or output paths)
    until: set[str] = field(default_factory=set)        # rule names (or output paths)
    omit_from: set[str] = field(default_factory=set)    # rule names (or output paths)
    rerun_incomplete: bool = False
    touch: bool = False
    check_metadata: bool = True                         # params/code/input-set/software triggers
    # --consider-ancient RULE=ITEM,...: these inputs (names or positions) count as ancient()
    consider_ancient: dict[str, set[str]] = field(default_factory=dict)
    # an HDF5/NetCDF input rewritten with the same content fingerprint is not "newer"
    content_check: bool = True


@dataclass(slots=True)
class Plan:
    """The jobs to run, in topological order, each carrying ``job.reasons``."""

    jobs: list[Job]
    skipped: list[Job] = field(default_factory=list)
    dag: Any = None
    options: PlanOptions | None = None
    # inputs whose bytes changed but whose content fingerprint did not: not a reason to run
    same_content: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.jobs)

    def __iter__(self):
        return iter(self.jobs)

    def counts_by_rule(self) -> dict[str, int]:
        """Jobs to run per rule, sorted by rule name (Snakemake's "Job stats" table)."""
        counts: dict[str, int] = {}
        for job in self.jobs:
            counts[job.rule.name] = counts.get(job.rule.name, 0) + 1
        return dict(sorted(counts.items()))

    def to_json(self) -> dict[str, Any]:
        return {"jobs": [job.to_json() for job in self.jobs]}


class StatCache:
    """``os.stat`` each path once, relative to a working directory without ``chdir``."""

    def __init__(self, workdir: str | os.PathLike[str] = ".") -> None:
        self.workdir = os.fspath(workdir)
        self._mtimes: dict[str, float | None] = {}
        self._fd = os.open(self.workdir, os.O_RDONLY) if os.stat in os.supports_dir_fd else None

    def mtime(self, path: str) -> float | None:
        """Modification time, or None when the path does not exist."""
        try:
            return self._mtimes[path]
        except KeyError:
            pass
        try:
            if self._fd is not None:
                t: float | None = os.stat(path, dir_fd=self._fd).st_mtime
            else:
                t = os.stat(os.path.join(self.workdir, path)).st_mtime
        except (OSError, ValueError):
            t = None
        self._mtimes[path] = t
        return t

    def exists(self, path: str) -> bool:
        return self.mtime(path) is not None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


def _flagged(path: Any, flag: str) -> bool:
    flags = getattr(path, "flags", None)
    return bool(flags) and flag in flags


def _matches(job: Job, names: set[str]) -> bool:
    """A job is named by ``--forcerun``/``--until`` through its rule or one of its outputs."""
    return job.rule.name in names or any(str(o) in names for o in job.output)


def parse_consider_ancient(items: Iterable[str] | None) -> dict[str, set[str]]:
    """``--consider-ancient A=0 B=x,y`` → ``{"A": {"0"}, "B": {"x", "y"}}`` (Snakemake's
    syntax: RULE=INPUTITEM[,INPUTITEM...], an item being an input name or position)."""
    from sciflow.errors import UsageError

    out: dict[str, set[str]] = {}
    for text in items or ():
        rule, sep, rest = str(text).partition("=")
        names = [n.strip().strip("'\"") for n in rest.split(",") if n.strip()]
        if not sep or not rule.strip().isidentifier() or not names or \
                not all(n.isdigit() or n.isidentifier() for n in names):
            raise UsageError(f"--consider-ancient {text}: expected RULE=INPUTITEM[,INPUTITEM...]",
                             hint="e.g. --consider-ancient align=reference,1")
        out.setdefault(rule.strip(), set()).update(names)
    return out


class _Planner:
    def __init__(self, dag: "DAG", meta: MetadataStore | None, options: PlanOptions) -> None:
        self.dag = dag
        self.options = options
        self.stats = StatCache(options.workdir)
        self.records = meta.load() if (meta is not None and options.check_metadata) else {}
        self.incomplete = meta.incomplete() if meta is not None else {}
        wf = getattr(dag, "workflow", None)
        self.workflow_dir = os.path.join(options.workdir, os.path.dirname(wf.path)) if wf and wf.path else options.workdir
        self.code_cache: dict[str, str] = {}
        self.targets = {j.jobid for j in getattr(dag, "targets", ()) or ()}
        self.own: dict[int, list[Reason]] = {}
        self.missing: dict[int, list[str]] = {}  # lists, deduplicated once by reasons_of
        self.upstream: dict[int, list[str]] = {}  # a list per job (a dict costs ~120 B more)
        self._inputs: dict[int, frozenset[str]] = {}
        self._ancient: dict[int, frozenset[str]] = {}
        self._mintime: dict[int, float | None] = {}
        self.same_content: dict[str, None] = {}  # inputs rewritten with the same content
        self._fingerprints: Any = None

    def input_set(self, job: Job) -> frozenset[str]:
        """The job's input paths as a set (cached: an aggregating job may have 100k inputs)."""
        try:
            return self._inputs[job.jobid]
        except KeyError:
            s = self._inputs[job.jobid] = frozenset(map(str, job.input))
            return s

    def linking(self, producer: Job, consumer: Job) -> list[Any]:
        """The outputs of ``producer`` that ``consumer`` reads (iterates the producer's side).
        A consumer with few inputs is scanned: a cached set per job cost ~300 bytes a job."""
        inputs = consumer.input
        if len(inputs) <= 8:
            ins: Any = [str(f) for f in inputs]
        else:
            ins = self.input_set(consumer)
        linked = [o for o in producer.output if str(o) in ins]
        # A consumer may read the producer's log or benchmark file: Snakemake links (and
        # plans) the producer for those too, as `sciflow dag` shows.
        if producer.log:
            linked.extend(f for f in producer.log if isinstance(f, str) and str(f) in ins)
        if producer.benchmark and str(producer.benchmark) in ins:
            linked.append(producer.benchmark)
        return linked

    # ---------------------------------------------------------------------------- own reasons
    def own_reasons(self, job: Job) -> list[Reason]:
        """Every reason of the job's own (Snakemake stops at the first kind found; provenance
        and ``prov diff`` want them all: forced *and* an updated input *and* new params)."""
        opts = self.options
        reasons = []
        if opts.forceall or (opts.forcerun and _matches(job, opts.forcerun)):
            reasons.append(Reason(ReasonKind.FORCED))
        mtime = self.stats.mtime
        outputs = [str(o) for o in job.output]
        if not outputs:
            if job.jobid not in self.targets:
                return reasons
            if not job.input:
                return reasons + [Reason(ReasonKind.NO_OUTPUT)]
            if job.rule.action is not None:
                return reasons + [Reason(ReasonKind.TARGET)]
            missing_in = tuple(str(f) for f in job.input if mtime(str(f)) is None)
            return reasons + ([Reason(ReasonKind.UPSTREAM, missing_in)] if missing_in else [])
        if job.jobid in self.targets:
            # Snakemake checks missing outputs only for targets here; a missing intermediate
            # is remade only when a job that needs it runs (propagate), so a deleted temp()
            # or intermediate file under up-to-date results does not trigger anything.
            missing = [f for f in outputs if mtime(f) is None]
            if missing:
                reasons.append(Reason(ReasonKind.MISSING_OUTPUT, tuple(missing)))
        return reasons + self.input_reasons(job, outputs)

    def input_reasons(self, job: Job, outputs: list[str]) -> list[Reason]:
        """Updated inputs, then what the metadata says changed (params, code...)."""
        opts = self.options
        mtime = self.stats.mtime
        reasons = []
        oldest = self.output_mintime(job)
        if oldest is not None:
            newer = []
            cli = self.cli_ancient(job) if opts.consider_ancient else ()
            for f in job.input:
                if _flagged(f, "ancient") or (cli and str(f) in cli):
                    continue
                t = mtime(str(f))
                if t is not None and t > oldest:
                    newer.append(str(f))
            if newer and self.records:
                newer = [f for f in newer if not self.same_checksum(job, f, outputs)]
            if newer:
                reasons.append(Reason(ReasonKind.UPDATED_INPUT, tuple(newer)))
        if self.records:
            reasons += self.metadata_reasons(job, outputs)
        return reasons

    def output_mintime(self, job: Job) -> float | None:
        """The oldest existing output of ``job`` or, when none exists, of the first dependent
        that has one (Snakemake's ``update_output_mintime``). Filled in reverse topological
        order by ``fill_mintimes`` so this never recurses deeply."""
        try:
            return self._mintime[job.jobid]
        except KeyError:
            pass
        times = [t for t in map(self.stats.mtime, map(str, job.output)) if t is not None]
        value = min(times) if times else None
        if value is None:
            for dep in self.dag.dependents(job):
                value = self._mintime.get(dep.jobid)
                if value is None and dep.jobid not in self._mintime:
                    value = self.output_mintime(dep)
                if value is not None:
                    break
        self._mintime[job.jobid] = value
        return value

    def fill_mintimes(self, jobs: Sequence[Job], candidates: set[int] | None) -> None:
        for job in reversed(jobs):
            if candidates is None or job.jobid in candidates:
                self.output_mintime(job)

    def same_checksum(self, job: Job, path: str, outputs: Sequence[str]) -> bool:
        """A newer input whose content equals what every output was made from (Snakemake 9
        compares checksums of inputs up to 1 MB; sciflow of inputs of any size, each version hashed
        once by ``sciflow.hashing``)."""
        recorded = set()
        for o in outputs:
            rec = self.records.get(o)
            if rec is None:
                return False
            recorded.add(rec.checksum_of(path))
        if len(recorded) != 1 or None in recorded:
            return False
        old = recorded.pop()
        if checksum(os.path.join(self.options.workdir, path)) == old:
            return True
        return self.options.content_check and self.content_unchanged(path, old)

    def content_unchanged(self, path: str, old_sha256: str) -> bool:
        """Other bytes, same HDF5/NetCDF content (sciflow/provenance/fingerprint.py): a
        re-saved or restamped input does not make its consumers run (``--no-content-check``)."""
        from sciflow import scidata

        if not scidata.is_scidata(path):
            return False
        from sciflow.layout import state_dir
        from sciflow.provenance.fingerprint import FingerprintCache, same_content

        if self._fingerprints is None:  # written only where a run already keeps its state
            wd = self.options.workdir
            self._fingerprints = FingerprintCache(wd, readonly=not state_dir(wd).is_dir())
        if same_content(self.options.workdir, path, old_sha256, self._fingerprints) is None:
            return False
        self.same_content[path] = None
        return True

    def metadata_reasons(self, job: Job, outputs: Sequence[str]) -> list[Reason]:
        recs = [self.records.get(o) for o in outputs]
        recs = [r for r in recs if r is not None]
        if not recs:  # no metadata (made by hand or by another tool): not a reason to run
            return []
        fp = fingerprint(job, self.workflow_dir, self.code_cache)
        reasons = []
        if any(r.params_hash != fp.params_hash for r in recs):
            reasons.append(Reason(ReasonKind.PARAMS_CHANGED))
        if any(r.code_hash != fp.code_hash for r in recs):
            reasons.append(Reason(ReasonKind.CODE_CHANGED))
        if any(r.inputs != fp.inputs for r in recs):
            reasons.append(Reason(ReasonKind.INPUT_SET_CHANGED))
        if any(r.software != fp.software for r in recs):
            reasons.append(Reason(ReasonKind.SOFTWARE_CHANGED))
        return reasons

    # ---------------------------------------------------------------------------- propagation
    # Sets and dicts below are keyed by ``job.jobid``: ints hash in C, Job.__hash__ in Python.
    def first_pass(self, jobs: Sequence[Job], candidates: set[int] | None,
                   running: set[int] = frozenset()) -> list[Job]:
        """Own reasons in topological order, masking jobs downstream of one that runs."""
        masked: set[int] = set()
        seeds: list[Job] = []
        deps_of = self.dag.dependencies
        for job in jobs:
            jid = job.jobid
            if candidates is not None and jid not in candidates:
                continue
            deps = deps_of(job)
            if any(d.jobid in masked or d.jobid in running for d in deps):
                masked.add(jid)
                if running and any(d.jobid in running for d in deps):
                    seeds.append(job)  # upstream of a new job already ran in this run
                continue
            reasons = self.own_reasons(job)
            if reasons:
                self.own[jid] = reasons
                masked.add(jid)
                seeds.append(job)
        return seeds

    def propagate(self, seeds: Iterable[Job], candidates: set[int] | None,
                  needrun: set[int], running: set[int] = frozenset(),
                  ran: Iterable[Job] = ()) -> None:
        """Breadth-first: dependents of running jobs run; missing needed inputs are remade."""
        mtime = self.stats.mtime
        queue = deque()
        for job in seeds:
            if job.jobid not in needrun:
                needrun.add(job.jobid)
                queue.append(job)
        dag = self.dag
        missing_of, upstream_of = self.missing, self.upstream
        while queue:
            job = queue.popleft()
            for dep in dag.dependencies(job):
                did = dep.jobid
                if (candidates is not None and did not in candidates) or did in running:
                    continue
                missing = [str(f) for f in self.linking(dep, job) if mtime(str(f)) is None]
                if missing:
                    missing_of.setdefault(did, []).extend(missing)
                    if did not in needrun:
                        needrun.add(did)
                        queue.append(dep)
            for dep in dag.dependents(job):
                did = dep.jobid
                if candidates is not None and did not in candidates:
                    continue
                files = self.linking(job, dep)
                if did not in needrun:
                    if files and all(self.ancient_in(dep, f) and mtime(str(f)) is not None
                                     for f in files):
                        continue
                    needrun.add(did)
                    queue.append(dep)
                upstream_of.setdefault(did, []).extend(map(str, files))  # deduplicated by reasons_of
        for job in ran:  # jobs that ran this run: their dependents run (seeded above)
            for dep in dag.dependents(job):
                if dep.jobid in needrun:
                    files = self.linking(job, dep)
                    upstream_of.setdefault(dep.jobid, []).extend(map(str, files))

    def ancient_in(self, consumer: Job, path: Any) -> bool:
        """Is ``path`` marked ``ancient()`` where ``consumer`` declares it as input (or
        named by ``--consider-ancient``)?"""
        try:
            ancient = self._ancient[consumer.jobid]
        except KeyError:
            ancient = frozenset(str(f) for f in consumer.input if _flagged(f, "ancient"))
            if self.options.consider_ancient:
                ancient |= self.cli_ancient(consumer)
            self._ancient[consumer.jobid] = ancient
        return str(path) in ancient

    def cli_ancient(self, job: Job) -> frozenset[str]:
        """The inputs of ``job`` that ``--consider-ancient RULE=ITEM,...`` names: a name
        names a named input (all its files), a number the position among the unnamed
        inputs (0 is the first), as in Snakemake."""
        items = self.options.consider_ancient.get(job.rule.name)
        if not items:
            return frozenset()
        inputs = job.input
        names = getattr(inputs, "_names", {})
        named: set[int] = set()
        for start, end in names.values():
            named.update(range(start, end if end is not None else start + 1))
        unnamed = [f for i, f in enumerate(list.__iter__(inputs)) if i not in named]
        found: set[str] = set()
        for item in items:
            if item in names:
                start, end = names[item]
                found.update(map(str, list.__getitem__(inputs, slice(start, end or start + 1))))
            elif item.isdigit() and int(item) < len(unnamed):
                found.add(str(unnamed[int(item)]))
            else:
                raise WorkflowError(
                    f"--consider-ancient {job.rule.name}={item}: rule {job.rule.name} has no "
                    f"input named {item!r} (names: {', '.join(names) or 'none'}; "
                    f"{len(unnamed)} unnamed input files)", job.rule.loc_of("input"),
                    hint="Give an input name of the rule, or the position of an unnamed "
                         "input (0 is the first).")
        return frozenset(found)

    def reasons_of(self, job: Job) -> list[Reason]:
        """The job's final reasons. Called once per job: it takes the job's entries out of
        the planner, so the working data shrinks as the reasons are built (peak memory)."""
        jid = job.jobid
        own = self.own.pop(jid, None)
        reasons = list(own or ())
        later: list[Reason] = []
        if own is None and self.records and job.output:
            # not examined (downstream of a job that runs): its changed params, code, input
            # set or software are reasons too, after the upstream one
            later = self.metadata_reasons(job, [str(o) for o in job.output])
        missing = self.missing.pop(jid, None)
        if missing and not any(r.kind is ReasonKind.MISSING_OUTPUT for r in reasons):
            reasons.append(Reason(ReasonKind.MISSING_OUTPUT, tuple(dict.fromkeys(missing))))
        upstream = self.upstream.pop(jid, None)
        if upstream is not None and not any(r.kind is ReasonKind.FORCED for r in reasons):
            mine = [r for r in reasons if r.kind is ReasonKind.UPSTREAM]
            if mine:  # a target whose inputs are missing: one reason with all the files
                reasons.remove(mine[0])
                upstream = [*mine[0].files, *upstream]
            reasons.append(Reason(ReasonKind.UPSTREAM, tuple(dict.fromkeys(upstream))))
        reasons += later
        if not reasons:
            reasons.append(Reason(ReasonKind.UPSTREAM))
        return reasons

    def incomplete_jobs(self, jobs: Iterable[Job], candidates: set[int] | None,
                        needrun: set[int]) -> list[tuple[Job, list[str]]]:
        if not self.incomplete:
            return []
        found = []
        for job in jobs:
            if job.jobid in needrun or (candidates is not None and job.jobid not in candidates):
                continue
            files = [str(o) for o in job.output
                     if str(o) in self.incomplete and self.stats.exists(str(o))]
            if files:
                found.append((job, files))
        return found


def _shown(files: Sequence[str]) -> str:
    return "\n    ".join(files[:20]) + (f"\n    ... and {len(files) - 20} more"
                                         if len(files) > 20 else "")


def recover_incomplete(incomplete: Sequence[tuple[Job, list[str]]], markers: dict[str, str],
                       options: PlanOptions, jobs_of_dag: Sequence[Job] = ()
                       ) -> list[tuple[Job, list[str], str]]:
    """Which jobs with incomplete outputs to redo, and why (``(job, files, detail)``).

    The marker names the run that set it; that run's lock (live, or kept in
    ``.sciflow/lock/dead/`` once found dead) says whether it is still running:

    * provably dead (this host and its pid is gone or reused, or its lock expired): redo,
      without any flag, saying so in the reason — the run can never finish those files;
    * alive: another run is making these files now — ``LockError`` listing every output of
      this DAG that run writes;
    * otherwise (another host, or no lock: the run ended, e.g. ``--keep-incomplete``):
      ``--rerun-incomplete`` decides, as in Snakemake."""
    from sciflow.errors import LockError
    from sciflow.lock import ALIVE, DEAD, find_run, owner_state

    states: dict[str, tuple[str, Any]] = {}

    def state_of(run_id: str) -> tuple[str, Any]:
        if run_id not in states:
            info = find_run(options.workdir, run_id)
            states[run_id] = (owner_state(info) if info is not None else "gone", info)
        return states[run_id]

    redo, alive, ask = [], [], []
    for job, files in incomplete:
        runs = [state_of(markers.get(f, "")) for f in files]
        if all(state == DEAD for state, _ in runs):
            info = runs[0][1]
            redo.append((job, files, f"the run that wrote it ({info.describe()}) is dead"))
        elif any(state == ALIVE for state, _ in runs):
            info = next(i for st, i in runs if st == ALIVE)
            alive.append((info, files))
        elif options.rerun_incomplete:
            redo.append((job, files, "--rerun-incomplete"))
        else:
            ask.append((runs, files))
    if alive:
        info = alive[0][0]
        ours = {str(o) for job in jobs_of_dag for o in job.output}
        files = sorted(ours.intersection(info.outputs)) or [f for _i, fs in alive for f in fs]
        raise LockError(f"another sciflow run ({info.describe()}, run {info.run_id}) is making "
                        f"these outputs right now:\n    {_shown(files)}",
                        hint="Wait for it to finish, or choose targets that do not overlap.")
    if ask:
        files = [f for _r, fs in ask for f in fs]
        others = sorted({i.host for runs, _ in ask for st, i in runs if i is not None
                         and st != DEAD})
        why = (f"the run that made them may still be running on host {', '.join(others)}"
               if others else "a previous run failed or was interrupted while making them")
        raise WorkflowError(
            f"The files below seem to be incomplete: {why}.\n    {_shown(files)}",
            hint="Rerun with --rerun-incomplete to remake them (or remove them by hand).")
    return redo


def _omitted(dag: "DAG", jobs: Iterable[Job], options: PlanOptions) -> set[int]:
    """``--omit-from``: the named jobs and everything downstream of them (Snakemake's
    ``delete_omitfrom_jobs``, applied after needrun, and again after each checkpoint)."""
    if not options.omit_from:
        return set()
    return _closure([j for j in jobs if _matches(j, options.omit_from)], dag.dependents)


def _closure(roots: Iterable[Job], step: Callable[[Job], list[Job]]) -> set[int]:
    """The ids of ``roots`` and of every job reached from them by ``step`` (an explicit stack:
    chains of thousands of jobs would exceed Python's recursion limit)."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        job = stack.pop()
        if job.jobid in seen:
            continue
        seen.add(job.jobid)
        stack.extend(step(job))
    return seen


def make_plan(dag: "DAG", meta: MetadataStore | None, options: PlanOptions | None = None) -> Plan:
    """Decide which jobs of ``dag`` run; sets ``job.reasons`` and ``job.state`` on every job.

    Raises ``WorkflowError`` when outputs are incomplete and ``--rerun-incomplete`` is not set
    (Snakemake's IncompleteFilesException)."""
    options = options or PlanOptions()
    jobs = list(dag.jobs)
    # Every declared output/log/benchmark, whether or not it runs now: "." exists and so
    # looks up to date, but must still be refused (see sciflow.confine).
    check_job_paths(jobs, options.workdir, getattr(dag, "workflow", None))
    planner = _Planner(dag, meta, options)
    rules = getattr(getattr(dag, "workflow", None), "rules", None)
    unknown = sorted(set(options.consider_ancient) - set(rules)) if rules is not None else []
    if unknown:
        raise WorkflowError(f"--consider-ancient names rules the workflow does not have: "
                            f"{', '.join(unknown)}", hint="Use RULE=INPUTITEM with a rule name "
                            "(`sciflow rules` lists them).")
    with paused_gc():
        try:
            candidates: set[int] | None = None
            until_ids: set[int] | None = None
            if options.until:
                roots = [j for j in jobs if _matches(j, options.until)]
                if not roots:
                    raise WorkflowError(f"--until {', '.join(sorted(options.until))}: no job of the "
                                        "workflow matches",
                                        hint="Name a rule (or an output file) of the DAG.")
                # As Snakemake: plan as usual, then keep only jobs upstream of (and including)
                # the --until jobs (``set_until_jobs`` runs after ``update_needrun``).
                until_ids = _closure(roots, dag.dependencies)
            needrun: set[int] = set()
            planner.fill_mintimes(jobs, candidates)
            planner.propagate(planner.first_pass(jobs, candidates), candidates, needrun)
            incomplete = planner.incomplete_jobs(jobs, candidates, needrun)
            if incomplete:
                redo = recover_incomplete(incomplete, planner.incomplete, options, jobs)
                for job, fs, detail in redo:
                    planner.own[job.jobid] = [Reason(ReasonKind.INCOMPLETE, tuple(fs), detail)]
                planner.propagate([j for j, _, _ in redo], candidates, needrun)
        finally:
            planner.stats.close()
            if planner._fingerprints is not None:
                planner._fingerprints.close()
        torun, skipped = [], []
        if until_ids is not None:
            needrun &= until_ids
        needrun -= _omitted(dag, jobs, options)
        for job in jobs:
            if job.jobid in needrun:
                job.reasons = planner.reasons_of(job)
                job.state = JobState.WAITING
                torun.append(job)
            elif candidates is None or job.jobid in candidates:
                job.reasons = []
                job.state = JobState.SKIPPED
                skipped.append(job)
    return Plan(torun, skipped, dag, options, list(planner.same_content))


def plan_added_jobs(dag: "DAG", new_jobs: Sequence[Job], meta: MetadataStore | None,
                    options: PlanOptions, ran: Iterable[Job],
                    pending: Iterable[Job] = ()) -> list[Job]:
    """After a checkpoint: which of the DAG's ``new_jobs`` run, given the jobs that ``ran``
    in this run (their dependents always run) and the ``pending`` jobs still to run (what
    they need and is missing is made, e.g. the chunks an aggregation now asks for).
    Incomplete outputs are simply rerun."""
    check_job_paths(new_jobs, options.workdir, getattr(dag, "workflow", None))
    planner = _Planner(dag, meta, options)
    ran = list(ran)
    ran_ids = {j.jobid for j in ran}
    try:
        new_ids = {j.jobid for j in new_jobs}
        needrun: set[int] = set()
        planner.fill_mintimes(new_jobs, new_ids)
        seeds = list(pending) + planner.first_pass(new_jobs, new_ids, running=ran_ids)
        planner.propagate(seeds, new_ids, needrun, running=ran_ids, ran=ran)
        incomplete = planner.incomplete_jobs(new_jobs, new_ids, needrun)
        for job, fs in incomplete:
            planner.own[job.jobid] = [Reason(ReasonKind.INCOMPLETE, tuple(fs))]
        planner.propagate([j for j, _ in incomplete], new_ids, needrun, running=ran_ids, ran=ran)
    finally:
        planner.stats.close()
    needrun -= _omitted(dag, dag.jobs, options)
    out = []
    for job in new_jobs:
        if job.jobid in needrun:
            job.reasons = planner.reasons_of(job)
            job.state = JobState.WAITING
            out.append(job)
        else:
            job.reasons = []
            job.state = JobState.SKIPPED
    return out
