"""The file-dependency DAG: from targets to ``Job``s, as Snakemake builds it.

``build_dag(workflow, targets)`` starts from each target (a rule name or a file), finds the
rules whose output/log/benchmark patterns match each needed file (``sciflow.dag.index``),
and recursively resolves their inputs. Semantics follow Snakemake 9's ``DAG.update``:

* candidate producers are tried best first (``ruleorder``, then the rule without wildcards);
  a candidate whose own inputs cannot be made is discarded (backtracking); two surviving
  candidates of equal rank are an ``AmbiguousRuleError``;
* an input no rule makes must exist on disk; an input that exists *and* that a rule can make
  is linked to that rule's job (the plan decides whether it runs); if its producer cannot be
  built the existing file is used as is;
* input functions asking an unfinished checkpoint make the job depend on the checkpoint job;
  ``DAG.after_checkpoint`` re-evaluates them once it has run (``sciflow.dag.checkpoints``);
* a rule feeding on its own output ends the search: periodic wildcard values (Snakemake's
  ``PeriodicWildcardError``) and paths no file system can hold have no producer.

The search is depth-first without Python recursion (generators driven from an explicit
stack), memoises the producer of every path, and keeps one ``Job`` per (rule, wildcards),
so building takes time linear in the number of jobs.

>>> from sciflow.model import Workflow, WorkflowBuilder, SourceLoc
>>> wf = Workflow(path="Snakefile"); b = WorkflowBuilder(wf)
>>> _ = b.add_rule("all", SourceLoc("Snakefile", 1), input=((["b/x.txt", "b/y.txt"],), {}))
>>> _ = b.add_rule("make", SourceLoc("Snakefile", 4), input=((), {}),
...                output=(("b/{s}.txt",), {}))
>>> dag = build_dag(wf)
>>> [repr(j) for j in dag.jobs]
['Job(1, make, s=x)', 'Job(2, make, s=y)', 'Job(3, all)']
"""
from __future__ import annotations

import difflib
import functools
import os
from typing import Any, Generator, Iterable, Sequence

from sciflow.dag import render
from sciflow.dag.checkpoints import install_resolver
from sciflow.dag.factory import JobFactory
from sciflow.dag.index import RuleIndex, RuleInfo, check_periodic, rule_label, tie_rules
from sciflow.errors import (AmbiguousRuleError, CyclicDependencyError, DAGError, ErrorGroup,
                            MissingInputError, SciflowError, UnknownTargetError, WildcardError,
                            WorkflowError)
from sciflow.gcpause import paused_gc
from sciflow.jobs import Job
from sciflow.model import Rule, Workflow

__all__ = ["DAG", "build_dag"]

AMBIGUITY_HINT = ("Consider starting rule output with a unique prefix, constrain your wildcards, "
                  "or use the ruleorder directive.")
_UNKNOWN = object()
_MAX_ERRORS = 10  # listed in one ErrorGroup


def build_dag(workflow: Workflow, targets: Sequence[str] = ()) -> "DAG":
    """The job graph needed to make ``targets`` (rule names or file paths; none means the
    workflow's default target rule). Raises ``CyclicDependencyError``, ``MissingInputError``,
    ``AmbiguousRuleError``, ``UnknownTargetError``, ``WildcardError`` or an ``ErrorGroup``
    of independent ones."""
    dag = DAG(workflow)
    with paused_gc():
        dag._build(list(targets))
    return dag


class DAG:
    """Jobs and their dependencies. ``jobs`` is topological (dependencies first)."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self._infos: dict[str, RuleInfo] = {
            name: RuleInfo(rule, i, workflow) for i, (name, rule) in enumerate(workflow.rules.items())}
        self._index = RuleIndex(self._infos.values())
        self._factory = JobFactory(workflow, info_for=lambda rule: self._infos[rule.name])
        tie_rules(list(self._infos.values()))
        self._clauses = [{name: i for i, name in enumerate(names)}
                         for names, _loc in workflow.ruleorder]
        self._cmp_key = functools.cmp_to_key(self._compare_jobs)
        self._known: dict[str, Job | None] = {}      # path -> chosen producer (None: a leaf)
        self._failed: dict[Job, SciflowError] = {}   # jobs whose inputs cannot be made
        self._deps: dict[Job, list[Job]] = {}        # finished jobs -> their dependencies
        self._dependents: dict[Job, list[Job]] = {}
        self._rule_jobs: dict[str, Job] = {}         # jobs of rules without products
        self._path: list[Job] = []                   # the DFS path (for cycle messages)
        self._on_path: set[Job] = set()
        self._speculative = 0  # > 0 while trying one of several candidate producers
        self._order: list[Job] | None = []
        self.targets: list[Job] = []
        self._next_id = 1
        self._created: set[str] = set()               # outputs of finished checkpoints
        install_resolver(workflow, self._infos.get, self._created, self._factory)

    # ------------------------------------------------------------------ public API
    @property
    def jobs(self) -> list[Job]:
        """Every job, dependencies before dependents."""
        if self._order is None:
            self._order = self._toposort(self.targets)
        return self._order

    def __len__(self) -> int:
        return len(self.jobs)

    def __iter__(self):
        return iter(self.jobs)

    def dependencies(self, job: Job) -> list[Job]:
        return list(self._deps.get(job, ()))

    def dependents(self, job: Job) -> list[Job]:
        return list(self._dependents.get(job, ()))

    def producer(self, path: str) -> Job | None:
        """The job of this DAG that makes ``path``, if any."""
        job = self._known.get(path)
        if job is not None and job.jobid > 0:
            return job
        for info in self._index.candidates(path):
            job = info.cache.get(path)
            if job is not None and job in self._deps and job.jobid > 0:
                return job
        return None

    @property
    def pending_checkpoints(self) -> bool:
        """True while some job's inputs wait on a checkpoint that has not run."""
        return any(job.jobid > 0 and job in self._deps for job in self._factory.pending)

    def waiting_on_checkpoint(self, job: Job) -> list[str]:
        """The checkpoint target files ``job``'s input functions are waiting for."""
        return list(self._factory.pending.get(job, ()))

    def after_checkpoint(self, job: Job) -> list[Job]:
        """Checkpoint ``job`` finished: re-evaluate the jobs waiting on it and return the
        jobs added to the DAG, dependencies first."""
        with paused_gc():
            return self._after_checkpoint(job)

    def _after_checkpoint(self, checkpoint: Job) -> list[Job]:
        self._created.update(str(o) for o in checkpoint.output)
        self._failed.clear()  # files appeared: earlier failures may no longer hold
        pending, asked = self._factory.pending, self._factory.asked
        waiting = [j for j in self._dependents.get(checkpoint, ()) if j in pending or j in asked]
        if not waiting:
            return []
        errors = []
        for job in waiting:
            old = self._deps.pop(job)
            self._factory.refresh(job)
            try:
                _drive(self._process(job))
            except Exception as exc:
                self._deps[job] = old
                errors.append(exc)
                continue
            for dep in old:
                users = self._dependents.get(dep)
                if users is not None and job in users:
                    users.remove(job)
            for dep in self._deps[job]:
                self._dependents.setdefault(dep, []).append(job)
        if errors:
            raise _combine(errors)
        return self._finish(waiting)

    def rule_of(self, name: str) -> Rule:
        return self._infos[name].rule

    # ---- pictures: drawn by sciflow.dag.render from the public graph API above
    def to_dot(self, rulegraph: bool = False) -> str:
        """The job graph (or, with ``rulegraph``, the rule graph) in Graphviz dot."""
        return render.to_dot(self, rulegraph)

    def to_mermaid(self, rulegraph: bool = False) -> str:
        """The job graph (or rule graph) as a Mermaid flowchart."""
        return render.to_mermaid(self, rulegraph)

    def to_svg(self, rulegraph: bool = False) -> str:
        """SVG drawn by Graphviz's ``dot`` (needs the ``graphviz`` package and binary)."""
        return render.render_svg(self.to_dot(rulegraph))

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def __repr__(self) -> str:
        return f"<DAG: {len(self.jobs)} jobs, targets {[j.name for j in self.targets]}>"

    # ------------------------------------------------------------------ building
    def _build(self, targets: list[str]) -> None:
        if not targets:
            rule = self.workflow.default_target_rule
            # No rules at all (e.g. only an empty include:), or only included files define
            # rules: no default target, nothing to do (Snakemake says so and succeeds).
            targets = [rule.name] if rule is not None else []
        errors: list[SciflowError] = []
        for target in targets:
            try:
                job = _drive(self._target(target))
            except WorkflowError as exc:
                errors.append(exc)
                continue
            if job not in self.targets:
                self.targets.append(job)
        if errors:
            raise _combine(errors)
        self._finish(self.targets)

    def _finish(self, roots: Iterable[Job]) -> list[Job]:
        """Number the new jobs reachable from ``roots`` and record their dependents."""
        roots = list(roots)
        order = self._toposort(roots)
        new = [j for j in order if j.jobid < 1]
        for job in new:
            job.jobid = self._next_id
            self._next_id += 1
            for dep in self._deps[job]:
                self._dependents.setdefault(dep, []).append(job)
        self._order = order if roots == self.targets else None
        return new

    def _toposort(self, roots: Iterable[Job]) -> list[Job]:
        order: list[Job] = []
        seen: set[Job] = set()
        deps = self._deps
        for root in roots:
            if root in seen:
                continue
            seen.add(root)
            stack = [(root, iter(deps[root]))]
            while stack:
                job, it = stack[-1]
                for dep in it:
                    if dep not in seen:
                        seen.add(dep)
                        stack.append((dep, iter(deps[dep])))
                        break
                else:
                    stack.pop()
                    order.append(job)
        return order

    def _target(self, target: str) -> Generator[Any, Any, Job]:
        info = self._infos.get(target)
        if info is not None:
            job = self._rule_job(info)
            if job not in self._deps:
                yield self._process(job)
            return job
        path = os.path.normpath(target) if target else target
        known = self._known.get(path)
        if known is not None:
            return known
        candidates = self._file2jobs(path, None)
        if not candidates:
            raise self._unknown_target(path)
        producer = yield self._resolve_file(path, candidates)
        self._known[path] = producer
        return producer

    def _rule_job(self, info: RuleInfo) -> Job:
        if info.has_wildcards:
            raise WildcardError(
                f"target rule {info.label} has wildcards ({', '.join(info.wc_names)}); a rule "
                "given as target may not contain wildcards", info.rule.loc,
                hint="Name concrete files on the command line, or put a rule without wildcards "
                     "(e.g. 'rule all' collecting the results) first in the workflow.")
        if info.products:
            path = info.products[0][0]
            job = info.cache.get(path)
            if job is None:
                job = self._new_job(info, info.make_wildcards({}))
            return job
        job = self._rule_jobs.get(info.rule.name)
        if job is None:
            job = self._rule_jobs[info.rule.name] = self._new_job(info, info.make_wildcards({}))
        return job

    def _new_job(self, info: RuleInfo, wildcards) -> Job:
        job = self._factory.new_job(info, wildcards)
        cache = info.cache
        for path in job.output:
            cache[path] = job
        for path in job.log:
            if isinstance(path, str):
                cache[path] = job
        if job.benchmark:
            cache[job.benchmark] = job
        return job

    def _file2jobs(self, path: str, hint: Any) -> list[Job]:
        """Candidate producer jobs for ``path`` (Snakemake's ``file2jobs``). A candidate whose
        input function fails is dropped unless every candidate fails."""
        jobs: list[Job] = []
        errors: list[WorkflowError] = []
        for info in self._index.candidates(path):
            job = info.cache.get(path)
            if job is None:
                wildcards = info.match(path, hint)
                if wildcards is None:
                    continue
                try:
                    job = self._new_job(info, wildcards)
                except WorkflowError as exc:
                    errors.append(exc)
                    continue
            jobs.append(job)
        if not jobs and errors:
            raise errors[0]
        return jobs

    def _rule_candidate(self, path: str, rulename: str, asker: Job) -> list[Job]:
        """The producer of ``path`` when the input names its rule (``rules.b.output``):
        only that rule is a candidate, so other rules making the same file are no
        ambiguity and ``ruleorder`` is not asked (Snakemake's rule dependencies)."""
        info = self._infos[rulename]
        job = info.cache.get(path)
        if job is None:
            wildcards = info.match(path, asker.wildcards)
            if wildcards is None:
                return []
            job = self._new_job(info, wildcards)
        return [job]

    # ---- ranking producers (Snakemake's Ruleorder.compare)
    def _compare_rules(self, a: RuleInfo, b: RuleInfo) -> int:
        """> 0 if ``a`` is preferred over ``b``, < 0 if ``b`` is, 0 if neither."""
        if a is not b:
            for clause in reversed(self._clauses):
                i, j = clause.get(a.rule.name), clause.get(b.rule.name)
                if i is not None and j is not None:
                    return (j > i) - (j < i)
        return b.has_wildcards - a.has_wildcards

    def _compare_jobs(self, x: Job, y: Job) -> int:
        return self._compare_rules(self._infos[x.rule.name], self._infos[y.rule.name])

    # ---- the search (generators: ``result = yield subcall``; see _drive)
    def _resolve_file(self, path: str, candidates: list[Job]) -> Generator[Any, Any, Job]:
        """Choose the producer of ``path`` among ``candidates`` (Snakemake's ``DAG.update``)."""
        if len(candidates) > 1:
            candidates = sorted(candidates, key=self._cmp_key, reverse=True)
        producers: list[Job] = []
        errors: list[WorkflowError] = []
        cycles: list[Job] = []
        discarded: set[Job] = set()
        for job in candidates:
            if job in self._on_path or _reads_own(job, path):
                cycles.append(job)
                continue
            try:
                if job not in self._deps:
                    check_periodic(job)
                    failed = self._failed.get(job)
                    if failed is not None:
                        raise failed.with_traceback(None)
                    self._speculative += 1
                    try:
                        yield self._process(job)
                    finally:
                        self._speculative -= 1
            except AmbiguousRuleError:
                raise
            except WorkflowError as exc:
                errors.append(exc)
                discarded.add(job)
                continue
            producers.append(job)
            if all(self._compare_jobs(job, other) > 0 for other in candidates
                   if other is not job and other not in discarded):
                break
        if not producers:
            if cycles:
                raise self._cycle_error(cycles[0], path)
            raise _combine(errors)
        if len(producers) > 1:
            producers.sort(key=self._cmp_key, reverse=True)
            best = producers[0]
            for other in producers[1:]:
                if self._compare_jobs(other, best) == 0:
                    raise self._ambiguity_error(path, best, other)
        return producers[0]

    def _process(self, job: Job) -> Generator[Any, Any, None]:
        """Resolve every input of ``job`` (Snakemake's ``DAG.update_``)."""
        self._path.append(job)
        self._on_path.add(job)
        deps: dict[Job, None] = {}
        missing: list[str] = []
        errors: list[WorkflowError] = []
        known = self._known
        ruledeps = self._factory.ruledeps.get(job)
        try:
            paths = job.input
            asked = self._factory.asked.get(job)
            if asked:  # outputs of finished checkpoints read by input functions
                paths = list(paths) + asked
            for path in dict.fromkeys(paths):
                if self._speculative and errors:
                    # another producer may be chosen: one failure is enough (Snakemake stops
                    # at the first failed dependency; inputs nobody makes are listed at the end)
                    break
                if "before_update" in getattr(path, "flags", ()):
                    # the file as it is before a job of this run updates it: no producer is
                    # looked for (Snakemake), so a job may read what it updates, no cycle
                    if not os.path.exists(path):
                        missing.append(path)
                    continue
                producer = known.get(path, _UNKNOWN)
                if producer is None:
                    if not os.path.exists(path):
                        missing.append(path)
                    continue
                if producer is not _UNKNOWN:
                    deps[producer] = None  # type: ignore[index]
                    continue
                candidates = None  # set once the candidates are known (see WorkflowError below)
                try:
                    if ruledeps is not None and path in ruledeps:
                        candidates = self._rule_candidate(path, ruledeps[path], job)
                    else:
                        candidates = (self._file2jobs(path, job.wildcards)
                                      if len(path) <= 255 or _possible_path(path) else [])
                    if not candidates:
                        known[path] = None
                        if not os.path.exists(path):
                            missing.append(path)
                        continue
                    if len(candidates) == 1:  # the common case, without a _resolve_file frame
                        producer = candidates[0]
                        if producer in self._on_path or _reads_own(producer, path):
                            raise self._cycle_error(producer, path)
                        if producer not in self._deps:
                            check_periodic(producer)
                            failed = self._failed.get(producer)
                            if failed is not None:
                                raise failed.with_traceback(None)
                            yield self._process(producer)
                    else:
                        producer = yield self._resolve_file(path, candidates)
                except AmbiguousRuleError as exc:
                    if not errors:
                        raise
                    errors.append(exc)  # the job fails anyway: report it with the first failure
                    continue
                except WorkflowError as exc:
                    if candidates is not None and os.path.exists(path):
                        # a producer was found but cannot be built; the file is there: its
                        # producer is not needed (a failing lookup is an error either way)
                        known[path] = None
                    else:
                        errors.append(exc)
                    continue
                known[path] = producer
                deps[producer] = None
        finally:
            self._path.pop()
            self._on_path.discard(job)
        if missing:
            errors.insert(0, self._missing_error(job, missing))
        if errors:
            error = _combine(errors)
            if not any(_is_cyclic(e) for e in errors):
                self._failed[job] = error
            else:
                error._cyclic = True  # type: ignore[attr-defined]
            raise error
        self._deps[job] = list(deps)

    # ---- error messages
    def _cycle_error(self, job: Job, path: str) -> CyclicDependencyError:
        if job in self._on_path:
            start = self._path.index(job)
            chain = self._path[start:] + [job]
        else:
            chain = [job, job]
        text = " -> ".join(rule_label(j.rule) for j in chain[:-1]) + f" -> {chain[-1].rule.name}"
        err = CyclicDependencyError(
            f"cyclic dependency on rule {job.rule.name} (file {path}): {text}", job.rule.loc,
            hint="Each rule in the chain needs a file the next one makes; make the output "
                 "patterns more specific (e.g. distinct prefixes) or constrain the wildcards.")
        err.chain = [j.rule.name for j in chain]  # type: ignore[attr-defined]
        err._cyclic = True  # type: ignore[attr-defined]
        return err

    def _ambiguity_error(self, path: str, a: Job, b: Job) -> AmbiguousRuleError:
        def describe(j: Job) -> str:
            wc = ", ".join(f"{k}={v}" for k, v in j.wildcards.items()) or "none"
            return f"    {rule_label(j.rule)}: wildcards {wc}"
        err = AmbiguousRuleError(
            f"rules {a.rule.name} ({a.rule.loc.path}:{a.rule.loc.line}) and {b.rule.name} "
            f"({b.rule.loc.path}:{b.rule.loc.line}) are ambiguous for the file {path}\n"
            + describe(a) + "\n" + describe(b), b.rule.loc, hint=AMBIGUITY_HINT)
        err.rules = (a.rule.name, b.rule.name)  # type: ignore[attr-defined]
        return err

    def _missing_error(self, job: Job, files: list[str]) -> MissingInputError:
        wc = ", ".join(f"{k}={v}" for k, v in job.wildcards.items())
        lines = [f"missing input files for rule {rule_label(job.rule)}",
                 f"    job: {job.rule.name}" + (f" ({wc})" if wc else "")]
        if len(job.output):
            lines.append("    output: " + ", ".join(job.output))
        lines.append("    affected files:")
        lines.extend(f"        {f}" for f in files)
        err = MissingInputError("\n".join(lines), job.rule.loc_of("input"),
                                hint="No rule makes these files and they do not exist: check "
                                     "the paths, or add a rule whose output matches them.")
        err.files = list(files)  # type: ignore[attr-defined]
        err.job = job  # type: ignore[attr-defined]
        return err

    def _unknown_target(self, path: str) -> UnknownTargetError:
        patterns: dict[str, RuleInfo] = {}
        for info in self._infos.values():
            for pattern, _ in info.products:
                patterns.setdefault(pattern, info)
        close = difflib.get_close_matches(path, list(patterns), n=3, cutoff=0.4)
        names = difflib.get_close_matches(path, list(self._infos), n=3, cutoff=0.6)
        hint_lines = []
        if close:
            hint_lines.append("Rules that make something similar:")
            hint_lines.extend(f"    {patterns[p].label}: {p}" for p in close)
        if names:
            hint_lines.append("Rules with a similar name: " + ", ".join(
                self._infos[n].label for n in names))
        exists = " (it exists, but no rule makes it)" if os.path.exists(path) else ""
        err = UnknownTargetError(
            f"no rule to produce {path}{exists}, and it is not the name of a rule",
            hint="\n".join(hint_lines) or "Check the spelling of the target; `sciflow rules` "
                                          "lists the rules and their outputs.")
        err.suggestions = [patterns[p].rule.name for p in close]  # type: ignore[attr-defined]
        return err


# ------------------------------------------------------------------------------ helpers
def _drive(gen: Generator[Any, Any, Any]) -> Any:
    """Run a generator-based recursion on an explicit stack (no recursion limit).

    A generator yields a sub-generator to "call" it and receives its return value (or its
    exception, thrown in at the yield)."""
    stack = [gen]
    value: Any = None
    error: BaseException | None = None
    while stack:
        top = stack[-1]
        try:
            if error is not None:
                pending, error = error, None
                sub = top.throw(pending)
            else:
                sub = top.send(value)
        except StopIteration as stop:
            stack.pop()
            value = stop.value
            continue
        except BaseException as exc:  # propagate to the caller's yield
            stack.pop()
            if not stack:
                raise
            # a user-facing error needs no traceback; keeping one would grow with every
            # level it passes and every time a memoised failure is raised again
            error = exc.with_traceback(None) if isinstance(exc, SciflowError) else exc
            continue
        stack.append(sub)
        value = None
    return value


def _possible_path(path: str) -> bool:
    """False for a path no file system can hold (> 4096 bytes, or a name > 255 bytes).

    Such paths come from rules feeding on their own output with a growing prefix
    (``b/{s}.txt`` from ``b/pre_{s}.txt``): no producer is looked up for them, which bounds
    the search where Snakemake stops at Python's recursion limit."""
    data = os.fsencode(path)
    return len(data) <= 4096 and all(len(part) <= 255 for part in data.split(b"/"))


def _is_cyclic(err: BaseException) -> bool:
    if getattr(err, "_cyclic", False):
        return True
    return any(_is_cyclic(e) for e in getattr(err, "errors", ()))


def _combine(errors: list) -> SciflowError:
    flat: list[SciflowError] = []
    for e in errors:
        if isinstance(e, ErrorGroup):
            flat.extend(x for x in e.errors if x not in flat)
        elif e not in flat:
            flat.append(e)
    if len(flat) == 1:
        return flat[0]
    if len(flat) > _MAX_ERRORS:  # e.g. every alternative of a deep search failed
        more = len(flat) - _MAX_ERRORS
        flat = flat[:_MAX_ERRORS] + [DAGError(f"... and {more} more problem{'s' * (more > 1)} "
                                              "found while trying other producers")]
    group = ErrorGroup(flat)
    if any(_is_cyclic(e) for e in flat):
        group._cyclic = True  # type: ignore[attr-defined]
    return group


def _reads_own(job: Job, path: str) -> bool:
    """Whether ``job`` reads ``path`` as an input it would have to make itself (a cycle); an
    input flagged ``before_update`` is the file before the job updates it (Snakemake)."""
    return any(p == path and "before_update" not in getattr(p, "flags", ())
               for p in job.input)
