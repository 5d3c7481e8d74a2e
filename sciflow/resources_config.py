"""Command-line settings that change rules: threads, resources, retries, temp flags.

Snakemake lets the person running a workflow tune it without editing it:
``--set-threads rule=N``, ``--set-resources rule:name=VALUE``, ``--default-resources
name=EXPR``, ``--retries N``, ``--all-temp`` and ``--notemp``. sciflow applies them to the
loaded ``Workflow``'s rules, before the DAG is built, the way Snakemake's ``Workflow.rule``
initialises a rule: default resources first, then the rule's own ``resources:``, then
``--set-resources``; ``--set-threads`` replaces ``threads:``; ``--retries`` counts for rules
without a ``retries:`` directive. The DAG then evaluates them like any rule value.

Resource values are integers, or Python expressions evaluated per job as Snakemake does
(``snakemake.resources.Resource.cli_evaluator``): with ``input`` (``input.size_mb`` is the sum
of the input files' sizes in MiB), ``threads``, ``attempt``, ``wildcards``, ``system_tmpdir``
and ``shutil`` in scope; an expression that is not valid Python or names something unknown
is taken as a plain string (``partition=short``). An expression is evaluated again when the
job is submitted (``with_attempt``), when its inputs exist and with the attempt number, so
``mem_mb=2000*attempt`` grows on each retry.
"""
from __future__ import annotations

import ast
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from sciflow.errors import RuleError, UsageError
from sciflow.model import IOFile, NamedList, Workflow

# ``--default-resources`` given (with or without values) starts from Snakemake's full set.
FULL_DEFAULTS: dict[str, str] = {
    "mem_mb": "min(max(2*input.size_mb, 1000), 8000)",
    "disk_mb": "max(2*input.size_mb, 1000) if input else 50000",
    "tmpdir": "system_tmpdir",
}


@dataclass(slots=True)
class RuleSettings:
    """The rule-changing settings of one run (empty: change nothing)."""

    set_threads: dict[str, int] = field(default_factory=dict)
    set_resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_resources: dict[str, Any] = field(default_factory=dict)
    retries: int | None = None
    all_temp: bool = False
    notemp: bool = False


# ------------------------------------------------------------------------------ parsing
def _split(item: str, sep: str, option: str, shape: str) -> tuple[str, str]:
    key, found, value = item.partition(sep)
    if not found or not key.strip() or value == "":
        raise UsageError(f"{option} {item!r}: expected {shape}")
    return key.strip(), value.strip()


# names a --set-threads expression may use (Snakemake's cli_evaluator without ``threads``)
_THREADS_NAMES = frozenset({"input", "attempt", "wildcards", "system_tmpdir", "shutil"})


def parse_set_threads(items: Iterable[str] | None, option: str = "--set-threads"
                      ) -> dict[str, Any]:
    """``RULE=N`` pairs: N a whole number (≥ 0), or, as Snakemake 8/9, a Python expression
    evaluated per job (``a=10*2``, ``"a=max(input.size_mb, 5)"``; with ``input``,
    ``attempt``, ``wildcards`` in scope)."""
    import builtins

    out: dict[str, Any] = {}
    for item in items or ():
        rule, value = _split(item, "=", option, "RULE=THREADS")
        try:
            n = int(value)
        except ValueError:
            try:
                tree = ast.parse(value, "<--set-threads>", mode="eval")
            except SyntaxError:
                raise UsageError(f"{option} {item!r}: threads must be a whole number or a "
                                 "Python expression") from None
            unknown = [node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
                       and node.id not in _THREADS_NAMES and not hasattr(builtins, node.id)]
            if unknown:
                raise UsageError(f"{option} {item!r}: unknown name {unknown[0]!r} (an "
                                 "expression may use input, attempt, wildcards)")
            out[rule] = ResourceExpression("threads", value)
            continue
        if n < 0:
            raise UsageError(f"{option} {item!r}: threads must not be negative")
        out[rule] = n
    return out


def resource_value(name: str, text: Any, option: str) -> Any:
    """An integer (≥ 0), else the expression text (evaluated per job)."""
    if not isinstance(text, str):
        return text
    if not name.isidentifier():
        raise UsageError(f"{option}: resource name {name!r} is not a valid identifier")
    try:
        value = int(text)
    except ValueError:
        return ResourceExpression(canonical_name(name), text)
    if value < 0:
        raise UsageError(f"{option} {name}={text}: must not be negative")
    return value


def parse_set_resources(items: Iterable[str] | None,
                        option: str = "--set-resources") -> dict[str, dict[str, Any]]:
    """``RULE:NAME=VALUE`` items, grouped by rule."""
    out: dict[str, dict[str, Any]] = {}
    for item in items or ():
        rule, assignment = _split(item, ":", option, "RULE:RESOURCE=VALUE")
        name, value = _split(assignment, "=", option, "RULE:RESOURCE=VALUE")
        out.setdefault(rule, {})[canonical_name(name)] = resource_value(name, value, option)
    return out


def parse_default_resources(items: Iterable[str] | None,
                            option: str = "--default-resources") -> dict[str, Any]:
    """``None`` (flag absent): no defaults; otherwise Snakemake's full defaults updated with
    the ``NAME=VALUE`` items given (a bare ``--default-resources`` keeps the full set)."""
    if items is None:
        return {}
    out: dict[str, Any] = {k: ResourceExpression(k, v) for k, v in FULL_DEFAULTS.items()}
    for item in items:
        name, value = _split(item, "=", option, "NAME=VALUE")
        out[canonical_name(name)] = resource_value(name, value, option)
    return out


# ------------------------------------------------------------------------------ evaluation
class InputSizes:
    """The ``input`` of a resource expression: the job's input files, plus their total size
    (``size``, ``size_kb``, ``size_mb``, ``size_gb``; files not there yet count 0)."""

    def __init__(self, files: Any) -> None:
        self._files = files if files is not None else NamedList()

    def __iter__(self):
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def __bool__(self) -> bool:
        return len(self._files) > 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._files, name)

    def __getitem__(self, key: Any) -> Any:
        return self._files[key]

    def __str__(self) -> str:
        return str(self._files)

    @property
    def size(self) -> int:
        total = 0
        for f in self._files:
            try:
                total += os.path.getsize(str(f))
            except (OSError, TypeError, ValueError):
                pass
        return total

    @property
    def size_kb(self) -> float:
        return self.size / 1024

    @property
    def size_mb(self) -> float:
        return self.size / 1024 / 1024

    @property
    def size_gb(self) -> float:
        return self.size / 1024 / 1024 / 1024


class ResourceExpression:
    """A resource given as a Python expression on the command line or in a profile."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text

    def __repr__(self) -> str:
        return f"{self.name}={self.text}"

    def __call__(self, wildcards: Any, input: Any = None, threads: int | None = None,
                 attempt: int = 1) -> Any:
        text = os.path.expanduser(os.path.expandvars(self.text))
        scope: dict[str, Any] = {"wildcards": wildcards, "input": InputSizes(input),
                                 "attempt": attempt, "system_tmpdir": tempfile.gettempdir(),
                                 "shutil": shutil}
        if threads is not None:
            scope["threads"] = threads
        try:
            value = eval(text, scope)  # noqa: S307 - the user's own command line, as Snakemake
        except (NameError, SyntaxError):
            value = self.text  # a plain string, e.g. partition=short
        except Exception as exc:
            raise RuleError(f"resource {self.name}={self.text!r} failed: {type(exc).__name__}: "
                            f"{exc}", hint="Quote a string value, e.g. "
                            f"--set-resources \"rule:{self.name}='{self.text}'\".") from None
        if isinstance(value, float):
            return round(value)  # as Snakemake's Resource: whole numbers
        if isinstance(value, str) and self.name in SIZED:
            return size_mb(self.name, value)
        return value


SIZED = frozenset({"mem", "mem_mb", "disk", "disk_mb"})
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
          "t": 1e12, "tb": 1e12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def size_mb(name: str, text: str) -> Any:
    """``"4GB"`` → 4000 (MB, rounded up), as Snakemake reads sized resources; a plain number
    is taken as MB already. Anything else is left as it is."""
    m = re.fullmatch(r"\s*['\"]?([\d.]+)\s*([a-zA-Z]*)['\"]?\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        return text
    try:
        number = float(m.group(1))
    except ValueError:
        return text
    if not m.group(2):
        return round(number)
    return max(math.ceil(number * _UNITS[m.group(2).lower()] / 1e6), 1)


def canonical_name(name: str) -> str:
    """``mem``/``disk`` are stored as ``mem_mb``/``disk_mb`` (Snakemake normalises the same)."""
    return f"{name}_mb" if name in ("mem", "disk") else name


# ------------------------------------------------------------------------------ applying
def _without_temp(item: Any) -> Any:
    if isinstance(item, IOFile) and "temp" in item.flags:
        return IOFile(str(item), item.flags - {"temp"})
    return item


def _with_temp(item: Any) -> Any:
    return IOFile(item, {"temp"}) if isinstance(item, str) else item


def apply_rule_settings(workflow: Workflow, settings: RuleSettings) -> None:
    """Change ``workflow``'s rules in place (see the module docstring)."""
    for rule in workflow.rules.values():
        if settings.default_resources or rule.name in settings.set_resources:
            rule.resources = {**settings.default_resources, **dict(rule.resources or {}),
                              **settings.set_resources.get(rule.name, {})}
        if rule.name in settings.set_threads:
            rule.threads = settings.set_threads[rule.name]
        if settings.retries is not None and "retries" not in rule.locs:
            rule.retries = settings.retries
        if settings.notemp:
            rule.output = rule.output.map(_without_temp)
        elif settings.all_temp:
            rule.output = rule.output.map(_with_temp)


def with_attempt(make_spec: Callable[..., Any]) -> Callable[..., Any]:
    """A spec factory that re-evaluates a job's callable resources for the attempt being
    submitted (inputs exist by then; ``attempt`` counts retries), then calls ``make_spec``."""
    from sciflow.dag.factory import call_with_aux
    from sciflow.engine import in_directory

    def factory(job: Any, workflow: Any, workdir: str, attempt: int = 1, **kwargs: Any) -> Any:
        from sciflow.dag.factory import resolve_deferred_params

        with in_directory(workdir):
            resolve_deferred_params(job)  # params functions that read the job's inputs
        if attempt > 1 and callable(job.rule.threads):
            with in_directory(workdir):
                job.threads = threads_for_attempt(job, attempt)
        functions = {k: v for k, v in (job.rule.resources or {}).items() if callable(v)}
        if functions:
            values = dict(job.resources)
            with in_directory(workdir):
                for name, func in functions.items():
                    try:
                        value = call_with_aux(func, job.wildcards, input=InputSizes(job.input),
                                              threads=job.threads, attempt=attempt,
                                              rulename=job.rule.name)
                    except RuleError as err:
                        raise RuleError(f"rule {job.rule.name}: {err.message}",
                                        job.rule.loc_of("resources"), hint=err.hint) from None
                    except Exception as exc:
                        raise RuleError(f"resources function of rule {job.rule.name} raised "
                                        f"{type(exc).__name__}: {exc}",
                                        job.rule.loc_of("resources")) from None
                    if value is not None:
                        values[name] = value
            job.resources = values
        return make_spec(job, workflow, workdir, attempt, **kwargs)

    return factory


def threads_for_attempt(job: Any, attempt: int) -> int:
    """A ``threads:`` function evaluated again for a retry (Snakemake evaluates threads per
    attempt, ``lambda wildcards, attempt: 2 * attempt``). When the scheduler scaled the
    first attempt's threads down to the cores, the retry is held to that number too."""
    from sciflow.dag.factory import call_with_aux, whole_number

    def evaluate(n: int) -> int:
        try:
            value = call_with_aux(job.rule.threads, job.wildcards, input=InputSizes(job.input),
                                  attempt=n, rulename=job.rule.name)
        except RuleError:
            raise
        except Exception as exc:
            raise RuleError(f"threads function of rule {job.rule.name} raised "
                            f"{type(exc).__name__}: {exc}", job.rule.loc_of("threads")) from None
        return whole_number(job.rule, "threads", value)

    value = evaluate(attempt)
    if evaluate(1) > job.threads:  # scaled down to the available cores: keep within them
        value = min(value, job.threads)
    return value


def settings_from(options: Any) -> RuleSettings:
    """The ``RuleSettings`` of a ``RunOptions`` (fields may hold CLI strings or parsed dicts)."""
    def parsed(value: Any, parse: Callable[..., Any], option: str) -> Any:
        if value is None or isinstance(value, Mapping):
            return dict(value or {})
        return parse(list(value), option)

    set_resources = getattr(options, "set_resources", None) or {}
    if isinstance(set_resources, Mapping):
        set_resources = {rule: {n: resource_value(n, v, "--set-resources") for n, v in res.items()}
                         for rule, res in set_resources.items()}
    else:
        set_resources = parse_set_resources(set_resources)
    default = getattr(options, "default_resources", None)
    if isinstance(default, Mapping):
        default = {n: resource_value(n, v, "--default-resources") for n, v in default.items()}
    elif default is not None:
        default = parse_default_resources(default)
    return RuleSettings(
        set_threads=parsed(getattr(options, "set_threads", None), parse_set_threads,
                           "--set-threads"),
        set_resources=set_resources, default_resources=default or {},
        retries=getattr(options, "retries", None),
        all_temp=bool(getattr(options, "all_temp", False)),
        notemp=bool(getattr(options, "notemp", False)))
