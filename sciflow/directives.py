"""Load-time workflow directives and namespace helpers beyond the core ones of
``sciflow.helpers``: ``module``/``use rule ... from`` glue, ``configfile:`` next to
``--configfile``, ``scattergather:`` with ``scatter.NAME()``/``gather.NAME()``, ``pepfile:`` /
``pepschema:`` (peppy), ``report()`` with caption/category, ``repeat()`` for benchmarks, and
clear errors for what needs the network (``storage``, remote providers, ``github()``).

``extend_namespace`` wraps the namespace that ``helpers.build_namespace`` made for one
workflow (or module): it adds names and intercepts the keywords it handles, passing the rest
to the original ``_sf_keyword``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from sciflow import modules
from sciflow.errors import ConfigError, WorkflowError
from sciflow.model import IOFile, SourceLoc, Workflow, flag

STORAGE_HINT = ("sciflow runs offline on local files: download the file first (e.g. with a "
                "rule whose shell: runs 'curl -L -o {output} URL', or by hand) and use its local "
                "path instead of storage/remote providers.")


@dataclass
class LoadOptions:
    """What every file of one load shares (the main workflow and its modules)."""

    main_path: str
    overwrite_config: dict
    configfiles_given: bool = False  # --configfile was given: a missing configfile: is skipped
    # --replace-workflow-config: a configfile: read while --configfile/--config give values is
    # dropped, those values replace it (Snakemake discards the whole config at that point)
    replace_config: bool = False
    scatter: dict[str, int] = field(default_factory=dict)  # --set-scatter NAME=N
    compiled: dict = field(default_factory=dict)  # (abspath, module) -> (code, parsed)
    col_shifts: dict = field(default_factory=dict)  # abspath -> Compiled.col_shift


# ------------------------------------------------------------------------------ report / repeat
def report(value: Any, caption: Any = None, category: Any = None, subcategory: Any = None,
           labels: Any = None, patterns: Any = (), htmlindex: Any = None) -> Any:
    """Snakemake's ``report()`` flag: the path stays a plain path; its caption, category,
    subcategory, labels, patterns and htmlindex are kept in ``IOFile.meta["report"]`` for a
    report to use."""
    meta = {"caption": caption, "category": category, "subcategory": subcategory,
            "labels": labels, "patterns": list(patterns or ()), "htmlindex": htmlindex}
    if isinstance(value, os.PathLike) and not isinstance(value, str):
        value = os.fspath(value)
    return flag(value, "report", meta)


def repeat(value: Any, n_repeat: int) -> IOFile:
    """``benchmark: repeat("b.tsv", 3)``: benchmark the job 3 times (``Rule.benchmark_repeats``)."""
    if isinstance(value, os.PathLike) and not isinstance(value, str):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise WorkflowError("repeat() takes a benchmark file path and a number of repeats")
    if not isinstance(n_repeat, int) or n_repeat < 1:
        raise WorkflowError(f"repeat(): the number of repeats must be a positive integer, "
                            f"got {n_repeat!r}")
    return IOFile(value, {"repeat"}, {"repeat": n_repeat})


# ------------------------------------------------------------------------------ scattergather
class _Scatter:
    """``scatter.NAME("split/{scatteritem}.txt")`` → one path per part ("1-of-N" ...);
    ``gather.NAME(...)`` gives the same list, to collect the parts (as Snakemake)."""

    def __init__(self, workflow: Workflow, what: str) -> None:
        self._workflow, self._what = workflow, what

    def __getattr__(self, name: str) -> Callable[..., list[str]]:
        if name.startswith("_"):
            raise AttributeError(name)
        counts = self._workflow.scatter
        if name not in counts:
            raise WorkflowError(f"{self._what}.{name}: no scatter named {name!r} in "
                                "'scattergather:' (defined: " + (", ".join(counts) or "none") +
                                ")")
        n = counts[name]

        def parts(*patterns: Any, **values: Any) -> list[str]:
            # as Snakemake's: expand(patterns, scatteritem=[...], **values), so ``{{sample}}``
            # becomes the wildcard ``{sample}`` of the scattering/gathering rule
            from sciflow.wildcards import expand

            patterns = tuple(os.fspath(p) if isinstance(p, os.PathLike) else p
                             for p in patterns)
            if not patterns or not all(isinstance(p, str) and "{scatteritem}" in p
                                       for p in patterns):
                raise WorkflowError(f"{self._what}.{name}() takes a pattern containing "
                                    "'{scatteritem}'")
            return expand(list(patterns), scatteritem=[f"{i}-of-{n}" for i in range(1, n + 1)],
                          **values)
        return parts


def _scattergather(workflow: Workflow, options: LoadOptions, kwargs: Mapping[str, Any],
                   loc: SourceLoc) -> None:
    for name, count in kwargs.items():
        count = options.scatter.get(name, count)
        if not isinstance(count, int) or count < 1:
            raise WorkflowError(f"scattergather: {name} must be a positive integer, got "
                                f"{count!r}", loc)
        workflow.scatter[name] = count


# ------------------------------------------------------------------------------ pep
def _pep(workflow: Workflow, namespace: dict, name: str, path: str, loc: SourceLoc,
         current_file: str) -> None:
    try:
        import peppy
    except ImportError:
        raise WorkflowError(f"'{name}:' needs the peppy library, which is not installed", loc,
                            hint="Install the extra: pip install 'sciflow[pep]'.") from None
    if modules.is_remote(path):
        raise modules.remote_error(f"the {name}", path, loc)
    if name == "pepfile":
        if not os.path.exists(path):
            raise ConfigError(f"pepfile {path!r} not found", loc,
                              hint="The path is relative to the working directory.")
        try:
            workflow.pep = peppy.Project(path)
        except Exception as exc:  # peppy's own errors for a malformed project
            raise ConfigError(f"cannot read pepfile {path!r}: {exc}", loc) from None
        namespace["pep"] = workflow.pep
        return
    if workflow.pep is None:
        raise WorkflowError("'pepschema:' comes before any 'pepfile:'", loc,
                            hint="Put 'pepfile:' first.")
    try:
        import eido
    except ImportError:
        raise WorkflowError("'pepschema:' needs the eido library, which is not installed", loc,
                            hint="Install the extra: pip install 'sciflow[pep]'.") from None
    if not os.path.isabs(path):  # the schema is relative to the file that names it
        path = os.path.join(os.path.dirname(os.path.abspath(current_file)), path)
    try:
        eido.validate_project(project=workflow.pep, schema=path)
    except Exception as exc:  # eido.exceptions.EidoValidationError and read errors
        raise ConfigError(f"the PEP does not validate against {path}: {exc}", loc) from None


# ------------------------------------------------------------------------------ storage
class _Storage:
    """``storage.http("https://...")`` and friends: remote files are not supported."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def provider(*args: Any, **kwargs: Any) -> Any:
            what = repr(args[0]) if args else "a remote file"
            raise WorkflowError(f"storage.{name}({what}): remote storage providers are not "
                                "supported by sciflow", hint=STORAGE_HINT)
        return provider

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__getattr__("default")(*args, **kwargs)


def remote_import_hint(module_name: str | None) -> str | None:
    """A hint for an import of Snakemake's remote/storage machinery that failed."""
    if module_name and (module_name.startswith(("snakemake.remote", "snakemake_storage_plugin",
                                                "snakemake.storage"))):
        return f"'{module_name}' (remote files) is not available in sciflow. " + STORAGE_HINT
    return None


# ------------------------------------------------------------------------------ the namespace
def extend_namespace(namespace: dict, workflow: Workflow, ctx: Any, options: LoadOptions,
                     load_module: Callable[[modules.Module], Workflow], *,
                     module_config: bool = False) -> None:
    """Add this module's names to a namespace made by ``helpers.build_namespace``.

    ``module_config``: the namespace is a module's that was given ``config:``; its
    ``configfile:`` statements are then skipped (as Snakemake does)."""
    keyword = namespace["_sf_keyword"]

    def here(line: int, col: int) -> SourceLoc:
        return SourceLoc(ctx.current_file, line, col)

    def _sf_keyword(name: str, line: int, col: int, /, *args: Any, **kwargs: Any) -> None:
        loc = here(line, col)
        if name == "configfile":
            if module_config:
                return
            if options.configfiles_given:  # --configfile given: a missing file is skipped
                args = tuple(a for a in args if _config_exists(str(a), ctx.current_file))
                if not args:
                    return
        elif name == "include":
            for path in args:
                if modules.is_remote(path):
                    raise modules.remote_error("the included file", path, loc)
        elif name == "scattergather":
            if args:
                raise WorkflowError("'scattergather:' takes named counts, e.g. split=8", loc)
            _scattergather(workflow, options, kwargs, loc)
            return
        elif name in ("pepfile", "pepschema"):
            if len(args) != 1 or kwargs:
                raise WorkflowError(f"'{name}:' takes one path", loc)
            _pep(workflow, namespace, name, os.fspath(args[0]) if isinstance(
                args[0], os.PathLike) else args[0], loc, ctx.current_file)
            return
        elif name == "storage":
            raise WorkflowError("'storage:' (remote storage providers) is not supported by "
                                "sciflow", loc, hint=STORAGE_HINT)
        keyword(name, line, col, *args, **kwargs)
        if name == "configfile" and options.replace_config and options.overwrite_config:
            from sciflow.helpers import update_config

            workflow.config.clear()
            update_config(workflow.config, options.overwrite_config)

    def _sf_module(name: str, line: int, col: int, locs: tuple, /, **directives: Any) -> None:
        modules.declare(workflow, ctx.current_file, name, here(line, col), directives)

    def _sf_use_module(module: str, names: tuple, exclude: tuple, alias: str | None,
                       line: int, col: int, locs: tuple, /, **directives: Any) -> None:
        loc_map = {key: here(l, c) for key, l, c in locs}
        modules.use_rules(workflow, module, list(names), list(exclude), alias, here(line, col),
                          loc_map, directives, load_module)

    namespace.update({
        "_sf_keyword": _sf_keyword, "_sf_module": _sf_module, "_sf_use_module": _sf_use_module,
        "report": report, "repeat": repeat, "storage": _Storage(),
        "scatter": _Scatter(workflow, "scatter"), "gather": _Scatter(workflow, "gather"),
        "github": modules.remote_source("github"), "gitlab": modules.remote_source("gitlab"),
        "gitfile": modules.remote_source("gitfile"), "pep": workflow.pep,
    })


def _config_exists(path: str, current_file: str) -> bool:
    return os.path.exists(path) or (not os.path.isabs(path) and os.path.exists(
        os.path.join(os.path.dirname(current_file), path)))
