"""Reading config YAML/JSON with bounded resources: the one place sciflow loads a config.

YAML aliases (``&a`` … ``*a``) let a 1 KB file describe 10⁹ values (the "billion laughs"):
PyYAML builds it cheaply as a graph of shared objects, but anything that walks it as a tree
(provenance recording it as JSON, a deep copy into a job, printing it) runs out of memory.
So after composing the document, and before constructing any Python object, we compute the
size it would have written out (values plus characters of scalars), walking the node graph
once with memoisation, and refuse — with a ``ConfigError`` naming the file — a document
whose expansion is far larger than its text. Recursive aliases are refused too.

``bounded_plain`` is the matching guard on the way out: provenance records a config as JSON,
but never more than a size cap of it, whatever Python code did to ``config`` at run time.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sciflow.errors import ConfigError
from sciflow.model import SourceLoc

# A document may expand to 10× its own length (plenty for anchors reused a few times) and
# always to 10 MB; beyond that it is refused.
EXPANSION_FACTOR = 10
EXPANSION_FLOOR = 10_000_000
# Provenance keeps at most this many characters of JSON for a config.
RECORD_CAP = 1_000_000

if TYPE_CHECKING:  # pragma: no cover
    import yaml
# yaml is imported where it is used: a run without config files does not pay for it (~10 ms).


def load_yaml(text: str, source: str, loc: SourceLoc | None = None) -> Any:
    """``text`` (YAML, so JSON too) as Python data; ``source`` names it in errors."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_expansion(node, max(EXPANSION_FACTOR * len(text), EXPANSION_FLOOR), source, loc)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if loc is None and mark is not None and not source.startswith("-"):
            # located in the file itself: FILE:LINE:COL already names it
            raise ConfigError(f"not valid YAML/JSON: {problem}",
                              SourceLoc(source, mark.line + 1, mark.column + 1)) from None
        raise ConfigError(f"{source} is not valid YAML/JSON: {problem}", loc) from None
    except RecursionError:
        raise ConfigError(f"{source} is nested too deeply to read", loc) from None
    finally:
        loader.dispose()


def read_config_file(path: str, loc: SourceLoc | None = None, what: str = "config file") -> dict:
    """A YAML or JSON file holding a mapping (a config file, a profile) as a dict."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot read {what} {path!r}: {reason}", loc) from None
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ConfigError(f"{what} {path!r} is not valid JSON: {exc}", loc) from None
    else:
        data = load_yaml(text, path, loc)
        if isinstance(data, dict) and "__use_yte__" in data:
            data = _render_yte(data, text, path, loc, what)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path!r} must hold a mapping, got {type(data).__name__}", loc)
    return data


def _render_yte(data: dict, text: str, path: str, loc: SourceLoc | None, what: str) -> Any:
    """A YAML config whose top level says ``__use_yte__: true`` is a YTE template (as in
    Snakemake): rendered once, without variables; the marker key itself is dropped."""
    if not data.pop("__use_yte__"):
        return data
    try:
        import yte
    except ImportError:
        raise ConfigError(f"{what} {path!r} is a YTE template (__use_yte__: true), but the "
                          "'yte' library is not installed", loc,
                          hint="Install it: pip install yte") from None
    try:
        return yte.process_yaml(text, require_use_yte=True)
    except Exception as exc:  # the template's own errors (YAML, Python expressions)
        raise ConfigError(f"cannot render the YTE template {what} {path!r}: "
                          f"{type(exc).__name__}: {exc}", loc) from None


def check_expansion(root: yaml.Node, limit: int, source: str, loc: SourceLoc | None) -> None:
    """Refuse a node graph whose tree expansion exceeds ``limit`` or that holds a cycle.

    Iterative post-order walk; ``size`` memoises each node (aliases are the same node
    object), so the cost is linear in the document, not in its expansion."""
    import yaml

    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > limit:
                raise ConfigError(
                    f"{source}: its YAML aliases expand to more than {limit:,} values and "
                    "characters; refusing to load it (a 'billion laughs' document?)", loc,
                    hint="Write the repeated values out, or reuse anchors less deeply.")
            size[key] = total
            continue
        if key in size:
            continue
        if isinstance(node, yaml.ScalarNode):
            size[key] = 1 + len(node.value)
            continue
        if key in on_path:
            raise ConfigError(f"{source}: a YAML alias refers to itself (a recursive "
                              "structure); configs must be trees", loc)
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise ConfigError(f"{source}: a YAML alias refers to itself (a recursive "
                                  "structure); configs must be trees", loc)
            if id(child) not in size:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [x for pair in node.value for x in pair]
    return []


def bounded_plain(value: Any, cap: int = RECORD_CAP) -> Any:
    """``value`` as JSON-able data, or — when its JSON would exceed ``cap`` characters (or it
    is recursive) — a small marker saying so, computed without expanding it.

    The size is estimated on the object graph with memoisation (shared sub-objects counted
    each time they appear, as JSON would write them), so a config built from aliases or
    repeated references costs time linear in its distinct objects."""
    estimate = _json_size(value, cap)
    if estimate is None or estimate > cap:
        return {"sciflow:truncated": f"config larger than {cap:,} characters of JSON (or "
                                      "recursive); not recorded in full"}
    return plain(value)


def _json_size(value: Any, cap: int) -> int | None:
    memo: dict[int, int] = {}
    on_path: set[int] = set()

    def size(v: Any, depth: int = 0) -> int | None:
        if isinstance(v, str):
            return len(v) + 2
        if v is None or isinstance(v, (bool, int, float)):
            return 6
        if not isinstance(v, (dict, list, tuple, set, frozenset)):
            return len(repr(v)) + 2 if depth < 500 else None
        key = id(v)
        if key in memo:
            return memo[key]
        if key in on_path or depth > 500:
            return None
        on_path.add(key)
        total = 2
        items = (x for kv in v.items() for x in kv) if isinstance(v, dict) else iter(v)
        for item in items:
            s = size(item, depth + 1)
            if s is None:
                return None
            total += s + 1
            if total > cap:  # no need to look further
                break
        on_path.discard(key)
        memo[key] = total
        return total

    return size(value)


def plain(value: Any) -> Any:
    """``value`` as JSON-able data (NamedLists become lists, paths and other objects strings),
    for provenance: parameters, resources, wildcards, the config."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return repr(value)


def parse_config_value(value: str, key: str) -> Any:
    """The value of ``--config KEY=VALUE``: read as YAML when it is valid YAML (``3`` is a
    number, ``[a, b]`` a list), else the text itself — but never an alias bomb."""
    if not value:
        return ""
    try:
        parsed = load_yaml(value, f"--config {key}")
    except ConfigError as exc:
        if "is not valid YAML" in exc.message:
            return value
        raise
    ok = isinstance(parsed, (int, float, bool, str, list, dict)) or parsed is None
    return parsed if ok else value
