"""The workflow namespace: the names a Sciflowfile sees, as Snakemake offers them.

``build_namespace(ctx)`` fills ``Workflow.globals`` with the user-facing helpers (``config``,
``rules``, ``checkpoints``, ``workflow``, ``expand``, ``glob_wildcards``, ``multiext``,
``temp``, ``protected``, ``directory``, ``ancient``, ``touch``, ``unpack``, ``shell``, ``Path``,
``os``) and the ``_sf_*`` functions the compiled code calls (see ``sciflow.compile``).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

from sciflow import wildcards
from sciflow.compat.workflow_object import SnakemakeWorkflowAttributes, caller_loc
from sciflow.confine import external
from sciflow.errors import ConfigError, RuleError, WorkflowError
from sciflow.model import (ACTIONS, Action, Args, IOFile, NamedList, Rule, RuleOutput, SourceLoc, Unpack,
                           Workflow, WorkflowBuilder, apply_directive, flag, name_slots,
                           namedlist_of)


# ------------------------------------------------------------------------------ flags
def _paths_to_str(value: Any) -> Any:
    """``pathlib.Path`` patterns become strings (Snakemake accepts both), also inside lists."""
    if isinstance(value, os.PathLike) and not isinstance(value, str):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return [_paths_to_str(v) for v in value]
    return value


def _refuse_with(value: Any, other: str, message: str) -> None:
    """Snakemake's mutually exclusive flags (checked on a single flagged path, as it does)."""
    if isinstance(value, IOFile) and value.is_flagged(other):
        raise WorkflowError(message, caller_loc(),
                            hint="Keep one of the two flags on this path.")


def temp(value: Any, group_jobs: bool = False) -> Any:
    """Output deleted once no job needs it any more (``group_jobs``: also ``nodelocal``)."""
    _refuse_with(value, "protected", "Protected and temporary flags are mutually exclusive.")
    value = _paths_to_str(value)
    if group_jobs:
        value = flag(value, "nodelocal")
    return flag(value, "temp")


def protected(value: Any) -> Any:
    """Output made read-only after it is created."""
    _refuse_with(value, "temp", "Protected and temporary flags are mutually exclusive.")
    _refuse_with(value, "nodelocal", "Protected and nodelocal flags are mutually exclusive.")
    return flag(_paths_to_str(value), "protected")


def directory(value: Any) -> Any:
    """The output (or input) is a directory."""
    _refuse_with(value, "pipe", "Pipe and directory flags are mutually exclusive.")
    return flag(_paths_to_str(value), "directory")


def ancient(value: Any) -> Any:
    """Input whose modification time never triggers a re-run."""
    return flag(_paths_to_str(value), "ancient")


def touch(value: Any) -> Any:
    """Output created (touched) by sciflow when the job succeeds."""
    return flag(_paths_to_str(value), "touch")


def pipe(value: Any) -> Any:
    """Output that is a named pipe: its producer and consumer run at the same time."""
    _refuse_with(value, "protected", "Pipes may not be protected.")
    return flag(_paths_to_str(value), "pipe")


def service(value: Any) -> Any:
    """Output of a job that serves its consumers while they run (a socket, a server...)."""
    _refuse_with(value, "protected", "Service may not be protected.")
    return flag(_paths_to_str(value), "service")


def ensure(value: Any, non_empty: bool = False, sha256: Any = None, md5: Any = None,
           sha1: Any = None) -> Any:
    """Output checked after its job (sciflow.execute.runner): not empty, and/or with this
    checksum (a string, or a function of the wildcards)."""
    given = [(name, v) for name, v in (("sha256", sha256), ("md5", md5), ("sha1", sha1))
             if v is not None]
    if len(given) > 1:
        raise RuleError("ensure(): give only one checksum (sha256, md5 or sha1)")
    algorithm, checksum = given[0] if given else (None, None)
    return flag(_paths_to_str(value), "ensure", {"non_empty": bool(non_empty),
                                                 "checksum": checksum,
                                                 "checksum_algorithm": algorithm})


def report(value: Any, caption: Any = None, category: Any = None, subcategory: Any = None,
           labels: Any = None, *_args: Any, **_kwargs: Any) -> Any:
    """Snakemake's report flag, with its caption (a file, usually .rst, next to the workflow,
    or text), category, subcategory and labels: provenance records them with the file and
    ``sciflow report`` shows the file under its category."""
    meta = {"caption": None if caption is None else str(_paths_to_str(caption)),
            "category": category, "subcategory": subcategory,
            "labels": dict(labels) if isinstance(labels, dict) else None}
    return flag(_paths_to_str(value), "report", meta)


def local(value: Any) -> Any:
    """A path kept as it is: no storage provider, and no module ``prefix:`` (Snakemake)."""
    import os
    if isinstance(value, os.PathLike) and not isinstance(value, str):
        value = os.fspath(value)
    return flag(value, "local") if isinstance(value, (str, list, tuple)) or callable(value) \
        else value


def unpack(func: Callable[..., Any]) -> Unpack:
    """The input function returns a dict (named inputs) or a list."""
    return Unpack(func)


def exists(path: str | os.PathLike) -> bool:
    """Snakemake's ``exists``: whether the path exists (at load time)."""
    return os.path.exists(path)


def evaluate(expression: str) -> Callable[..., bool]:
    """Snakemake's ``evaluate("{sample} == 'a'")``: an input function evaluating the
    expression with each ``{wildcard}`` replaced by the repr of its value."""
    def check(wildcards: Any, **_: Any) -> bool:
        items = wildcards.items() if hasattr(wildcards, "items") else dict(wildcards).items()
        text = expression.format(**{k: repr(v) for k, v in items})
        try:
            return eval(text, {})  # noqa: S307 - the workflow's own expression
        except Exception as exc:
            raise WorkflowError(f"evaluate({expression!r}) failed: {exc}") from None
    return check


def branch(condition: Any, then: Any = None, otherwise: Any = None,
           cases: Mapping | None = None) -> Any:
    """Snakemake's ``branch``: ``then`` if the condition holds, else ``otherwise``; with
    ``cases``, the case chosen by the condition's value. Any callable argument makes the
    result an input function (evaluated once wildcards are known). None becomes []."""
    if cases is not None and then is not None:
        raise WorkflowError("branch() cannot use 'cases' together with 'then'")

    def value_of(item: Any, wildcards: Any) -> Any:
        return (item(wildcards) if callable(item) else item) or []

    def choose(wildcards: Any) -> Any:
        if cases is None:
            return value_of(then if value_of(condition, wildcards) else otherwise, wildcards)
        key = value_of(condition, wildcards)
        if key in cases:
            return value_of(cases[key], wildcards)
        if otherwise is not None:
            return value_of(otherwise, wildcards)
        raise WorkflowError(f"branch(): no case for {key!r}")

    if any(callable(x) for x in (condition, then, otherwise)):
        return lambda wildcards, **_: choose(wildcards)
    return choose(None)


def min_version(version: str) -> None:
    """Snakemake's version guard (see :func:`sciflow.compat.snakemake.utils.min_version`)."""
    from sciflow.compat.snakemake.utils import min_version as check
    check(version)


# ------------------------------------------------------------------------------ config
def update_config(config: dict, overwrite: Mapping) -> None:
    """Deep-merge ``overwrite`` into ``config`` (nested dicts merged, as Snakemake does)."""
    for key, value in overwrite.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), dict):
            update_config(config[key], value)
        else:
            config[key] = copy.deepcopy(value)


def read_config_file(path: str, loc: SourceLoc | None = None) -> dict:
    """A YAML or JSON config file as a dict (bounded: see ``sciflow.configload``)."""
    from sciflow.configload import read_config_file as read
    return read(path, loc)


# ------------------------------------------------------------------------------ namespace objects
class Rules:
    """``rules.NAME`` → the rule defined so far, as Snakemake's ``RuleProxy`` shows it
    (``rules.align.output[0]``, ``expand(rules.b.output, i=...)``)."""

    def __init__(self, workflow: Workflow) -> None:
        self._workflow = workflow

    def __getattr__(self, name: str) -> "RuleProxy":
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return RuleProxy(self._workflow.rules[name])
        except KeyError:
            raise AttributeError(f"no rule named {name!r} (defined so far: "
                                 f"{', '.join(self._workflow.rules) or 'none'})") from None

    def __iter__(self):
        return iter(RuleProxy(r) for r in self._workflow.rules.values())


class RuleProxy:
    """A rule seen through ``rules.NAME``: its ``output``, ``log`` and ``benchmark`` are plain
    paths — flags (``temp``, ``pipe``...) and inline wildcard constraints (``{x,[a-z]+}``)
    removed, as Snakemake does — so they can be given to ``expand()`` or used as another
    rule's input. (A module's path change is kept.) Everything else is the rule's own."""

    __slots__ = ("_rule",)

    def __init__(self, rule: Rule) -> None:
        object.__setattr__(self, "_rule", rule)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rule, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._rule, name, value)

    def __repr__(self) -> str:
        return f"RuleProxy({self._rule.name!r})"

    @property
    def rule(self) -> Rule:
        return self._rule

    @property
    def output(self) -> Any:
        return _plain_paths(self._rule.output, self._rule.name)

    @property
    def log(self) -> Any:
        return _plain_paths(self._rule.log)

    @property
    def benchmark(self) -> Any:
        value = self._rule.benchmark
        return _plain_path(value) if isinstance(value, str) else value


def _plain_path(value: str, rule_name: str | None = None) -> str:
    """``value`` without flags or inline constraints; with ``rule_name``, a ``RuleOutput``
    that ties an input written as ``rules.NAME.output`` to its rule."""
    text = str(value)
    if wildcards.inline_constraints(text):
        text = "".join(
            part.replace("{", "{{").replace("}", "}}") if isinstance(part, str)
            else "{" + part.name + "}" for part in wildcards._parse(text))
    moved = value.meta.get("module_path") if isinstance(value, IOFile) else None
    meta = {"module_path": moved} if moved is not None else None
    if rule_name is not None:
        tied = RuleOutput(text, (), meta)
        tied.rule_name = rule_name
        return tied
    return IOFile(text, (), meta) if meta else text


def _plain_paths(items: Any, rule_name: str | None = None) -> Any:
    if not isinstance(items, NamedList):
        return items
    return namedlist_of([_plain_path(v, rule_name) if isinstance(v, str) else v
                         for v in list.__iter__(items)], dict(name_slots(items)), type(items))


class WorkflowContext(SnakemakeWorkflowAttributes):
    """The ``workflow`` object of the namespace (the parts of Snakemake's that Snakefiles use;
    the run's settings — ``cores``, ``configfiles``, ``is_main_process``, ``use_conda``,
    ``deployment_settings``... — are :class:`SnakemakeWorkflowAttributes`)."""

    def __init__(self, model: Workflow, main_path: str) -> None:
        self.model = model
        self.main_snakefile = os.path.abspath(main_path)
        self.basedir = os.path.dirname(self.main_snakefile)
        self.files: list[str] = []  # include stack, as written (relative to cwd)
        self.settings: dict[str, Args] = {}  # top-level container:, conda:, pepfile:, ...
        self.global_container: str | None = None  # from a top-level container: statement
        self.load_dir = os.getcwd()  # workflow file names are relative to this
        self.skip_validation = False  # validate() does nothing (Snakemake's module option)

    @property
    def config(self) -> dict:
        return self.model.config

    @property
    def globals(self) -> dict:
        return self.model.globals

    @property
    def snakefile(self) -> str:
        """The workflow file whose code asks (Snakemake: the calling frame's file)."""
        return self.absolute(self._calling_file())

    def absolute(self, path: str) -> str:
        """A workflow file name (as compiled: relative to where the workflow was loaded) as an
        absolute path, also after the run has changed directory."""
        return os.path.normpath(os.path.join(self.load_dir, path))

    @property
    def current_file(self) -> str:
        return self.files[-1] if self.files else self.model.path

    @property
    def current_basedir(self) -> str:
        return os.path.dirname(self.absolute(self.current_file))

    def source_path(self, path: str) -> str:
        """A path relative to the workflow file that calls this, as an absolute path (as
        Snakemake: the calling file, so it also works from input functions run later)."""
        return os.path.join(os.path.dirname(self.absolute(self._calling_file())), path)

    def _calling_file(self, depth: int = 2) -> str:
        """The workflow file of the frame ``depth`` up, if it is one; else the file being
        loaded (from sciflow's own code, e.g. a property read by the engine)."""
        try:
            name = sys._getframe(depth).f_code.co_filename
        except ValueError:
            return self.current_file
        known = {self.absolute(f) for f in (self.model.path, *self.model.includes)}
        return name if self.absolute(name) in known else self.current_file

    def get_rule(self, name: str) -> Rule:
        return self.model.rules[name]


@dataclasses.dataclass
class LoadContext:
    """What the ``_sf_*`` functions need while the files execute."""

    workflow: Workflow
    ctx: WorkflowContext
    overwrite_config: dict
    include: Callable[[str, SourceLoc], None]  # parse + compile + exec another file


def build_namespace(load: LoadContext) -> dict[str, Any]:
    """The workflow's globals. ``__builtins__`` routes ``import snakemake...`` in workflow
    code to sciflow's own implementation (see :mod:`sciflow.compat` for why it is scoped this
    way); the Snakemake 8/9 semantic helpers come from :mod:`sciflow.compat.snakemake.ioutils`."""
    from sciflow import compat
    from sciflow.compat import namespace as extra_names
    from sciflow.compat.snakemake import ioutils
    from sciflow.compat.snakemake import workflow as compat_workflow
    from sciflow.execute.shell import shell as real_shell  # no extra frame: it reads its caller's variables

    wf, ctx = load.workflow, load.ctx
    builder = WorkflowBuilder(wf)

    def here(line: int, col: int) -> SourceLoc:
        return SourceLoc(ctx.current_file, line, col)

    def _sf_args(*args: Any, **kwargs: Any) -> Args:  # noqa: any keyword is a user's name
        if any(isinstance(a, wildcards.NamedFiles) for a in args):
            positional = []
            for a in args:
                if isinstance(a, wildcards.NamedFiles):
                    kwargs.update(a)
                else:
                    positional.append(a)
            args = tuple(positional)
        return args, kwargs

    def _sf_rule(name: str | None, line: int, col: int, checkpoint: bool, locs: tuple,
                 run: tuple[str, str] | None = None, /, **directives: Args):
        loc = here(line, col)
        loc_map = {key: here(l, c) for key, l, c in locs}
        action = None
        for key in ACTIONS:
            if key in directives:
                action = Action(key, _action_source(key, directives.pop(key), loc_map[key]),
                                loc_map[key])
        if run is not None:
            action = Action("run", run[1], loc_map.get("run", loc), func_name=run[0])
        if "name" in directives:  # add_rule's own ``name`` parameter would collide
            pos, named = directives.pop("name")
            if named or len(pos) != 1 or not isinstance(pos[0], str):
                raise RuleError("'name:' takes one string", loc_map.get("name", loc))
            name = pos[0]
        if "docstring" in directives:
            pos, named = directives["docstring"]
            if len(pos) == 1 and isinstance(pos[0], str):
                directives["docstring"] = ((pos[0].strip(),), named)  # as Snakemake
        if "container" not in directives and "singularity" not in directives \
                and ctx.global_container is not None:  # the workflow-wide container:
            directives["container"] = ((ctx.global_container,), {})
        for key in _FILE_DIRECTIVES:
            if key in directives:
                pos, named = directives[key]
                directives[key] = (tuple(_paths_to_str(v) for v in pos),
                                   {k: _paths_to_str(v) for k, v in named.items()})
        rule = builder.add_rule(name, loc, checkpoint=checkpoint, action=action, locs=loc_map,
                                **directives)
        try:
            check_same_wildcards(rule)
        except RuleError:
            del wf.rules[rule.name]
            raise
        return _keep

    def _sf_use_rule(source: str, alias: str, line: int, col: int, locs: tuple, /,
                     **directives: Args) -> None:
        loc = here(line, col)
        if source not in wf.rules:
            raise RuleError(f"'use rule {source}': no rule named {source!r} defined above", loc)
        if alias in wf.rules:
            raise RuleError(f"duplicate rule name {alias!r} (first defined at "
                            f"{wf.rules[alias].loc})", loc)
        orig = wf.rules[source]
        rule = dataclasses.replace(
            orig, name=alias, loc=loc, locs={**orig.locs, **{k: here(l, c) for k, l, c in locs}},
            resources=dict(orig.resources), wildcard_constraints=dict(orig.wildcard_constraints),
            extra=dict(orig.extra), default_target=False)
        for key, (pos, named) in directives.items():
            if key in _FILE_DIRECTIVES:
                pos = tuple(_paths_to_str(v) for v in pos)
                named = {k: _paths_to_str(v) for k, v in named.items()}
            apply_directive(rule, key, (pos, named), rule.locs.get(key, loc))
        if directives and wf.path_modifier is not None:  # inside a module: new paths move
            wf.path_modifier(rule)  # too (paths moved already are left alone)
        check_same_wildcards(rule)
        wf.rules[alias] = rule
        if rule.checkpoint:
            wf.checkpoints.register(alias)
        if rule.localrule:
            wf.localrules.add(alias)

    def _sf_keyword(name: str, line: int, col: int, /, *args: Any, **kwargs: Any) -> None:
        loc = here(line, col)
        if name == "include":
            for path in args:
                load.include(str(path), loc)
        elif name == "configfile":
            for path in args:
                _configfile(str(path), loc)
        elif name == "workdir":
            wf.workdir = str(args[0]) if args else None
        elif name == "localrules":
            wf.localrules.update(args)
        elif name == "ruleorder":
            wf.ruleorder.append((list(args), loc))
        elif name == "wildcard_constraints":
            if args:
                raise RuleError("'wildcard_constraints:' takes named values, e.g. "
                                "sample=\"[a-z]+\"", loc)
            wf.wildcard_constraints.update({k: str(v) for k, v in kwargs.items()})
        elif name == "envvars":
            wf.envvars.extend(str(a) for a in args)
        elif name == "pathvars":  # Snakemake 9 (sciflow.pathvars)
            if args:
                raise RuleError("'pathvars:' takes named values, e.g. results=\"out\"", loc)
            wf.register_pathvars(kwargs, loc)
        else:
            ctx.settings[name] = (args, kwargs)
            if name in ("container", "containerized", "singularity") and len(args) == 1:
                ctx.global_container = str(args[0])  # default for the rules defined below

    def _configfile(path: str, loc: SourceLoc) -> None:
        candidates = [path] if os.path.isabs(path) else [path, os.path.join(
            os.path.dirname(ctx.current_file), path)]
        found = next((p for p in candidates if os.path.exists(p)), None)
        if found is None:
            raise ConfigError(f"config file {path!r} not found", loc,
                              hint="Paths in 'configfile:' are relative to the working "
                                   "directory.")
        update_config(wf.config, read_config_file(found, loc))
        update_config(wf.config, load.overwrite_config)  # --configfile/--config win
        wf.configfiles.append(found)

    return {
        **extra_names.snakemake_globals(),  # the rest of Snakemake's workflow globals
        "config": wf.config, "rules": Rules(wf), "checkpoints": wf.checkpoints,
        "workflow": ctx, "expand": wildcards.expand, "collect": wildcards.expand,
        "glob_wildcards": wildcards.glob_wildcards, "multiext": wildcards.multiext,
        "temp": temp, "temporary": temp, "protected": protected, "directory": directory,
        "ancient": ancient, "touch": touch, "unpack": unpack, "pipe": pipe, "service": service,
        "ensure": ensure, "report": report, "local": local, "min_version": min_version,
        "exists": exists, "evaluate": evaluate, "branch": branch, "lookup": ioutils.lookup,
        "parse_input": ioutils.parse_input, "extract_checksum": ioutils.extract_checksum,
        "flatten": ioutils.flatten, "srcdir": compat_workflow.srcdir, **ioutils.RULE_ITEMS,
        "__builtins__": compat.workflow_builtins(), compat.MARKER: True,
        "external": external,  # sciflow.confine: opt-in to write outside the workdir
        "shell": real_shell, "Path": Path, "update_config": update_config,
        # Snakefiles often use these without importing them: Snakemake's namespace has them.
        "os": os, "re": re, "sys": sys, "subprocess": subprocess, "hashlib": hashlib,
        "tempfile": tempfile, "platform": platform, "copy": copy,
        "logger": logging.getLogger("sciflow.workflow"),
        "_sf_args": _sf_args, "_sf_rule": _sf_rule, "_sf_use_rule": _sf_use_rule,
        "_sf_keyword": _sf_keyword,
    }


_FILE_DIRECTIVES = ("input", "output", "log", "benchmark")


def check_same_wildcards(rule: Rule) -> None:
    """Every output, log and benchmark pattern of a rule must hold the same wildcards (else
    two jobs could write the same file) — Snakemake's rule, checked when the rule is made."""
    reference: set[str] | None = None
    items = [("output", v) for v in rule.output] + [("log", v) for v in rule.log]
    if rule.benchmark:
        items.append(("benchmark", rule.benchmark))
    for directive, pattern in items:
        if not isinstance(pattern, str):
            continue
        names = set(wildcards.wildcard_names(pattern))
        if reference is None:
            reference = names
        elif names != reference:
            missing = sorted(reference ^ names)
            raise RuleError(
                f"not all output, log and benchmark files of rule {rule.name!r} contain the "
                f"same wildcards: {pattern!r} differs by {', '.join(missing)}",
                rule.loc_of(directive),
                hint="Use the same wildcards in every output, log and benchmark pattern, so "
                     "that two jobs never write the same file.")


def _keep(func: Callable[..., Any]) -> Callable[..., Any]:
    return func


def _action_source(kind: str, args: Args, loc: SourceLoc) -> str:
    pos, named = args
    if named or len(pos) != 1 or not isinstance(pos[0], (str, os.PathLike)):
        what = "a command string" if kind == "shell" else "one path"
        raise RuleError(f"'{kind}:' takes {what}", loc)
    return os.fspath(pos[0])


__all__ = ["build_namespace", "LoadContext", "WorkflowContext", "update_config",
           "read_config_file", "temp", "protected", "directory", "ancient", "touch", "unpack",
           "branch", "evaluate", "exists"]
