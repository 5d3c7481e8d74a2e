"""Snakemake modules: ``module NAME:`` and ``use rule ... from NAME``.

A module is another workflow (usually a published pipeline) loaded into its own namespace —
its own ``config``, its own globals, ``workflow.current_basedir`` of its own files, script and
include paths relative to its own Snakefile — whose rules the including workflow imports,
renamed and with their paths moved (``prefix:``/``replace_prefix:``)::

    module rnaseq:
        snakefile: "pipelines/rna-seq/workflow/Snakefile"
        config: config["rnaseq"]
        prefix: "rnaseq"

    use rule * from rnaseq as rnaseq_*
    use rule align from rnaseq as align_fast with:
        threads: 16

The module's file is loaded once, at the first ``use rule`` that names it (as Snakemake does,
a module that is declared but never used is never read). Paths are moved when the module's
rules are created, so inside the module ``rules.x.output`` already gives the moved paths, and
``with:`` values (written in the including file) are not moved — both as in Snakemake.
"""
from __future__ import annotations

import contextvars
import dataclasses
import functools
import os
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from sciflow.errors import IncompleteCheckpointError, RuleError, WorkflowError
from sciflow.model import (Args, FlaggedFunction, IOFile, NamedList, Rule, SourceLoc, Unpack,
                           Workflow, apply_directive)

MODULE_DIRECTIVES = ("name", "snakefile", "config", "prefix", "replace_prefix",
                     "skip_validation", "meta_wrapper", "pathvars")

# True while the file of a module declared with ``skip_validation: True`` loads: a
# ``validate()`` implementation should then do nothing (Snakemake's behaviour).
SKIP_VALIDATION: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sciflow_skip_validation", default=False)


def validation_skipped() -> bool:
    """Whether ``validate()`` calls should be skipped right now (see ``SKIP_VALIDATION``)."""
    return SKIP_VALIDATION.get()


@dataclass(frozen=True, slots=True)
class RemoteSource:
    """``github("owner/repo", path=..., tag=...)`` and friends: a workflow file online."""

    kind: str
    args: tuple
    kwargs: Mapping[str, Any]

    def __str__(self) -> str:
        args = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.kind}({', '.join(args)})"


def remote_source(kind: str) -> Callable[..., RemoteSource]:
    def make(*args: Any, **kwargs: Any) -> RemoteSource:
        return RemoteSource(kind, args, dict(kwargs))
    make.__name__ = kind
    return make


def is_remote(path: Any) -> bool:
    return isinstance(path, RemoteSource) or (
        isinstance(path, str) and "://" in path and not path.startswith("file://"))


def remote_error(what: str, path: Any, loc: SourceLoc) -> WorkflowError:
    return WorkflowError(
        f"{what} {path} is online; sciflow reads workflow files from local paths only",
        loc, hint="Clone or download the workflow (e.g. 'git clone --depth 1 URL') and give "
                  "the path of its Snakefile, relative to this file.")


# ------------------------------------------------------------------------------ path changes
@dataclass(frozen=True, slots=True)
class PathModifier:
    """``prefix:``/``replace_prefix:`` of a module, applied to relative input, output, log
    and benchmark paths of its rules (absolute paths and paths starting with ``..`` are left
    alone; so are params) — as Snakemake does, including the results of input functions."""

    module: str
    prefix: str | None = None
    replace: tuple[tuple[str, str], ...] = ()  # longest prefix first

    @classmethod
    def make(cls, module: str, prefix: Any, replace: Any, loc: SourceLoc) -> "PathModifier | None":
        if prefix is None and not replace:
            return None
        if prefix is not None and replace:
            raise WorkflowError(f"module {module!r} has both 'prefix:' and 'replace_prefix:'; "
                                "only one at a time is allowed (as in Snakemake)", loc)
        if prefix is not None and not isinstance(prefix, (str, os.PathLike)):
            raise WorkflowError(f"'prefix:' of module {module!r} must be a path", loc)
        if replace is not None and not isinstance(replace, Mapping):
            raise WorkflowError(f"'replace_prefix:' of module {module!r} must be a dict "
                                "{old_prefix: new_prefix}", loc)
        pairs = sorted(((str(k), str(v)) for k, v in (replace or {}).items()),
                       key=lambda kv: -len(kv[0]))
        return cls(module, os.fspath(prefix) if prefix is not None else None, tuple(pairs))

    def path(self, value: Any) -> Any:
        if isinstance(value, os.PathLike) and not isinstance(value, str):
            value = os.fspath(value)
        if not isinstance(value, str):
            return value
        if isinstance(value, IOFile) and value.meta.get("module_path") == self.module:
            return value  # already moved (e.g. ``rules.x.output`` inside the module)
        if isinstance(value, IOFile) and "local" in value.flags:
            return value  # local("x"): a file of the including workflow's folder
        if os.path.isabs(value) or value.startswith("..") or "://" in value:
            return value
        new = str(value)
        for old, repl in self.replace:
            if new.startswith(old):
                new = repl + new[len(old):]
                break
        if self.prefix:  # (prefix and replace_prefix never come together)
            new = self.prefix.rstrip("/") + "/" + new
        return IOFile(new, value.flags if isinstance(value, IOFile) else (),
                      {"module_path": self.module})

    def value(self, value: Any) -> Any:
        """A directive item: a path, a list of paths, or a function returning them."""
        if isinstance(value, Unpack):
            return Unpack(self.function(value.func))
        if isinstance(value, FlaggedFunction):
            return FlaggedFunction(self.function(value.func), value.flag_name, value.meta)
        if callable(value):
            return self.function(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return self.path(value)

    def function(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)  # keeps the signature: input functions are called by it
        def moved(*args: Any, **kwargs: Any) -> Any:
            return self.value(func(*args, **kwargs))
        return moved

    def __call__(self, rule: Rule) -> None:
        for key in ("input", "output", "log"):
            files: NamedList = getattr(rule, key)
            setattr(rule, key, files.map(self.value))
        if rule.benchmark is not None:
            rule.benchmark = self.path(rule.benchmark)


# ------------------------------------------------------------------------------ modules
@dataclass
class Module:
    """A ``module NAME:`` declaration; ``workflow`` is filled by ``load``."""

    name: str
    loc: SourceLoc
    snakefile: str  # absolute
    config: dict | None = None
    modifier: PathModifier | None = None
    skip_validation: bool = False
    workflow: Workflow | None = None
    used: list[str] = field(default_factory=list)
    checkpoints: dict[str, str] = field(default_factory=dict)  # module name -> name in main
    # names given by `use rule * from` (one later `use rule x from ... with:` may replace
    # each, as Snakemake allows), and those replaced already
    star_used: set[str] = field(default_factory=set)
    replaced: set[str] = field(default_factory=set)


def _resolve_checkpoint(main: Workflow, module: Module, rule: str, wildcards: dict) -> Any:
    name = module.checkpoints.get(rule, rule)
    if main.checkpoints.resolver is None:
        raise IncompleteCheckpointError(name)
    return main.checkpoints.resolver(name, wildcards)


def declare(main: Workflow, current_file: str, name: str | None, loc: SourceLoc,
            directives: Mapping[str, Args]) -> Module:
    """Check a ``module`` block's values and remember the module (nothing is read yet).

    ``name`` is None for ``module:`` with a ``name:`` directive, whose value (evaluated,
    so it may be a loop variable) names the module — Snakemake 8's dynamic modules."""
    values: dict[str, Any] = {}
    for key, (pos, named) in directives.items():
        label = repr(name) if name else "block"
        if key not in MODULE_DIRECTIVES:
            raise WorkflowError(f"unknown keyword '{key}' in module {label}", loc,
                                hint="A module takes: " + ", ".join(MODULE_DIRECTIVES) + ".")
        if named or len(pos) != 1:
            raise WorkflowError(f"'{key}:' of module {label} takes one value", loc)
        values[key] = pos[0]
    if "name" in values:
        given = values.pop("name")
        if name is not None:
            raise WorkflowError(f"module {name!r} is named twice ('module NAME:' and 'name:')",
                                loc, hint="Keep one of the two.")
        if not isinstance(given, str) or not given.isidentifier():
            raise WorkflowError(f"'name:' of a module must be a Python name, got {given!r}", loc)
        name = given
    if name is None:
        raise WorkflowError("module without a name", loc,
                            hint="Write 'module NAME:' or give 'name:' inside the block.")
    if "meta_wrapper" in values:
        raise WorkflowError(
            f"module {name!r} uses 'meta_wrapper: {values['meta_wrapper']}'; meta-wrappers are "
            "fetched from the Snakemake wrappers repository online, which sciflow does not do",
            loc, hint="Copy the meta-wrapper's Snakefile (and the wrappers it uses) locally and "
                      "give it as 'snakefile:'.")
    if "snakefile" not in values:
        raise WorkflowError(f"module {name!r} has no 'snakefile:'", loc,
                            hint="Give the path of the module's Snakefile, relative to this file.")
    path = values["snakefile"]
    if is_remote(path):
        raise remote_error(f"the snakefile of module {name!r},", path, loc)
    if not isinstance(path, (str, os.PathLike)):
        raise WorkflowError(f"'snakefile:' of module {name!r} must be a path", loc)
    path = os.fspath(path)
    if not os.path.isabs(path):
        path = os.path.join(os.path.dirname(os.path.abspath(current_file)), path)
    path = os.path.normpath(path)
    if not os.path.isfile(path):
        raise WorkflowError(f"module {name!r}: snakefile {values['snakefile']!s} not found "
                            f"(looked at {path})", loc,
                            hint="Paths in 'snakefile:' are relative to the including file.")
    config = values.get("config")  # any object (a list too), handed over as it is (Snakemake)
    if name in main.modules:
        raise WorkflowError(f"module {name!r} declared twice (first at "
                            f"{main.modules[name].loc})", loc)
    module = Module(name, loc, path, config,  # the mapping itself, as Snakemake passes it
                    PathModifier.make(name, values.get("prefix"), values.get("replace_prefix"),
                                      loc),
                    bool(values.get("skip_validation", False)))
    main.modules[name] = module
    return module


def use_rules(main: Workflow, module_name: str, names: list[str], exclude: list[str],
              alias: str | None, loc: SourceLoc, locs: Mapping[str, SourceLoc],
              directives: Mapping[str, Args], load: Callable[[Module], Workflow]) -> list[Rule]:
    """``use rule NAMES|* from MODULE [exclude ...] [as ALIAS] [with: ...]``: copy the
    module's rules into ``main`` (the module is loaded by ``load`` the first time)."""
    module = main.modules.get(module_name)
    if module is None and isinstance(main.globals.get(module_name), str):
        # dynamic modules (Snakemake 8): `use rule * from VAR as ALIAS*` inside the loop that
        # declared `module: name: VAR`: VAR (and ALIAS, the prefix before '*') are variables
        module_name = main.globals[module_name]
        module = main.modules.get(module_name)
        if alias:
            key = alias[:-1] if alias.endswith("*") else alias
            if isinstance(main.globals.get(key), str):
                alias = main.globals[key] + ("*" if alias.endswith("*") else "")
    if module is None:
        raise WorkflowError(f"'use rule ... from {module_name}': no module named "
                            f"{module_name!r} declared above", loc,
                            hint=f"Declare it first: 'module {module_name}:' with 'snakefile:'.")
    if module.workflow is None:
        token = SKIP_VALIDATION.set(module.skip_validation)
        try:
            module.workflow = load(module)
        finally:
            SKIP_VALIDATION.reset(token)
        # as Snakemake: once loaded, the module's name is its namespace in the main workflow
        # (``m.samples``, ``m.get_final_output()``), a module object over its globals
        namespace = types.ModuleType(module_name)
        namespace.__dict__.update(module.workflow.globals)
        main.globals[module_name] = namespace
    sub = module.workflow
    if names == ["*"]:
        unknown = [n for n in exclude if n not in sub.rules]
        selected = [n for n in sub.rules if n not in exclude]
    else:
        if exclude:
            raise WorkflowError("'exclude' goes with 'use rule * from ...'", loc)
        unknown = [n for n in names if n not in sub.rules]
        selected = list(names)
    if unknown:
        raise RuleError(f"module {module_name!r} has no rule named {unknown[0]!r} (its rules: "
                        f"{', '.join(sub.rules) or 'none'})", loc)
    if alias and "*" not in alias and len(selected) > 1:
        raise WorkflowError(f"'as {alias}' names one rule, but {len(selected)} are used; "
                            "write a pattern such as 'as prefix_*'", loc)
    mapping: dict[str, str] = {}
    added: list[Rule] = []
    for name in selected:
        new = alias.replace("*", name) if alias else name
        if new in main.rules and names != ["*"] and new in module.star_used \
                and new not in module.replaced:
            module.replaced.add(new)  # `use rule * ...` then `use rule x ... with:` (Snakemake)
        elif new in main.rules:
            raise RuleError(f"duplicate rule name {new!r} (first defined at "
                            f"{main.rules[new].loc})", loc,
                            hint="Use 'as NEW_NAME' (or 'as MODULE_*') to rename.")
        rule = _copy_rule(sub, sub.rules[name], new, locs, directives, loc)
        main.rules[new] = rule
        if rule.checkpoint:
            main.checkpoints.register(new)
        if rule.localrule or name in sub.localrules:
            main.localrules.add(new)
        if name in sub.included_rules:  # never the default target (Snakemake)
            main.included_rules.add(new)
        mapping[name] = new
        added.append(rule)
    for order, order_loc in sub.ruleorder:  # the module's ruleorder, for the rules used
        if all(n in mapping for n in order):
            main.ruleorder.append(([mapping[n] for n in order], order_loc))
    module.used.extend(mapping.values())
    if names == ["*"]:
        module.star_used.update(mapping.values())
    for name, new in mapping.items():  # checkpoints.x.get() inside the module asks main's DAG
        if sub.rules[name].checkpoint:
            module.checkpoints.setdefault(name, new)
    sub.checkpoints.resolver = functools.partial(_resolve_checkpoint, main, module)
    for key in ("_sf_run_",):  # run: functions, found by name when a worker re-loads
        main.globals.update({k: v for k, v in sub.globals.items() if k.startswith(key)})
    return added


def _copy_rule(sub: Workflow, orig: Rule, name: str, locs: Mapping[str, SourceLoc],
               directives: Mapping[str, Args], loc: SourceLoc) -> Rule:
    from sciflow.helpers import check_same_wildcards

    constraints = {**sub.wildcard_constraints, **orig.wildcard_constraints}
    rule = dataclasses.replace(
        orig, name=name, resources=dict(orig.resources), wildcard_constraints=constraints,
        extra=dict(orig.extra), envmodules=list(orig.envmodules),
        locs={**orig.locs, **locs})
    for key, (pos, named) in directives.items():
        pos = tuple(os.fspath(v) if isinstance(v, os.PathLike) else v for v in pos)
        apply_directive(rule, key, (pos, named), locs.get(key, loc))
    check_same_wildcards(rule)
    return rule


__all__ = ["Module", "PathModifier", "RemoteSource", "declare", "use_rules", "is_remote",
           "remote_source", "validation_skipped", "SKIP_VALIDATION"]
