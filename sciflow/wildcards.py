"""Wildcard patterns: ``results/{sample}.txt`` ↔ regexes, expansion and globbing.

Pure functions shared by the parser (namespace helpers ``expand``, ``glob_wildcards``,
``multiext``) and the DAG (matching outputs against requested files). They follow Snakemake's
``snakemake.io`` semantics, which the tests use as an oracle:

* ``{name}`` is a wildcard matching ``.+``; ``{name,regex}`` constrains it inline (the regex may
  hold one level of ``{m,n}`` braces, e.g. ``{id,[0-9]{3}}``);
* a wildcard repeated in one pattern must match the same text each time (a backreference);
* ``{{`` and ``}}`` are literal braces.

The DAG asks for the same compiled pattern millions of times, so parsing and compiling are
cached per pattern string.

>>> compile_pattern("out/{s}.{ext,txt|csv}").fullmatch("out/a.b.txt").groupdict()
{'s': 'a.b', 'ext': 'txt'}
>>> apply_wildcards("out/{s}.txt", {"s": "a"})
'out/a.txt'
"""
from __future__ import annotations

import collections
import functools
import itertools
import os
import re
import string
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

from sciflow.errors import WildcardError, WorkflowError

# Same shape as Snakemake's WILDCARD_REGEX (snakemake_interface_storage_plugins.io), plus the
# ``{{``/``}}`` escapes as their own alternatives so they are never mistaken for a wildcard.
_TOKEN = re.compile(
    r"""
    (?P<escape>\{\{|\}\})
    |
    \{
        (?=(   # lookahead + backreference: an atomic group, avoids catastrophic backtracking
            \s*(?P<name>[.\w]+)
            (\s*,\s*
                (?P<constraint>([^{}]+ | \{\d+(,\d+)?\})*)
            )?\s*
        ))\2
    \}
    """,
    re.VERBOSE,
)


class _Wildcard(NamedTuple):
    name: str
    constraint: str | None


# A parsed pattern: literal strings and wildcards, in order.
_Part = str | _Wildcard


@functools.lru_cache(maxsize=65536)
def _parse(pattern: str) -> tuple[_Part, ...]:
    parts: list[_Part] = []
    literal: list[str] = []
    last = 0
    for m in _TOKEN.finditer(pattern):
        literal.append(pattern[last:m.start()])
        last = m.end()
        if m.group("escape"):
            literal.append(m.group("escape")[0])
            continue
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(_Wildcard(m.group("name"), m.group("constraint") or None))
    literal.append(pattern[last:])
    text = "".join(literal)
    if text:
        parts.append(text)
    return tuple(p for p in parts if p != "")


def wildcard_names(pattern: str) -> list[str]:
    """The wildcard names of ``pattern``, each once, in order of first appearance.

    >>> wildcard_names("{a}/{b,[0-9]+}_{a}.txt")
    ['a', 'b']
    """
    return list(_names(str(pattern)))


@functools.lru_cache(maxsize=65536)
def _names(pattern: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for part in _parse(pattern):
        if isinstance(part, _Wildcard):
            seen.setdefault(part.name, None)
    return tuple(seen)


def has_wildcards(pattern: str) -> bool:
    """True if ``pattern`` holds at least one wildcard."""
    return bool(_names(str(pattern)))


def inline_constraints(pattern: str) -> dict[str, str]:
    """The ``{name,regex}`` constraints written inside ``pattern``."""
    return {p.name: p.constraint for p in _parse(str(pattern))
            if isinstance(p, _Wildcard) and p.constraint}


def compile_pattern(pattern: str, constraints: Mapping[str, str] | None = None) -> re.Pattern[str]:
    """A regex matching exactly the files ``pattern`` describes (use ``.fullmatch``; the regex
    also ends in ``$`` so ``.match`` works too). Inline constraints win over ``constraints``
    (the rule's and workflow's ``wildcard_constraints``), as in Snakemake.

    >>> bool(compile_pattern("{a}_{a}").fullmatch("x_y"))
    False
    """
    pattern = str(pattern)
    if constraints:
        names = _names(pattern)
        key = tuple((n, str(constraints[n])) for n in names if n in constraints)
    else:
        key = ()
    return _compile(pattern, key)


@functools.lru_cache(maxsize=65536)
def _compile(pattern: str, constraints: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    extra = dict(constraints)
    out: list[str] = []
    seen: set[str] = set()
    for part in _parse(pattern):
        if isinstance(part, str):
            out.append(re.escape(part))
            continue
        name = part.name
        if not name.isidentifier():
            raise WildcardError(f"invalid wildcard name {name!r} in pattern {pattern!r}",
                                hint="Wildcard names must be Python identifiers.")
        if name in seen:
            if part.constraint:
                raise WildcardError(
                    f"wildcard {name!r} is constrained in a later occurrence in {pattern!r}",
                    hint="Write the constraint on the first occurrence of the wildcard only.")
            out.append(f"(?P={name})")
            continue
        seen.add(name)
        regex = part.constraint or extra.get(name) or ".+"
        out.append(f"(?P<{name}>{regex})")
    out.append("$")
    try:
        return re.compile("".join(out))
    except re.error as exc:
        raise WildcardError(f"invalid wildcard constraint in pattern {pattern!r}: {exc}") from None


def match(pattern: str, path: str, constraints: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The wildcard values if ``path`` matches ``pattern``, else None."""
    m = compile_pattern(pattern, constraints).fullmatch(str(path))
    return m.groupdict() if m else None


def apply_wildcards(pattern: str, wildcards: Mapping[str, Any]) -> str:
    """Fill the wildcards of ``pattern`` with values (``{{``/``}}`` become single braces).

    >>> apply_wildcards("{a}/{b,\\\\d+}.txt", {"a": "x", "b": 1})
    'x/1.txt'
    """
    out: list[str] = []
    for part in _parse(str(pattern)):
        if isinstance(part, str):
            out.append(part)
            continue
        try:
            out.append(str(wildcards[part.name]))
        except KeyError:
            raise WildcardError(f"no value for wildcard {part.name!r} in pattern {str(pattern)!r}",
                                hint="Every wildcard of an input/log/params pattern must also "
                                     "appear in the rule's output.") from None
    return "".join(out)


def constant_prefix(pattern: str) -> str:
    """The literal text before the first wildcard (the whole text if there is none)."""
    parts = _parse(str(pattern))
    return parts[0] if parts and isinstance(parts[0], str) else ""


def constant_suffix(pattern: str) -> str:
    """The literal text after the last wildcard (the whole text if there is none)."""
    parts = _parse(str(pattern))
    return parts[-1] if parts and isinstance(parts[-1], str) else ""


# ------------------------------------------------------------------------------ expand
_FORMAT_FIELD = re.compile(r"{([^}\.[!:]+)")  # the field names str.format would look up


def expand(patterns: Any, *combinator: Callable[..., Iterable], allow_missing: bool = False,
           **values: Any) -> Any:
    """Snakemake's ``expand``: fill each pattern with every combination of ``values``.

    The combinator is ``itertools.product`` unless given (``zip``). ``{{x}}`` stays as
    ``{x}``. With ``allow_missing=True`` wildcards without values are kept. If a value is a
    function, returns an input function doing the expansion once called with wildcards.

    >>> expand("{a}_{b}.txt", a=[1, 2], b="x")
    ['1_x.txt', '2_x.txt']
    >>> expand("{a}_{b}", zip, a=[1, 2], b=[3, 4])
    ['1_3', '2_4']
    """
    if len(combinator) > 1:
        raise WorkflowError("expand() takes at most one combinator (e.g. zip) after the patterns")
    combine = combinator[0] if combinator else itertools.product
    if isinstance(patterns, (str, Path)):
        patterns = [patterns]
    patterns = [str(p) if isinstance(p, Path) else p for p in patterns]
    for p in patterns:
        if getattr(p, "flags", None):
            raise WorkflowError(
                f"flags ({', '.join(sorted(p.flags))}) in file pattern {str(p)!r} given to "
                "expand() are invalid", hint="Apply flags outside of expand, e.g. "
                "temp(expand(\"plots/{sample}.pdf\", sample=SAMPLES)).")
    if "allow_missing" in values:  # only when used as a wildcard name, as in Snakemake
        allow_missing = values.pop("allow_missing")
    callables = {k: v for k, v in values.items()
                 if callable(v) or (isinstance(v, list) and any(callable(x) for x in v))}
    if callables:
        def deferred(wildcards: Any, **_aux: Any) -> list[str]:
            resolved = dict(values)
            for key, value in callables.items():
                if callable(value):
                    resolved[key] = value(wildcards)
                else:
                    resolved[key] = [x(wildcards) if callable(x) else x for x in value]
            return _expand(patterns, combine, allow_missing, resolved)
        return deferred
    return _expand(patterns, combine, allow_missing, values)


class _KeepMissing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _expand(patterns: Sequence[str], combine: Callable[..., Iterable], allow_missing: bool,
            values: Mapping[str, Any]) -> list[str]:
    formatter = string.Formatter()
    mapping = _KeepMissing if allow_missing else dict
    result: list[str] = []
    for pattern in patterns:
        fields = set(_FORMAT_FIELD.findall(pattern))
        columns = []
        for key, value in values.items():
            if key not in fields:
                continue
            if isinstance(value, str) or not isinstance(value, Iterable) or _is_namedtuple(value):
                value = [value]
            columns.append([(key, v) for v in value])
        # a path a module already moved (``rules.x.output`` inside the module) stays marked
        # as moved once expanded, so the module's prefix is not applied twice (Snakemake)
        moved = getattr(pattern, "meta", {}).get("module_path")
        try:
            for combo in combine(*columns):
                text = formatter.vformat(pattern, (), mapping(combo))
                result.append(text if moved is None else _moved(text, moved))
        except KeyError as exc:
            raise WildcardError(f"no values given for wildcard {exc} in expand({pattern!r})",
                                hint="Pass it as a keyword, or use allow_missing=True.") from None
        except (ValueError, IndexError) as exc:
            raise WildcardError(f"cannot expand pattern {pattern!r}: {exc}") from None
    return result


def _moved(text: str, module: str) -> str:
    from sciflow.model import IOFile  # (model imports this module)
    return IOFile(text, (), {"module_path": module})


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


# ------------------------------------------------------------------------------ glob_wildcards
def glob_wildcards(pattern: str, files: Iterable[str] | None = None,
                   followlinks: bool = False) -> Any:
    """The values of the wildcards of ``pattern`` over existing files (or ``files``), as a
    namedtuple of lists, one per wildcard, like Snakemake's.

    >>> glob_wildcards("data/{s}.txt", files=["data/a.txt", "data/b.csv"]).s
    ['a']
    """
    pattern = os.path.normpath(str(pattern))
    names = _names(pattern)
    Wildcards = collections.namedtuple("Wildcards", names)  # type: ignore[misc]
    found = Wildcards(*[[] for _ in names])
    regex = compile_pattern(pattern)
    if files is None:
        prefix = constant_prefix(pattern) if names else pattern
        directory = os.path.dirname(prefix) or "."
        files = (os.path.normpath(os.path.join(dirpath, f))
                 for dirpath, dirnames, filenames in os.walk(directory, followlinks=followlinks)
                 for f in itertools.chain(filenames, dirnames))
    for f in files:
        m = regex.match(str(f))
        if m:
            for name, value in m.groupdict().items():
                getattr(found, name).append(value)
    return found


# ------------------------------------------------------------------------------ multiext
class NamedFiles(dict):
    """Named files returned by ``multiext(prefix, name=ext, ...)``; the parser turns a
    positional ``NamedFiles`` into named directive items (``output.name``)."""


def multiext(prefix: str, *exts: str, **named: str) -> list[str] | NamedFiles:
    """One pattern per extension: ``multiext("a", ".bam", ".bai")`` → ``["a.bam", "a.bai"]``.

    With named extensions the result is a ``NamedFiles`` dict (``name -> prefix+ext``).
    """
    if any("/" in e or "\\" in e for e in itertools.chain(exts, named.values())):
        raise WorkflowError(r"extensions for multiext may not contain path delimiters (/, \)")
    if bool(exts) == bool(named):
        raise WorkflowError("multiext takes either only positional or only named extensions "
                            "(at least one)")
    if exts:
        return [str(prefix) + e for e in exts]
    return NamedFiles({name: str(prefix) + e for name, e in named.items()})
