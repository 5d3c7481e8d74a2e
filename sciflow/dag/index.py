"""Finding the rules that can make a file, and turning a rule plus wildcards into a ``Job``.

Two pieces the DAG builder calls hundreds of thousands of times, kept apart from the graph
search in ``sciflow.dag``:

* ``RuleIndex`` buckets every output/log/benchmark pattern by its constant prefix (first path
  component) or, failing that, by the extension of its constant suffix, so a lookup runs
  the regexes of a few candidate rules only (Snakemake's ``OutputIndex`` idea);
* ``JobFactory`` applies wildcards to a rule's directives — input functions, ``unpack``,
  params callables, threads/resources callables — exactly as Snakemake's ``Rule.expand_*``
  do, and reuses one ``Job`` per (rule, product path).

Regexes compile once per pattern (``sciflow.wildcards`` caches them); jobs of one rule share
the name tables of their ``NamedList``s, which keeps a job at a few hundred bytes.
"""
from __future__ import annotations

import collections
import inspect
import os
import re
import types
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from sciflow import wildcards as wc
from sciflow.errors import IncompleteCheckpointError, RuleError, SciflowError, WildcardError
from sciflow.jobs import Job
from sciflow.model import FlaggedFunction, IOFile, NamedList, Rule, Unpack, Wildcards, Workflow
from sciflow.resources_config import InputSizes

__all__ = ["RuleInfo", "RuleIndex", "JobFactory", "call_with_aux", "rule_label", "tie_rules"]


def rule_label(rule: Rule) -> str:
    """``name (Snakefile:12)``: how errors name a rule."""
    return f"{rule.name} ({rule.loc.path}:{rule.loc.line})"


# ------------------------------------------------------------------------------ per-rule data
class RuleInfo:
    """What the DAG needs to know about one rule, computed once."""

    __slots__ = ("rule", "order", "products", "wc_names", "wc_table", "has_wildcards",
                 "out_names", "constraints", "input_is_static", "cache", "label", "ruledeps")

    def __init__(self, rule: Rule, order: int, workflow: Workflow) -> None:
        self.rule = rule
        self.order = order
        self.label = rule_label(rule)
        self.constraints = {**workflow.wildcard_constraints, **rule.wildcard_constraints}
        patterns = [str(p) for p in rule.output] + [str(p) for p in rule.log
                                                    if isinstance(p, str)]
        if isinstance(rule.benchmark, str):
            patterns.append(rule.benchmark)
        # (pattern, compiled regex or None for a constant path)
        self.products: list[tuple[str, Any]] = []
        for p in patterns:
            regex = wc.compile_pattern(p, self.constraints) if wc.has_wildcards(p) else None
            self.products.append((p, regex))
        names: dict[str, None] = {}
        for p in rule.output:
            names.update(dict.fromkeys(wc.wildcard_names(str(p))))
        self.wc_names = tuple(names)
        self.has_wildcards = bool(self.wc_names)
        # shared by every job's Wildcards/output NamedList (never mutated after creation)
        self.wc_table = {n: (i, None) for i, n in enumerate(self.wc_names)}
        self.out_names = dict(rule.output._names)
        self.input_is_static = not any(callable(v) or isinstance(v, (Unpack, list, tuple))
                                       for v in rule.input)
        self.cache: dict[str, Job] = {}  # product path -> job
        self.ruledeps: dict[int, str] = {}  # input position -> rule (set by ``tie_rules``)

    def match(self, path: str, hint: dict[str, str] | None = None) -> Wildcards | None:
        """The wildcards under which this rule makes ``path`` (None if it cannot).

        As Snakemake: the requesting job's wildcards are tried first, then the product
        whose match gives the shortest wildcard values."""
        if hint is not None and self.has_wildcards:
            try:
                values = {n: hint[n] for n in self.wc_names}
            except KeyError:
                values = None
            if values is not None:
                for pattern, regex in self.products:
                    if regex is not None and wc.apply_wildcards(pattern, values) == path \
                            and regex.fullmatch(path):
                        return self.make_wildcards(values)
        best: dict[str, str] | None = None
        best_len = 0
        for pattern, regex in self.products:
            if regex is None:
                if pattern == path and best is None:
                    best, best_len = {}, 0
                continue
            m = regex.fullmatch(path)
            if m:
                found = m.groupdict()
                length = sum(map(len, found.values()))
                if best is None or length < best_len:
                    best, best_len = found, length
        if best is None:
            return None
        if any(n not in best for n in self.wc_names):
            raise WildcardError(f"could not resolve wildcards {', '.join(self.wc_names)} of "
                                f"rule {self.label} from {path!r}", self.rule.loc,
                                hint="Output, log and benchmark files of a rule must all "
                                     "contain the same wildcards.")
        return self.make_wildcards(best)

    def make_wildcards(self, values: dict[str, str]) -> Wildcards:
        w = Wildcards.__new__(Wildcards)
        list.extend(w, [values[n] for n in self.wc_names])
        w._names = self.wc_table
        return w


def tie_rules(infos: Iterable["RuleInfo"]) -> None:
    """Fill each ``RuleInfo.ruledeps``: the input positions written as ``rules.NAME.output``
    (``RuleOutput`` items) of another rule."""
    names = {info.rule.name for info in infos}
    for info in infos:
        for i, item in enumerate(list.__iter__(info.rule.input)):
            rulename = getattr(item, "rule_name", None)
            if rulename is not None and rulename != info.rule.name and rulename in names:
                info.ruledeps[i] = rulename


# ------------------------------------------------------------------------------ periodic values
_MIN_REPEAT, _MAX_REPEAT = 20, 100
_PERIODIC = re.compile(f"((?P<value>.+)(?P=value){{{_MIN_REPEAT - 1},{_MAX_REPEAT - 1}}})$")


def periodic_substring(value: str) -> str | None:
    """The substring ``value`` ends by repeating at least 20 times, if any (Snakemake's
    ``PeriodicityDetector``): such a wildcard value means a rule keeps feeding on its own
    output (``{s}.txt`` from ``{s}_x.txt``...), which would never end."""
    if len(value) < _MIN_REPEAT:
        return None
    counts = collections.Counter(value)
    last = value[-1]
    if counts[last] < _MIN_REPEAT:
        return None
    pos = 2
    while value[-pos] != last:
        if len(value) < pos * _MIN_REPEAT or counts[value[-pos]] < _MIN_REPEAT:
            return None
        pos += 1
    m = _PERIODIC.search(value)
    return m.group("value") if m else None


def check_periodic(job: Job) -> None:
    """Raise ``WildcardError`` if a wildcard value of ``job`` is periodic."""
    for name, value in job.wildcards.items():
        if len(value) >= _MIN_REPEAT:
            part = periodic_substring(value)
            if part is not None:
                raise WildcardError(
                    f"the value {part!r} of wildcard {name} of rule {rule_label(job.rule)} is "
                    f"periodically repeated ({value}); this would lead to an infinite "
                    "recursion", job.rule.loc,
                    hint="Restrict the wildcards of this rule to certain values, e.g. with "
                         "wildcard_constraints.")


# ------------------------------------------------------------------------------ the index
def _ext(text: str) -> str | None:
    """The extension (with dot) of the last path component of ``text``, if any."""
    last = text[text.rfind("/") + 1:]
    dot = last.rfind(".")
    return last[dot:] if dot >= 0 else None


class RuleIndex:
    """Which rules could make a path, without running every rule's regex.

    Constant products go into a dict; patterns whose constant prefix holds a ``/`` are
    bucketed by its first component; the rest by the extension of their constant suffix."""

    def __init__(self, infos: Iterable[RuleInfo]) -> None:
        self.exact: dict[str, list[RuleInfo]] = {}
        self.by_head: dict[str, list[tuple[str, str, RuleInfo]]] = {}
        self.by_ext: dict[str | None, list[tuple[str, str, RuleInfo]]] = {}
        self.infos = list(infos)
        for info in self.infos:
            for pattern, regex in info.products:
                if regex is None:
                    bucket = self.exact.setdefault(pattern, [])
                    if info not in bucket:
                        bucket.append(info)
                    continue
                prefix, suffix = wc.constant_prefix(pattern), wc.constant_suffix(pattern)
                entry = (prefix, suffix, info)
                slash = prefix.find("/")
                if slash >= 0:
                    self.by_head.setdefault(prefix[:slash], []).append(entry)
                else:
                    self.by_ext.setdefault(_ext(suffix), []).append(entry)

    def candidates(self, path: str) -> list[RuleInfo]:
        """Rules one of whose product patterns may match ``path`` (prefix/suffix checked;
        the regex is the caller's job), in definition order."""
        found: list[RuleInfo] = list(self.exact.get(path, ()))
        slash = path.find("/")
        groups = []
        if slash >= 0:
            head = self.by_head.get(path[:slash])
            if head:
                groups.append(head)
        ext = _ext(path)
        if ext is not None:
            bucket = self.by_ext.get(ext)
            if bucket:
                groups.append(bucket)
        bucket = self.by_ext.get(None)
        if bucket:
            groups.append(bucket)
        for group in groups:
            for prefix, suffix, info in group:
                if path.startswith(prefix) and path.endswith(suffix) and info not in found \
                        and len(path) > len(prefix) + len(suffix) - 1:
                    found.append(info)
        if len(found) > 1:
            found.sort(key=lambda i: i.order)
        return found


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
    if "{" not in item and "}" not in item:
        return item
    applied = wc.apply_wildcards(item, values)
    if isinstance(item, IOFile) and item.flags:
        return IOFile(applied, item.flags)
    return applied


def _grouped(nl: NamedList) -> list[tuple[str | None, Any, bool]]:
    """(name, value, is_list) per directive item as written (named lists kept together)."""
    if not nl._names:
        return [(None, v, False) for v in list.__iter__(nl)]
    covered: set[int] = set()
    entries: list[tuple[int, int, str | None, Any, bool]] = []
    for name, (start, end) in nl._names.items():
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


def _namedlist(items: list[Any], names: dict[str, tuple[int, int | None]]) -> NamedList:
    nl = NamedList.__new__(NamedList)
    list.extend(nl, items)
    nl._names = names
    return nl


class PendingCheckpoint:
    """Marks a job whose inputs wait on checkpoints: the checkpoint target files."""

    __slots__ = ("targets",)

    def __init__(self) -> None:
        self.targets: list[str] = []


class JobFactory:
    """Creates jobs: applies one rule's directives to one set of wildcard values."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
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
            output = _namedlist([_concrete(p, wildcards, values) for p in rule.output],
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
            log = _namedlist([_concrete(p, wildcards, values) if not callable(p)
                              else call_with_aux(p, wildcards) for p in rule.log],
                             rule.log._names) if len(rule.log) else _namedlist([], _NO_NAMES)
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
        info = self._info_for(info_rule)
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

    _info_for: Callable[[Rule], RuleInfo]  # set by the DAG

    # -------------------------------------------------------------------- input
    def expand_input(self, info: RuleInfo, wildcards: Wildcards, values: dict[str, str],
                     pending: PendingCheckpoint) -> NamedList:
        rule = info.rule
        try:
            if info.input_is_static:
                return _namedlist([_concrete(p, wildcards, values) for p in rule.input],
                                  rule.input._names)
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
            return _namedlist(items, names)
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
            return _namedlist([], _NO_NAMES)
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
        return _namedlist(items, names)

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
