"""``snakemake.ioutils``: Snakemake 8/9's semantic helpers (also in the workflow namespace):
``lookup``, ``branch``, ``evaluate``, ``collect``, ``exists``, ``parse_input``,
``extract_checksum``, ``flatten``, ``subpath``, ``prepend_param``, ``choose_file``/``choose_folder``/
``choose_tmp``, ``as_py_module``, and the rule-item proxies ``input``/``output``/``params``/
``resources``/``threads`` (:data:`RULE_ITEMS`). Semantics follow Snakemake's documentation and behaviour
(checked by differential tests); the code is sciflow's."""
from __future__ import annotations

import functools
import inspect
import os
import re
import string
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable

from sciflow.compat.snakemake.exceptions import LookupError
from sciflow.errors import WorkflowError
from sciflow.helpers import branch, evaluate, exists
from sciflow.wildcards import expand

collect = expand  # Snakemake's name for expand() over the outputs of earlier jobs

_NODEFAULT = object()
_FIELDS = string.Formatter()


def _field_roots(text: str) -> set[str]:
    """The names a ``str.format`` template looks up (``{sample.kind}`` → ``sample``)."""
    roots = set()
    try:
        for _, field, _, _ in _FIELDS.parse(text):
            if field:
                roots.add(re.split(r"[.\[]", field, maxsplit=1)[0])
    except ValueError:
        pass
    return roots


def _fill(template: str, namespace: Mapping[str, Any]) -> str:
    try:
        return _FIELDS.vformat(template, (), dict(namespace))
    except (KeyError, AttributeError, IndexError) as exc:
        raise WorkflowError(f"lookup(): cannot fill {template!r}: no value for {exc}") from None


def lookup(query: str | None = None, dpath: str | None = None,
           cols: list[str] | str | None = None, is_nrows: int | None = None,
           within: Any = None, default: Any = _NODEFAULT, **namespace: Any) -> Any:
    """A value from a mapping (``dpath="a/b"``, glob patterns allowed, via the ``dpath``
    library) or from a pandas DataFrame/Series (``query="sample == '{sample}'"``, optionally
    ``cols`` and ``is_nrows``). One matching row gives a namedtuple, several a list of them;
    ``cols="c"`` gives the list of that column's values. ``default`` is returned when nothing
    matches. When the query/dpath/cols name a ``{wildcard}`` not given as a keyword (or a
    keyword is a function), the result is an input function evaluated per job."""
    def fail(msg: str) -> LookupError:
        return LookupError(msg=msg, query=query, dpath=dpath)

    if within is None:
        raise fail("Must provide a dataframe, series, or mapping to search within.")
    if cols is not None and not isinstance(cols, (str, list)):
        raise fail("The cols argument has to be either a str or a list of str.")
    if is_nrows is not None and not isinstance(is_nrows, int):
        raise fail("The is_nrows argument has to be an int.")
    if query is not None and dpath is not None:
        raise fail("Cannot provide both query and dpath arguments.")
    if query is not None and isinstance(within, Mapping):
        query, dpath = None, query  # a mapping is searched by path, even if passed as query
    if query is not None:
        return _deferred(query, [cols] if isinstance(cols, str) else list(cols or ()),
                         namespace, lambda q, ns: _query(within, q, _fill_cols(cols, ns),
                                                         is_nrows, default))
    if dpath is not None:
        if not isinstance(within, Mapping):
            raise fail("Dpath parameter can only be used with python mapping (e.g. dict).")
        return _deferred(dpath, [], namespace, lambda p, ns: _dpath(within, p, default))
    raise fail("Must provide either a query or dpath parameter.")


def _fill_cols(cols: Any, namespace: Mapping[str, Any]) -> Any:
    if cols is None or not namespace:
        return cols
    if isinstance(cols, list):
        return [_fill(c, namespace) for c in cols]
    return _fill(cols, namespace)


def _deferred(expression: str, extra: list[str], namespace: dict[str, Any],
              apply: Callable[[str, Mapping[str, Any]], Any]) -> Any:
    """Apply now if every placeholder is known, else return an input function."""
    needed = set().union(*(_field_roots(t) for t in [expression, *extra]))
    if not (needed - set(namespace)) and not any(callable(v) for v in namespace.values()):
        return apply(_fill(expression, namespace) if namespace else expression, namespace)

    def input_function(wildcards: Any) -> Any:
        resolved = {k: (v(wildcards) if callable(v) else v) for k, v in namespace.items()}
        for key, value in wildcards.items():
            resolved.setdefault(key, value)
        resolved.setdefault("wildcards", wildcards)  # "{wildcards.sample}", as Snakemake
        return apply(_fill(expression, resolved), resolved)
    return input_function


def _query(within: Any, query: str, cols: Any, is_nrows: int | None, default: Any) -> Any:
    import pandas as pd

    frame = within.to_frame() if isinstance(within, pd.Series) else within
    try:
        rows = frame.query(query)
    except Exception as exc:  # pandas raises many kinds for a bad query
        raise LookupError(query=query, exc=exc) from None
    if is_nrows is not None:
        return len(rows) == is_nrows
    if len(rows) == 0 and default is not _NODEFAULT:
        return default
    if cols is not None:
        rows = rows[cols]
        if not isinstance(cols, list):
            return rows.to_list()
    records = list(rows.itertuples(index=cols is None))
    return records[0] if len(records) == 1 else records


def _dpath(within: Mapping, path: str, default: Any) -> Any:
    import dpath

    try:
        return dpath.get(within, path)
    except ValueError:  # a glob matching several entries: all their values
        return dpath.values(within, path)
    except KeyError:
        if default is not _NODEFAULT:
            return default
        raise LookupError(dpath=path, msg="Dpath not found.") from None


def parse_input(infile: Any, parser: Callable[..., Any] | None = None,
                **kwargs: Any) -> Callable[..., Any]:
    """A ``params:`` function that reads an input file when the job is planned: the stripped
    text, or ``parser(filehandle, **kwargs)``. ``infile`` may be a function of
    ``(wildcards, input)`` (e.g. ``input.get("sizes")``-style lookups)."""
    def read(wildcards: Any, input: Any) -> Any:
        path = infile(wildcards, input) if callable(infile) else infile
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip() if parser is None else parser(fh, **kwargs)
    return read


def extract_checksum(infile: Any, **kwargs: Any) -> Any:
    """The checksum of ``file=`` in a ``sha256sum``/``md5sum``-style listing (``<sum>  <name>``,
    a leading ``./`` on names ignored) — used as ``parser`` of :func:`parse_input`."""
    wanted = str(kwargs.get("file", "")).removeprefix("./")
    text = infile.read() if hasattr(infile, "read") else open(infile, encoding="utf-8").read()
    sums = {}
    for line in text.splitlines():
        if "  " in line:
            digest, name = line.split("  ", 1)
            sums[name.strip().removeprefix("./")] = digest.strip()
    try:
        return sums[wanted]
    except KeyError:
        raise WorkflowError(f"extract_checksum(): no checksum for {wanted!r} in "
                            f"{getattr(infile, 'name', infile)!r}") from None


def flatten(list_of_lists: list) -> list[str]:
    """Nested lists flattened, every item as ``str`` (Snakemake's ``flatten``)."""
    flat: list[str] = []
    for item in list_of_lists:
        if isinstance(item, list):
            flat.extend(flatten(item))
        else:
            flat.append(str(item))
    return flat


class RuleItem:
    """``input``/``output``/``params``/``resources`` at the top of a Snakefile (Snakemake 8):
    ``input.sums`` or ``input[0]`` inside a rule's directives is a function the planner calls
    with the job's item of that name (e.g. ``parse_input(input.sums, ...)``)."""

    def __init__(self, item: str) -> None:
        self._item = item

    def __getattr__(self, key: str) -> Callable[..., Any]:
        if key.startswith("__"):
            raise AttributeError(key)
        return self._deferred(lambda items: getattr(items, key))

    def __getitem__(self, key: Any) -> Callable[..., Any]:
        return self._deferred(lambda items: items[key])

    def _deferred(self, get: Callable[[Any], Any]) -> Callable[..., Any]:
        return _BY_NAME[self._item](get)


# The parameter name tells the planner which of the job's items to pass (as Snakemake does).
_BY_NAME: dict[str, Callable[[Callable[[Any], Any]], Callable[..., Any]]] = {
    "input": lambda get: lambda wildcards, input: get(input),
    "output": lambda get: lambda wildcards, output: get(output),
    "params": lambda get: lambda wildcards, params: get(params),
    "resources": lambda get: lambda wildcards, resources: get(resources),
}


def threads(wildcards: Any, threads: int) -> int:  # noqa: D401 - Snakemake's ``threads`` item
    """``threads`` inside a rule's directives: the job's thread count."""
    return threads


RULE_ITEMS = {"input": RuleItem("input"), "output": RuleItem("output"),
              "params": RuleItem("params"), "resources": RuleItem("resources"),
              "threads": threads}



# ------------------------------------------------------------------------------ path helpers
def _per_job(func: Callable[..., Any], then: Callable[[Any], Any]) -> Callable[..., Any]:
    """A function with ``func``'s parameters (so the planner passes the same job items)
    returning ``then(func(...))``."""
    @functools.wraps(func)
    def inner(wildcards: Any, **items: Any) -> Any:
        return then(func(wildcards, **items))
    inner.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
    return inner


def _one_path(value: Any, helper: str) -> str:
    if isinstance(value, Path):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"Value passed to {helper} must be a single string or pathlib.Path "
                         f"(or a function returning those). Obtained value: {value!r}")
    return value


def subpath(path_or_func: Any, strip_suffix: str | None = None, with_suffix: str | None = None,
            basename: bool = False, parent: bool = False, ancestor: int | None = None) -> Any:
    """A part of a path (Snakemake 8): ``strip_suffix``, then ``with_suffix`` appended, then
    the ``basename``, the ``parent`` folder, or the ``ancestor``-th folder up ("." once the
    path runs out). ``path_or_func`` may be a function (e.g. ``output.test``): the result is
    then evaluated per job."""
    def part(value: Any) -> str:
        path = _one_path(value, "subpath")
        if strip_suffix is not None:
            if not path.endswith(strip_suffix):
                raise ValueError(f"Path {path} does not end with the specified suffix "
                                 f"{strip_suffix}")
            path = path[:len(path) - len(strip_suffix)]
        if with_suffix is not None:
            path += with_suffix
        if basename:
            if parent or ancestor is not None:
                raise ValueError("basename cannot be used together with parent or ancestor")
            return os.path.basename(path)
        if parent:
            if ancestor is not None:
                raise ValueError("parent cannot be used together with ancestor")
            return os.path.dirname(path) or "."
        if ancestor is not None:
            if ancestor < 1:
                raise ValueError("ancestor must be greater than 0")
            for _ in range(ancestor):
                path = os.path.dirname(path)
                if not path:
                    return "."
        return path

    return _per_job(path_or_func, part) if callable(path_or_func) else part(path_or_func)


def prepend_param(prefix: str, paths_or_func: Any, space: bool = True) -> Any:
    """``prepend_param("--in", input)`` → ``"--in a.txt --in b.txt"``: each path after the
    prefix, joined by spaces (for tools that want the keyword before every file)."""
    def joined(paths: Any) -> str:
        items = paths if isinstance(paths, list) else [paths]
        sep = " " if space else ""
        return " ".join(f"{prefix}{sep}{_one_path(p, 'prepend_param')}" for p in items)

    if isinstance(paths_or_func, RuleItem):  # the whole item: input, output, params...
        return _BY_NAME[paths_or_func._item](lambda items: joined(list(items)))
    if callable(paths_or_func):
        return _per_job(paths_or_func, joined)
    return joined(paths_or_func)


def _permitted(path: Path, read: bool | None, write: bool | None, execute: bool | None) -> bool:
    """Every permission that is asked about (not None) is there — as Snakemake checks it
    (``False`` is asked about too, and also needs the permission)."""
    wanted = ((os.R_OK, read), (os.W_OK, write), (os.X_OK, execute))
    return all(os.access(path, mode) for mode, on in wanted if on is not None)


def _creatable(path: Path) -> bool:
    """Some folder above ``path`` exists and may be written and entered."""
    return any(folder.is_dir() and _permitted(folder, True, True, True)
               for folder in path.parents)


def _choose(candidates: list, read: bool | None, write: bool | None, execute: bool | None,
            creatable: bool | None, is_dir: bool) -> Path | None:
    for item in candidates:
        path = Path(os.fspath(item)).expanduser()
        if _permitted(path, read, write, execute) and path.is_dir() == is_dir:
            return path
        if creatable and path != Path(path.anchor) and _creatable(path):
            return path
    return None


def choose_file(file_list: list, read: bool = True, write: bool = True,
                execute: bool | None = None, creatable: bool | None = None) -> Path | None:
    """The first path of ``file_list`` that is a file with the wanted permissions (or, with
    ``creatable``, that could be made); None if none is."""
    return _choose(file_list, read, write, execute, creatable, is_dir=False)


def choose_folder(folder_list: list, read: bool = True, write: bool = True, open: bool = True,
                  creatable: bool | None = None) -> Path | None:
    """As :func:`choose_file`, for folders (``open``: may be entered)."""
    return _choose(folder_list, read, write, open, creatable, is_dir=True)


def choose_tmp(tmp_list: list, read: bool = True, write: bool = True, open: bool = True,
               creatable: bool = True) -> Path | str:
    """A folder for temporary files: the first usable of ``tmp_list``, else
    ``"system_tmpdir"`` (Snakemake's word for the system's default)."""
    found = _choose(tmp_list, read, write, open, creatable, is_dir=True)
    return "system_tmpdir" if found is None else found


def _module_name(path: Any) -> str:
    path = Path(os.fspath(path))
    if not path.name.endswith(".py"):
        raise ValueError("Only .py files may be run as Python modules.")
    parts = [*path.parts[:-1], path.name[:-3]]
    if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p) for p in parts):
        raise ValueError(f"{path} does not translate to a valid Python name")
    return ".".join(parts)


def as_py_module(path_or_func: Any = None) -> Any:
    """The module name (for ``python -m``) of a ``.py`` path: ``pkg/sub/mod.py`` →
    ``pkg.sub.mod``. Default: the job's ``input.script``."""
    if path_or_func is None:
        path_or_func = RuleItem("input").script
    if isinstance(path_or_func, RuleItem):
        def single(items: Any) -> str:
            (only,) = list(items)
            return _module_name(only)
        return _BY_NAME[path_or_func._item](single)
    if callable(path_or_func):
        return _per_job(path_or_func, _module_name)
    return _module_name(path_or_func)


__all__ = ["lookup", "branch", "evaluate", "collect", "exists", "parse_input",
           "extract_checksum", "flatten", "subpath", "prepend_param", "choose_file",
           "choose_folder", "choose_tmp", "as_py_module", "RuleItem", "RULE_ITEMS"]
