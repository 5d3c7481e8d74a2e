"""``snakemake.utils``: ``min_version``, ``validate``, ``update_config``,
``available_cpu_count``, ``makedirs``, ``linecount``, ``format``, ``listfiles``,
``simplify_path``, ``Paramspace``, ``logger`` — what Snakefiles import from Snakemake's
``utils`` (``R`` and ``report`` are left out: sciflow has no R bridge and reports from
provenance).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator, Mapping

from sciflow.compat.snakemake.logging import logger
from sciflow.compat.snakemake.paramspace import Paramspace
from sciflow.errors import WorkflowError
from sciflow.helpers import update_config
from sciflow.model import SourceLoc, Wildcards

__all__ = ["min_version", "validate", "update_config", "available_cpu_count", "makedirs",
           "linecount", "format", "listfiles", "simplify_path", "Paramspace", "logger"]


def min_version(version: str) -> None:
    """Snakemake's version guard. sciflow implements the Snakemake 9 language, so there is no
    Snakemake version to compare with; the argument must still be a valid version string (a
    typo stops the workflow as it would under Snakemake)."""
    from packaging.version import InvalidVersion, Version

    try:
        Version(str(version))
    except InvalidVersion:
        raise WorkflowError(f"min_version({version!r}): not a version number",
                            hint='Write e.g. min_version("8.0").') from None


# ------------------------------------------------------------------------------ validate
def validate(data: Any, schema: str | os.PathLike, set_default: bool = True) -> None:
    """Check ``data`` (a config dict, or a pandas DataFrame row by row) against a JSON Schema
    file (YAML or JSON), as Snakemake's ``validate``.

    The schema path is relative to the file that calls ``validate`` (the Snakefile or the
    included rules file), ``$ref`` inside the schema relative to the schema file. With
    ``set_default`` the schema's ``default`` values are filled in (in place: into the dict, or
    as new columns/missing cells of the DataFrame). Like Snakemake, the Draft 2020-12 rules
    apply whatever ``$schema`` says. A mismatch raises a ``WorkflowError`` naming the schema
    file, the failing key and the rule it breaks, at the line that called ``validate``.
    Nothing is checked when ``workflow.skip_validation`` is set (a module imported with
    ``skip_validation: True``).
    """
    caller = sys._getframe(1)
    loc = _call_site(caller)
    workflow = caller.f_globals.get("workflow")
    from sciflow.modules import validation_skipped

    if getattr(workflow, "skip_validation", False) or validation_skipped():
        return  # a module imported with skip_validation: True
    path = Path(os.fspath(schema))
    if not path.is_absolute():
        calling_file = caller.f_code.co_filename
        if hasattr(workflow, "absolute"):  # relative to where the workflow was loaded
            calling_file = workflow.absolute(calling_file)
        path = Path(os.path.abspath(calling_file)).parent / path
    schema_doc = _load_schema(path, loc)
    validator_for = _validators(schema_doc, path, set_default)
    if isinstance(data, Mapping):
        _check(validator_for, data, path, loc, "config")
        return
    import pandas as pd  # a dependency (imported here: workflows without tables skip its cost)

    if isinstance(data, pd.DataFrame):
        _validate_frame(data, validator_for, path, loc, set_default)


def _call_site(frame: Any) -> SourceLoc:
    """file:line:col of the call being made in ``frame`` (col from the bytecode positions)."""
    line, col = frame.f_lineno, 1
    try:
        pos = list(frame.f_code.co_positions())[frame.f_lasti // 2]
        if pos[0] == line and pos[2] is not None:
            col = pos[2] + 1
    except (IndexError, ValueError):
        pass
    return SourceLoc(frame.f_code.co_filename, line, col)


def _load_schema(path: Path, loc: SourceLoc | None) -> dict:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkflowError(f"validate(): cannot read schema {str(path)!r}: "
                            f"{exc.strerror or exc}", loc,
                            hint="The schema path is relative to the file calling validate()."
                            ) from None
    try:
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise WorkflowError(f"validate(): schema {str(path)!r} is not valid YAML/JSON: {exc}",
                            loc) from None
    if not isinstance(doc, dict):
        raise WorkflowError(f"validate(): schema {str(path)!r} must be a mapping", loc)
    return doc


def _validators(schema: dict, path: Path, set_default: bool) -> Any:
    """A Draft 2020-12 validator with ``$ref`` resolved against the schema file (and, with
    ``set_default``, one that fills ``default`` values before checking ``properties``)."""
    from urllib.parse import unquote, urlparse

    from jsonschema import Draft202012Validator, validators
    from referencing import Registry, Resource

    schema = dict(schema)
    schema["$id"] = path.resolve().as_uri()  # relative $ref: next to this file, never remote

    def retrieve(uri: str) -> Resource:
        target = Path(unquote(urlparse(uri).path))
        return Resource.from_contents(_load_schema(target, None),
                                      default_specification=_DRAFT_2020_12())

    registry = Registry(retrieve=retrieve).with_resource(
        schema["$id"], Resource.from_contents(schema, default_specification=_DRAFT_2020_12()))
    cls = Draft202012Validator
    if set_default:
        check_properties = cls.VALIDATORS["properties"]

        def properties_with_defaults(validator, properties, instance, subschema):
            if isinstance(instance, dict):
                for name, sub in properties.items():
                    if isinstance(sub, dict) and "default" in sub:
                        instance.setdefault(name, sub["default"])
            yield from check_properties(validator, properties, instance, subschema)

        cls = validators.extend(cls, {"properties": properties_with_defaults})
    return cls(schema, registry=registry)


def _DRAFT_2020_12() -> Any:
    from referencing.jsonschema import DRAFT202012
    return DRAFT202012


def _check(validator: Any, record: Any, path: Path, loc: SourceLoc, what: str) -> None:
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(record))
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    rule = "/".join(str(p) for p in error.absolute_schema_path)
    raise WorkflowError(
        f"{what} does not match the schema {str(path)!r}: at {where!r}: {error.message} "
        f"(schema rule {rule!r})", loc,
        hint=f"Fix the value of {where!r} in the {what.split(' ')[0]}, or the schema.")


def _validate_frame(frame: Any, validator: Any, path: Path, loc: SourceLoc,
                    set_default: bool) -> None:
    import pandas as pd

    records = []
    for i, row in enumerate(frame.to_dict("records")):
        record = {k: v for k, v in row.items() if pd.notnull(v)}  # empty cells: absent
        _check(validator, record, path, loc, f"row {i} of the table")
        records.append(record)
    if not set_default or not records:
        return
    filled = pd.DataFrame(records)
    for column in filled.columns:  # positional: indexes may repeat
        values = filled[column].to_numpy()
        if column not in frame.columns:
            frame[column] = values
        else:
            current = frame[column].to_numpy(copy=True)
            missing = pd.isna(current)
            if missing.any():
                current[missing] = values[missing]
                frame[column] = current


# ------------------------------------------------------------------------------ the rest
def available_cpu_count() -> int:
    """CPUs this process may use (its affinity mask: cpusets, ``taskset``), not the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or os.cpu_count() or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def makedirs(dirnames: str | list[str]) -> None:
    """Create each directory (and parents); existing ones are fine."""
    for name in [dirnames] if isinstance(dirnames, (str, os.PathLike)) else dirnames:
        os.makedirs(name, exist_ok=True)


def linecount(filename: str | os.PathLike) -> int:
    """Number of lines of a text file."""
    with open(filename, encoding="utf-8", errors="replace") as fh:
        return sum(1 for _ in fh)


def simplify_path(path: str) -> str:
    """``path`` relative to the working directory, unless that climbs two levels or more."""
    rel = os.path.relpath(path)
    return path if rel.startswith("../../") else rel


def format(_pattern: str, *args: Any, stepout: int = 1, **kwargs: Any) -> str:
    """Snakemake-style formatting (``{input}`` joins lists with spaces, ``{x:q}`` quotes) with
    the caller's variables (``stepout`` frames up) and ``kwargs``."""
    from sciflow.execute.shell import format_shell

    frame = sys._getframe(1)
    while stepout > 1 and frame.f_back is not None:
        frame, stepout = frame.f_back, stepout - 1
    namespace = {**frame.f_globals, **frame.f_locals, **kwargs}
    if args:  # positional fields ({} / {0}): rare; the same formatter, without name hints
        from sciflow.execute.shell import _FORMATTER
        return _FORMATTER.vformat(_pattern, args, namespace)
    return format_shell(_pattern, namespace)


def listfiles(pattern: str, restriction: Mapping[str, str] | None = None,
              omit_value: str | None = None) -> Iterator[tuple[str, Wildcards]]:
    """Existing files (and folders) matching a wildcard pattern, with their wildcard values.
    ``restriction`` keeps only matches whose wildcards have the given values (a value
    containing ``omit_value`` matches anything)."""
    from sciflow.wildcards import compile_pattern, constant_prefix, has_wildcards

    pattern = os.path.normpath(pattern)
    folder = os.path.dirname(constant_prefix(pattern) if has_wildcards(pattern) else pattern)
    regex = compile_pattern(pattern)
    for dirpath, dirnames, filenames in os.walk(folder or "."):
        for name in [*filenames, *dirnames]:
            path = name if dirpath == "." else os.path.normpath(os.path.join(dirpath, name))
            match = regex.match(path)
            if not match:
                continue
            values = Wildcards(match.groupdict())
            if restriction is not None and any(
                    (omit_value is None or omit_value not in v) and v != values[k]
                    for k, v in restriction.items()):
                continue
            yield path, values
