"""Finding the rules that can make a file: the DAG builder calls this hundreds of thousands
of times, so it is kept apart from the graph search (``sciflow.dag.build``) and from job
construction (``sciflow.dag.factory``).

``RuleIndex`` buckets every output/log/benchmark pattern by its constant prefix (first path
component) or, failing that, by the extension of its constant suffix, so a lookup runs the
regexes of a few candidate rules only (Snakemake's ``OutputIndex`` idea). Regexes compile
once per pattern (``sciflow.wildcards`` caches them).
"""
from __future__ import annotations

import collections
import re
from typing import Any, Iterable

from sciflow import wildcards as wc
from sciflow.errors import WildcardError
from sciflow.jobs import Job
from sciflow.model import Rule, Unpack, Wildcards, Workflow, name_slots, namedlist_of

__all__ = ["RuleInfo", "RuleIndex", "rule_label", "tie_rules", "check_periodic"]


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
        # a trailing slash names the same path (Snakemake strips it from every file pattern)
        patterns = [p.rstrip("/") or "/" if p.endswith("/") else p for p in patterns]
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
        self.out_names = dict(name_slots(rule.output))
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
        return namedlist_of([values[n] for n in self.wc_names], self.wc_table, Wildcards)


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
