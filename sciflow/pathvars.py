"""Snakemake 9's path variables: ``<name>`` placeholders in file paths.

    pathvars:
        results="results/custom",
        per="{sample}"

    rule a:
        output: "<results>/a/<per>.txt"        # -> "results/custom/a/{sample}.txt"
        pathvars: results="elsewhere"         # the rule's own values win

Where a value comes from, the first found wins (Snakemake's levels): the rule's ``pathvars:``,
then the config's ``pathvars`` mapping, then the workflow's ``pathvars:`` statements, then the
defaults (``<results>``, ``<resources>``, ``<logs>``, ``<benchmarks>``, ``<stats>``,
``<reports>``, ``<temp>``, each its own name). Values may hold other pathvars. They apply to
input, output, log and benchmark paths when the rule is made, and to what input functions
return when they are called.

The rule keeps the paths as written (``Rule.raw_paths``) so that ``use rule ... with:
pathvars:`` gives the copy its own values.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from sciflow.errors import RuleError, WorkflowError
from sciflow.model import FlaggedFunction, IOFile, NamedList, Rule, SourceLoc, Unpack

NAME = re.compile(r"[a-z][a-z0-9_]*")
PATHVAR = re.compile(r"<([a-z][a-z0-9_]*)>")
DEFAULTS = {name: name for name in
            ("results", "stats", "reports", "temp", "resources", "logs", "benchmarks")}
PATH_KEYS = ("input", "output", "log", "benchmark")
MAX_DEPTH = 50  # nested values deeper than this are a cycle


def check(items: Mapping[Any, Any], loc: SourceLoc | None) -> dict[str, str]:
    """``items`` as pathvars: names of lower-case letters, digits and _, values strings,
    no cycles."""
    bad = {k: v for k, v in items.items()
           if not isinstance(k, str) or not NAME.fullmatch(k) or not isinstance(v, str)}
    if bad:
        raise WorkflowError(
            "pathvars map names to strings; names are lower-case letters, digits and '_' "
            "(not starting with a digit). Invalid: "
            + ", ".join(f"{k}={v!r}" for k, v in bad.items()), loc)
    values = dict(items)
    for name in values:
        expand(f"<{name}>", values, loc, strict=False)  # raises on a cycle
    return values


def mentions(value: Any) -> bool:
    """Whether a path directive's value needs pathvars applied (now or when called)."""
    items = value if isinstance(value, NamedList) else [value]
    return any((isinstance(v, str) and "<" in v and PATHVAR.search(v)) or callable(v)
               or isinstance(v, Unpack) for v in items)


def expand(path: str, values: Mapping[str, str], loc: SourceLoc | None,
           strict: bool = True) -> str:
    """``path`` with every ``<name>`` replaced (repeatedly: values may hold pathvars). With
    ``strict``, an unknown name is an error; else it is left as written."""
    if "<" not in path:
        return path
    current = path
    for _ in range(MAX_DEPTH):
        missing: list[str] = []

        def one(m: re.Match) -> str:
            if m.group(1) in values:
                return values[m.group(1)]
            missing.append(m.group(1))
            return m.group(0)
        new = PATHVAR.sub(one, current)
        if missing and strict:
            raise RuleError(f"undefined pathvar '<{missing[0]}>' in {path!r}", loc,
                            hint="Define it with 'pathvars: " + missing[0] + "=\"...\"' (in the "
                                 "rule or at the top of the workflow), or in the config's "
                                 "'pathvars' mapping.")
        if new == current:
            return new
        current = new
    raise WorkflowError(f"cyclic pathvars while expanding {path!r}", loc,
                        hint="A pathvar's value must not refer back to itself.")


def effective(rule: Rule) -> dict[str, str]:
    return {**rule.pathvar_scope, **rule.pathvars}


def substitute(rule: Rule, strict: bool) -> None:
    """Set the rule's path directives from ``rule.raw_paths`` with its pathvars applied."""
    values = effective(rule)
    for key, raw in rule.raw_paths.items():
        loc = rule.loc_of(key)
        if key == "benchmark":
            rule.benchmark = _path(raw, values, loc, strict) if isinstance(raw, str) else raw
            continue
        setattr(rule, key, raw.map(lambda v: _item(v, rule, values, loc, strict)))


def _path(value: str, values: Mapping[str, str], loc: SourceLoc, strict: bool) -> str:
    new = expand(value, values, loc, strict)
    if new is value or new == value:
        return value
    return IOFile(new, value.flags) if isinstance(value, IOFile) else new


def _item(value: Any, rule: Rule, values: Mapping[str, str], loc: SourceLoc,
          strict: bool) -> Any:
    if isinstance(value, str):
        return _path(value, values, loc, strict)
    if isinstance(value, Unpack):
        return Unpack(PathvarFunction(value.func, rule))
    if isinstance(value, FlaggedFunction):
        return FlaggedFunction(PathvarFunction(value.func, rule), value.flag_name, value.meta)
    if callable(value):
        return PathvarFunction(value, rule)
    return value


class PathvarFunction:
    """An input function whose returned paths get the rule's pathvars applied.

    ``__wrapped__`` lets ``inspect.signature`` see the user's function (so it gets only the
    arguments it names)."""

    __slots__ = ("__wrapped__", "rule")

    def __init__(self, func: Callable[..., Any], rule: Rule) -> None:
        self.__wrapped__ = func
        self.rule = rule

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._apply(self.__wrapped__(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:  # __name__, __module__... of the user's function
        if name in ("__wrapped__", "rule") or name.startswith("__getstate"):
            raise AttributeError(name)
        return getattr(self.__wrapped__, name)

    def _apply(self, result: Any) -> Any:
        if isinstance(result, str):
            return _path(result, effective(self.rule), self.rule.loc_of("input"), True)
        if isinstance(result, dict):
            return {k: self._apply(v) for k, v in result.items()}
        if isinstance(result, (list, tuple)):
            return type(result)(self._apply(v) for v in result) if type(result) in (
                list, tuple) else [self._apply(v) for v in result]
        return result
