"""Turning a rule plus wildcard values into a ``Job``.

``JobFactory`` applies wildcards to a rule's directives — input functions, ``unpack``, params
callables, threads/resources callables — exactly as Snakemake's ``Rule.expand_*`` do, and
reuses one ``Job`` per (rule, product path). It is the part of the DAG stage that calls user
code. Jobs of one rule share the name tables of their ``NamedList``s, which keeps a job at a
few hundred bytes.
"""
from __future__ import annotations

import inspect
import os
import types
from pathlib import Path
from typing import Any, Callable, Iterator

from sciflow import wildcards as wc
from sciflow.dag.index import RuleInfo, rule_label
from sciflow.errors import IncompleteCheckpointError, RuleError, SciflowError, WildcardError
from sciflow.jobs import Job
from sciflow.model import (FlaggedFunction, IOFile, NamedList, Rule, Unpack, Wildcards, Workflow,
                           name_slots, namedlist_of)
from sciflow.resources_config import InputSizes

__all__ = ["JobFactory", "call_with_aux", "whole_number", "namedlist_of"]


# ------------------------------------------------------------------------------ calling user code
_SIGNATURES: dict[Any, tuple[frozenset[str], bool]] = {}


def _signature(func: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    try:
        return _SIGNATURES[func]
    except (KeyError, TypeError):
        pass
    target = func.func if isinstance(func, (FlaggedFunction, Unpack)) else func
    try:
        params = inspect.signature(target).parameters
        result = (frozenset(params),
                  any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()))
    except (TypeError, ValueError):
        result = (frozenset(), False)
    try:
        _SIGNATURES[func] = result
    except TypeError:
        pass
    return result


def call_with_aux(func: Callable[..., Any], wildcards: Wildcards, **aux: Any) -> Any:
    """Call a user function as Snakemake does: wildcards first, then those of ``aux``
    (input, output, threads, resources, attempt...) that it names (all if it takes
    ``**kwargs``). Nested functions returned by functions are called again (at most 10)."""
    value: Any = func
    for _ in range(10):
        if not callable(value):
            return value
        names, var_kw = _signature(value)
        kwargs = aux if var_kw else {k: v for k, v in aux.items() if k in names}
        value = value(wildcards, **kwargs)
        if isinstance(value, types.GeneratorType):
            value = list(value)
    if callable(value):
        raise RuleError("evaluated 10 nested input functions (functions returning functions); "
                        "does the workflow return a function instead of calling it?")
    return value


# ------------------------------------------------------------------------------ job construction
def _concrete(item: Any, wildcards: Wildcards, values: dict[str, str]) -> str:
    """A pattern with the job's wildcards applied, flags kept."""
    if isinstance(item, Path):
        item = item.as_posix()
    if not isinstance(item, str):
        raise TypeError(type(item).__name__)
    if item.endswith("/") and len(item) > 1:
        # as Snakemake's IOFile: "out/d_x/" names the directory "out/d_x" (else a wildcard
        # of the producer would bind to "x/" and plan a second, wrong chain)
        stripped = item.rstrip("/") or "/"
        item = IOFile(stripped, item.flags) if isinstance(item, IOFile) else stripped
    if "{" not in item and "}" not in item:
        return item
    applied = wc.apply_wildcards(item, values)
    if isinstance(item, IOFile) and item.flags:
        return IOFile(applied, item.flags)
    return applied


def _grouped(nl: NamedList) -> list[tuple[str | None, Any, bool]]:
    """(name, value, is_list) per directive item as written (named lists kept together)."""
    if not name_slots(nl):
        return [(None, v, False) for v in list.__iter__(nl)]
    covered: set[int] = set()
    entries: list[tuple[int, int, str | None, Any, bool]] = []
    for name, (start, end) in name_slots(nl).items():
        if end is None:
            entries.append((start, 0, name, list.__getitem__(nl, start), False))
            covered.add(start)
        else:
            entries.append((start, 0, name, list(list.__getitem__(nl, slice(start, end))), True))
            covered.update(range(start, end))
    for i, v in enumerate(list.__iter__(nl)):
        if i not in covered:
            entries.append((i, 1, None, v, False))
    entries.sort(key=lambda e: (e[0], e[1]))
    return [(name, value, is_list) for _, _, name, value, is_list in entries]


# The names of every job's empty params/log: NamedLists share their rule's names (never
# mutated in place), and a fresh empty dict per job cost 64 bytes twice.
_NO_NAMES: dict[str, tuple[int, int | None]] = {}



class PendingCheckpoint:
    """Marks a job whose inputs wait on checkpoints: the checkpoint target files."""

    __slots__ = ("targets",)

    def __init__(self) -> None:
        self.targets: list[str] = []


class JobFactory:
    """Creates jobs: applies one rule's directives to one set of wildcard values."""

    def __init__(self, workflow: Workflow,
                 info_for: Callable[[Rule], RuleInfo] | None = None) -> None:
        self.workflow = workflow
        # the RuleInfo of a rule (the DAG's; a plain one when the factory stands alone)
        self.info_for = info_for or (lambda rule: RuleInfo(rule, 0, workflow))
        self.pending: dict[Job, list[str]] = {}  # job -> checkpoint target files it waits on
        # job -> outputs of finished checkpoints its input functions read: the job keeps a
        # dependency on such a checkpoint job, so a rerun of the checkpoint comes first and
        # re-evaluates it (Snakemake only trusts a checkpoint's outputs if it need not run)
        self.asked: dict[Job, list[str]] = {}
        self.asking: list[str] | None = None  # filled by the checkpoint resolver
        # ``input: rules.b.output`` (Snakemake's "rule dependencies", see ``RuleReference``)
        self.ruledeps: dict[Job, dict[str, str]] = {}  # job -> {input path: producer rule}

    def new_job(self, info: RuleInfo, wildcards: Wildcards) -> Job:
        rule = info.rule
        values = dict(zip(info.wc_names, wildcards))
        try:
            output = namedlist_of([_concrete(p, wildcards, values) for p in rule.output],
                                info.out_names)
        except WildcardError as exc:
            raise _located(exc, rule, "output") from None
        pending = PendingCheckpoint()
        self.asking = []
        try:
            input = self.expand_input(info, wildcards, values, pending)
            asked, self.asking = self.asking, None
        finally:
            self.asking = None
        try:
            log = namedlist_of([_concrete(p, wildcards, values) if not callable(p)
                              else call_with_aux(p, wildcards) for p in rule.log],
                             name_slots(rule.log)) if len(rule.log) else namedlist_of([], _NO_NAMES)
            benchmark = (_concrete(rule.benchmark, wildcards, values)
                         if rule.benchmark else None)
        except WildcardError as exc:
            raise _located(exc, rule, "log") from None
        threads = self._threads(rule, wildcards, input)
        resources = self._resources(rule, wildcards, input, threads)
        params = self.expand_params(info, wildcards, values, input, output, threads, resources)
        job = Job(jobid=-1, rule=rule, wildcards=wildcards, input=input, output=output,
                  params=params, log=log, benchmark=benchmark, threads=threads,
                  resources=resources, priority=self._priority(rule, wildcards, input),
                  retries=rule.retries)
        if pending.targets:
            self.pending[job] = pending.targets
        if asked:
            self.asked[job] = asked
        if info.ruledeps:
            self._record_ruledeps(job, info)
        return job

    def _record_ruledeps(self, job: Job, info: RuleInfo) -> None:
        """Which of ``job``'s inputs are tied to a rule (static inputs keep their positions)."""
        deps = {}
        if info.input_is_static:
            for i, rulename in info.ruledeps.items():
                deps[str(list.__getitem__(job.input, i))] = rulename
        else:
            for i, rulename in info.ruledeps.items():
                raw = list.__getitem__(info.rule.input, i)
                values = job.wildcards.as_dict()
                try:
                    deps[_concrete(raw, job.wildcards, values)] = rulename
                except (TypeError, WildcardError):
                    continue
        if deps:
            self.ruledeps[job] = deps

    def refresh(self, job: Job) -> None:
        """Re-evaluate a job's inputs/params in place (after a checkpoint finished)."""
        info_rule = job.rule
        values = job.wildcards.as_dict()
        info = self.info_for(info_rule)
        pending = PendingCheckpoint()
        self.asking = []
        try:
            job.input = self.expand_input(info, job.wildcards, values, pending)
            asked = self.asking
        finally:
            self.asking = None
        if asked:
            self.asked[job] = asked
        else:
            self.asked.pop(job, None)
        job.threads = self._threads(info_rule, job.wildcards, job.input)
        job.resources = self._resources(info_rule, job.wildcards, job.input, job.threads)
        job.params = self.expand_params(info, job.wildcards, values, job.input, job.output,
                                        job.threads, job.resources)
        if pending.targets:
            self.pending[job] = pending.targets
        else:
            self.pending.pop(job, None)

    # -------------------------------------------------------------------- input
    def expand_input(self, info: RuleInfo, wildcards: Wildcards, values: dict[str, str],
                     pending: PendingCheckpoint) -> NamedList:
        rule = info.rule
        try:
            if info.input_is_static:
                return namedlist_of([_concrete(p, wildcards, values) for p in rule.input],
                                  name_slots(rule.input))
            items: list[Any] = []
            names: dict[str, tuple[int, int | None]] = {}
            for name, value, is_list in _grouped(rule.input):
                from_function = isinstance(value, Unpack) or callable(value)
                if from_function:
                    func = value.func if isinstance(value, Unpack) else value
                    result = self._call_input_function(rule, func, wildcards, pending)
                    if isinstance(value, Unpack) and result is not None and \
                            not isinstance(result, PendingMarker):
                        if not isinstance(result, (list, tuple, dict)):
                            raise RuleError(f"unpack() in rule {info.label} needs the function "
                                            f"to return a list or dict, got {result!r}",
                                            rule.loc_of("input"))
                        if isinstance(result, dict):
                            for k, v in result.items():
                                self._add(items, names, k, v, wildcards, values)
                        else:
                            for v in result:
                                self._add(items, names, None, v, wildcards, values)
                        continue
                    if isinstance(result, PendingMarker):
                        result = result.targets
                    value = result
                    if isinstance(value, dict):  # Snakemake iterates a dict's keys
                        value = list(value)
                if is_list and not isinstance(value, (list, tuple)):
                    value = list(value)
                # nested lists written in the Snakefile are flattened; a function returning
                # one is an error (both as Snakemake)
                self._add(items, names, name, value, wildcards, values, flat=not from_function)
            return namedlist_of(items, names)
        except WildcardError as exc:
            raise _located(exc, rule, "input") from None
        except TypeError as exc:
            raise RuleError(f"an input function of rule {info.label} returned "
                            f"{exc} instead of a path or list of paths (wildcards: "
                            f"{_fmt_wc(wildcards)})", rule.loc_of("input")) from None

    def _add(self, items: list, names: dict, name: str | None, value: Any,
             wildcards: Wildcards, values: dict[str, str], flat: bool = False) -> None:
        if isinstance(value, (list, tuple)):
            start = len(items)
            items.extend(_concrete(v, wildcards, values) for v in (_flat(value) if flat else value))
            if name is not None:
                names[name] = (start, len(items))
        else:
            if name is not None:
                names[name] = (len(items), None)
            items.append(_concrete(value, wildcards, values))

    def _call_input_function(self, rule: Rule, func: Callable[..., Any], wildcards: Wildcards,
                             pending: PendingCheckpoint) -> Any:
        try:
            # ``groupid``: the id of the group job the job runs in; "local" when run locally
            # (as Snakemake's, whose local runs expand ``{groupid}`` so)
            return call_with_aux(func, wildcards, groupid="local")
        except IncompleteCheckpointError as exc:
            pending.targets.extend(exc.targets)
            return PendingMarker(list(exc.targets))
        except SciflowError:
            raise
        except Exception as exc:  # user code failed: name the rule and the wildcards
            raise RuleError(f"input function of rule {rule_label(rule)} raised "
                            f"{type(exc).__name__}: {exc} (wildcards: {_fmt_wc(wildcards)})",
                            rule.loc_of("input")) from exc

    # -------------------------------------------------------------------- params etc.
    def expand_params(self, info: RuleInfo, wildcards: Wildcards, values: dict[str, str],
                      input: NamedList, output: NamedList, threads: int,
                      resources: dict[str, Any]) -> NamedList:
        rule = info.rule
        if not len(rule.params):
            return namedlist_of([], _NO_NAMES)
        items: list[Any] = []
        names: dict[str, tuple[int, int | None]] = {}
        aux = {"input": input, "output": output, "threads": threads,
               "resources": NamedList((), resources, flatten=False)}  # resources.mem_mb works
        for name, value, is_list in _grouped(rule.params):
            if is_list:
                start = len(items)
                items.extend(self._param(rule, v, wildcards, values, aux) for v in value)
                if name is not None:
                    names[name] = (start, len(items))
                continue
            if name is not None:
                names[name] = (len(items), None)
            items.append(self._param(rule, value, wildcards, values, aux))
        return namedlist_of(items, names)

    def _param(self, rule: Rule, value: Any, wildcards: Wildcards, values: dict[str, str],
               aux: dict[str, Any]) -> Any:
        if callable(value):
            try:
                return call_with_aux(value, wildcards, **aux)
            except IncompleteCheckpointError:
                return "<TBD>"
            except SciflowError:
                raise
            except Exception as exc:
                if _inputs_pending(exc, aux.get("input")):
                    return DeferredParam(value)  # reads inputs not made yet: at submission
                raise RuleError(f"params function of rule {rule_label(rule)} raised "
                                f"{type(exc).__name__}: {exc} (wildcards: {_fmt_wc(wildcards)})",
                                rule.loc_of("params")) from exc
        if isinstance(value, str):
            try:
                return wc.apply_wildcards(value, values) if "{" in value else value
            except WildcardError as exc:
                raise _located(exc, rule, "params",
                               "To keep braces in a param, use a function, e.g. "
                               "lambda wildcards: '{x}', or double them: {{x}}.") from None
        return value

    def _threads(self, rule: Rule, wildcards: Wildcards, input: NamedList) -> int:
        threads = rule.threads
        if callable(threads):
            threads = self._call(rule, "threads", threads, wildcards, input=PlanningInput(input),
                                 attempt=1, rulename=rule.name)
            if threads is _LATER:
                return 1  # needs inputs made in this run: 1 until then
        return whole_number(rule, "threads", threads)

    def _priority(self, rule: Rule, wildcards: Wildcards, input: NamedList) -> int:
        """``priority:`` may be a function of the wildcards (``input``, ``attempt``,
        ``rulename``) returning an int or a float, as in Snakemake."""
        priority = rule.priority
        if callable(priority):
            priority = self._call(rule, "priority", priority, wildcards, input=input, attempt=1,
                                  rulename=rule.name)
        if not isinstance(priority, (int, float)) or isinstance(priority, bool):
            raise RuleError(f"priority of rule {rule_label(rule)} must be a number, got "
                            f"{priority!r}", rule.loc_of("priority"))
        return priority

    def _resources(self, rule: Rule, wildcards: Wildcards, input: NamedList,
                   threads: int) -> dict[str, Any]:
        """The rule's resources for this job. A function that needs inputs not made yet is
        left out here: ``resources_config.with_attempt`` evaluates it when the job is
        submitted (Snakemake evaluates resources lazily; a dry run shows ``<TBD>``)."""
        if not rule.resources:
            return {}
        out: dict[str, Any] = {}
        sized = None
        for key, value in rule.resources.items():
            if callable(value):
                if sized is None:
                    sized = PlanningInput(input)
                value = self._call(rule, "resources", value, wildcards, input=sized,
                                   threads=threads, attempt=1, rulename=rule.name)
                if value is _LATER:
                    continue
            if isinstance(value, float):
                value = round(value)  # as Snakemake's Resource: whole numbers
            if value is not None:
                out[key] = value
        return out

    def _call(self, rule: Rule, directive: str, func: Callable[..., Any], wildcards: Wildcards,
              **aux: Any) -> Any:
        try:
            return call_with_aux(func, wildcards, **aux)
        except IncompleteCheckpointError:
            return 0
        except Exception as exc:
            if directive in ("threads", "resources") and _inputs_pending(exc, aux.get("input")):
                return _LATER
            if isinstance(exc, SciflowError):
                raise
            raise RuleError(f"{directive} function of rule {rule_label(rule)} raised "
                            f"{type(exc).__name__}: {exc} (wildcards: {_fmt_wc(wildcards)})",
                            rule.loc_of(directive)) from exc


_LATER = object()  # a threads/resources value that is decided once the inputs exist


class PlanningInput(InputSizes):
    """The ``input`` that threads/resources functions get while the DAG is built: as
    Snakemake's, ``size``/``size_mb``... raise ``FileNotFoundError`` for an input that does
    not exist yet (the value is then decided when the job is submitted)."""

    @property
    def size(self) -> int:
        return sum(os.path.getsize(str(f)) for f in self._files)


class DeferredParam(str):
    """A params function that failed while some of its job's inputs did not exist yet (it
    reads them, e.g. a table a rule upstream makes). Snakemake evaluates params only when a
    job's params are needed (its shell command, a params-changed check), so a dry run never
    calls it; sciflow shows ``<TBD>`` (as Snakemake's dry run shows unknown values) and
    calls it when the job is submitted (``resolve_deferred_params``)."""

    def __new__(cls, func: Callable[..., Any]) -> "DeferredParam":
        obj = super().__new__(cls, "<TBD>")
        obj.func = func
        return obj


def resolve_deferred_params(job: Any) -> None:
    """Evaluate the ``DeferredParam``s of ``job`` now that its inputs exist (in the workdir)."""
    params = job.params
    if not any(isinstance(p, DeferredParam) for p in list.__iter__(params)):
        return
    aux = {"input": job.input, "output": job.output, "threads": job.threads,
           "resources": NamedList((), dict(job.resources or {}), flatten=False)}
    items = []
    for value in list.__iter__(params):
        if isinstance(value, DeferredParam):
            try:
                value = call_with_aux(value.func, job.wildcards, **aux)
            except SciflowError:
                raise
            except Exception as exc:
                raise RuleError(f"params function of rule {rule_label(job.rule)} raised "
                                f"{type(exc).__name__}: {exc} (wildcards: "
                                f"{_fmt_wc(job.wildcards)})",
                                job.rule.loc_of("params")) from exc
        items.append(value)
    job.params = namedlist_of(items, name_slots(params))


def _inputs_pending(exc: BaseException, input: Any) -> bool:
    """Was the function asked too early? Snakemake evaluates threads and resources only just
    before a job runs, when its inputs exist; so a failure while some input is still missing
    is no error yet (a FileNotFoundError naming an input, or any error at all then)."""
    files = getattr(input, "_files", input) or ()
    if isinstance(exc, FileNotFoundError) and exc.filename in files:
        return True
    return any(not os.path.exists(str(f)) for f in files)


def whole_number(rule: Rule, directive: str, value: Any) -> int:
    """``threads`` as Snakemake takes them: a float is rounded (``workflow.cores * 0.75``),
    anything else but an int is an error."""
    if isinstance(value, float):
        value = round(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RuleError(f"{directive} of rule {rule_label(rule)} must be a number, got "
                        f"{value!r}", rule.loc_of(directive))
    return value


class PendingMarker:
    """An input function's value while the checkpoint it asked about has not run."""

    __slots__ = ("targets",)

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets


def _fmt_wc(wildcards: Wildcards) -> str:
    return ", ".join(f"{k}={v}" for k, v in wildcards.items()) or "none"


def _flat(values: Any) -> Iterator[Any]:
    """Nested lists of paths written in a Snakefile (``input: [[a, b], c]``, or a function
    called at definition time that returns one) as one flat run, as Snakemake flattens them."""
    for value in values:
        if isinstance(value, (list, tuple)):
            yield from _flat(value)
        else:
            yield value


def _located(exc: WildcardError, rule: Rule, directive: str, hint: str | None = None) -> WildcardError:
    return WildcardError(f"rule {rule_label(rule)}, {directive}: {exc.message}",
                         rule.loc_of(directive), hint=hint or exc.hint)
