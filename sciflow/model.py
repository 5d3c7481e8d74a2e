"""The workflow model: what a Sciflowfile says, as small plain data.

The parser (``sciflow.parse``) turns a file into Python code that calls
``WorkflowBuilder.add_rule(...)`` once per rule, so rules inside ``if``/``for`` blocks and
directive values that are Python expressions behave exactly as in Snakemake. Everything
downstream (dag → plan → execute → provenance) reads only these classes.

Example (what the parser builds for a two-line rule)::

    >>> wf = Workflow(path="Snakefile")
    >>> b = WorkflowBuilder(wf)
    >>> r = b.add_rule("count", SourceLoc("Snakefile", 1, 1),
    ...                input=(("data/{s}.txt",), {}), output=(("counts/{s}.tsv",), {}),
    ...                action=Action("shell", "wc -l {input} > {output}", SourceLoc("Snakefile", 4, 5)))
    >>> r.output[0], r.action.kind
    ('counts/{s}.tsv', 'shell')
"""
from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from sciflow.errors import IncompleteCheckpointError, RuleError


# ------------------------------------------------------------------------------ source positions
@dataclass(frozen=True, slots=True)
class SourceLoc:
    """Where something came from: file path (as given), 1-based line and column."""

    path: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


# ------------------------------------------------------------------------------ annotated files
class Flags(frozenset):
    """A file's flag names plus flag values (``report()``'s caption/category, ``repeat()``'s
    count). Code that re-wraps a path as ``IOFile(new, old.flags)`` keeps the values."""

    __slots__ = ("meta",)
    meta: Mapping[str, Any]

    def __new__(cls, names: Iterable[str] = (), meta: Mapping[str, Any] | None = None) -> "Flags":
        obj = super().__new__(cls, names)
        obj.meta = dict(meta or getattr(names, "meta", None) or {})
        return obj

    def __reduce__(self):
        return (Flags, (frozenset(self), dict(self.meta)))


_NO_FLAGS = Flags()


class IOFile(str):
    """A file pattern carrying Snakemake flags (``temp``, ``protected``, ``directory``,
    ``ancient``, ``touch``, ``report``...). It *is* a ``str``, so user code treats it as one.
    Flag values (e.g. ``report(..., caption=...)``) are in ``.meta``.

    >>> f = IOFile("x.txt", {"temp"})
    >>> f, f.is_flagged("temp")
    ('x.txt', True)
    >>> g = IOFile("y.png", {"report"}, {"report": {"caption": "c.rst"}})
    >>> IOFile("z.png", g.flags).meta["report"]["caption"]
    'c.rst'
    """

    __slots__ = ("flags",)
    flags: Flags

    def __new__(cls, value: str, flags: Iterable[str] = (),
                meta: Mapping[str, Any] | None = None) -> "IOFile":
        obj = super().__new__(cls, value)
        old = value.flags if isinstance(value, IOFile) else _NO_FLAGS
        extra = getattr(flags, "meta", None)
        merged = {**old.meta, **(extra or {}), **(meta or {})} if extra or meta else old.meta
        obj.flags = Flags(frozenset(old) | frozenset(flags), merged)
        return obj

    @property
    def meta(self) -> Mapping[str, Any]:
        return self.flags.meta

    def is_flagged(self, flag: str) -> bool:
        return flag in self.flags

    def __reduce__(self):
        return (IOFile, (str(self), tuple(self.flags), dict(self.flags.meta)))

    def open(self, mode: str = "r", buffering: int = -1, encoding: str | None = None,
             errors: str | None = None, newline: str | None = None):
        """``open(self, ...)``, as Snakemake's file objects offer it (input functions write
        ``checkpoints.x.get(...).output[0].open()``)."""
        return open(self, mode, buffering, encoding, errors, newline)


def flag(value: Any, name: str, meta: Any = None) -> Any:
    """Attach a flag (and its value, ``meta``) to a pattern, or to every pattern in a list
    (as Snakemake does)."""
    if isinstance(value, str):
        return IOFile(value, {name}, None if meta is None else {name: meta})
    if isinstance(value, (list, tuple)):
        return [flag(v, name, meta) for v in value]
    if callable(value):  # an input function: flag what it returns
        return FlaggedFunction(value, name, meta)
    raise RuleError(f"{name}() expects a file pattern or a list of them, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class FlaggedFunction:
    """An input function wrapped by a flag helper, e.g. ``ancient(lambda wc: ...)``."""

    func: Callable[..., Any]
    flag_name: str
    meta: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return flag(self.func(*args, **kwargs), self.flag_name, self.meta)


@dataclass(frozen=True, slots=True)
class Unpack:
    """``unpack(f)``: the input function returns a dict (named) or list (positional) of files."""

    func: Callable[..., Any]


# ------------------------------------------------------------------------------ named lists
class _ItemOrMethod:
    """``index``/``sort`` of a ``NamedList``: the item when one has that name (Snakemake's
    ``Namedlist._allowed_overrides``: ``output: index="x.fai"`` then ``rules.x.output.index``),
    else the list method."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type) -> Any:
        method = getattr(list, self.name)
        if obj is None:
            return method
        try:
            names = obj._names
        except AttributeError:  # not initialised yet
            names = {}
        if self.name in names:
            return obj._get(self.name)
        return method.__get__(obj, owner)


class NamedList(list):
    """A list whose items may also have names, like Snakemake's ``Namedlist``.

    A named item may be a single value or a list (``input: reads=["a", "b"]``); the flat list
    holds every value and ``.reads`` gives back ``["a", "b"]``.

    >>> nl = NamedList(["a.txt"], {"ref": "ref.fa"})
    >>> list(nl), nl.ref, nl["ref"], nl.keys()
    (['a.txt', 'ref.fa'], 'ref.fa', 'ref.fa', ['ref'])
    """

    __slots__ = ("_names",)  # no per-instance __dict__: a DAG holds ~5 of these per job
    index = _ItemOrMethod("index")
    sort = _ItemOrMethod("sort")

    def __init__(self, positional: Iterable[Any] = (), named: Mapping[str, Any] | None = None,
                 *, flatten: bool = True) -> None:
        super().__init__()
        self._names: dict[str, tuple[int, int | None]] = {}
        for value in positional:
            self._append(value, flatten)
        for name, value in (named or {}).items():
            start = len(self)
            is_list = self._append(value, flatten)
            self._names[name] = (start, len(self) if is_list else None)

    def _append(self, value: Any, flatten: bool) -> bool:
        if flatten and isinstance(value, (list, tuple)) and not isinstance(value, str):
            self.extend(value)
            return True
        self.append(value)
        return False

    def keys(self) -> list[str]:
        return list(self._names)

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self._get(k)) for k in self._names]

    def _get(self, name: str) -> Any:
        start, end = self._names[name]
        return self[start] if end is None else list(self[start:end])

    def get(self, name: str, default: Any = None) -> Any:
        return self._get(name) if name in self._names else default

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            try:
                return self._get(key)
            except KeyError:
                raise KeyError(key) from None
        return super().__getitem__(key)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._get(name)
        except KeyError:
            raise AttributeError(f"no item named {name!r} (names: {', '.join(self._names) or 'none'})") from None

    def __getstate__(self) -> dict:
        return {"_names": self._names}

    def __setstate__(self, state: dict) -> None:
        self._names = state["_names"]

    def __reduce_ex__(self, protocol: int):  # keep list contents and names through pickle
        return (_rebuild_namedlist, (list(self), dict(self._names)))

    def __str__(self) -> str:  # as Snakemake formats ``{input}``: items joined by spaces
        return " ".join(str(v) for v in self)

    def map(self, func: Callable[[Any], Any]) -> "NamedList":
        """A copy with ``func`` applied to every item, names kept."""
        out = NamedList()
        list.extend(out, (func(v) for v in self))
        out._names = dict(self._names)
        return out


def _rebuild_namedlist(items: list, names: dict) -> NamedList:
    return namedlist_of(items, names)


NameSlots = dict[str, tuple[int, "int | None"]]
"""A NamedList's names: name -> (start, end) of its items; end None for a single item."""


def name_slots(nl: NamedList) -> NameSlots:
    """The names of ``nl`` (shared, not copied: read them, or copy before changing). A function,
    not a method, so that no name a workflow gives an item (``input.slots``) is shadowed."""
    return nl._names


def namedlist_of(items: Iterable[Any], slots: NameSlots, cls: type[NamedList] = NamedList) -> Any:
    """A ``cls`` of ``items`` named by ``slots`` (shared: never mutated in place), without
    ``__init__``'s flattening: the DAG builds one or more per job, from its rule's names."""
    nl = cls.__new__(cls)
    list.extend(nl, items)
    nl._names = slots
    return nl


class RuleOutput(IOFile):
    """An output pattern reached as ``rules.NAME.output`` in a Snakefile (plain: no flags, as
    Snakemake's rule proxy gives it): it remembers its rule, so an input written that way is
    tied to that rule (Snakemake's "rule dependency": only that rule is asked to make the file,
    no ambiguity with others; see ``sciflow.dag.index.tie_rules``)."""

    __slots__ = ("rule_name",)
    rule_name: str


class Wildcards(NamedList):
    """The wildcard values of a job; ``wildcards.sample`` and ``wildcards["sample"]``.

    Input functions may set attributes on it (``wildcards.group = ...`` before calling a
    helper that reads ``wildcards.group``, as cyrcular-calling does): Snakemake's Wildcards
    allow that, so a ``__dict__`` is made for the objects that get one."""

    __slots__ = ("__dict__",)

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        super().__init__((), dict(values or {}), flatten=False)

    def as_dict(self) -> dict[str, str]:
        return dict(self.items())

    def __reduce_ex__(self, protocol: int):  # stays a Wildcards (with as_dict) through pickle
        return (Wildcards, (self.as_dict(),))


# ------------------------------------------------------------------------------ rules
class ActionKind(str, enum.Enum):
    SHELL = "shell"
    RUN = "run"
    SCRIPT = "script"
    NOTEBOOK = "notebook"


@dataclass(slots=True)
class Action:
    """What a rule does. ``source`` is the shell text, the ``run:`` body's source, or the
    script/notebook path as written. For ``run:`` the parser also defines a function in the
    workflow namespace, named ``func_name``, taking the Snakemake ``run`` arguments."""

    kind: str  # an ActionKind value
    source: str
    loc: SourceLoc | None = None
    func_name: str | None = None


DIRECTIVES = (
    "input", "output", "params", "log", "benchmark", "threads", "resources", "priority",
    "retries", "message", "group", "localrule", "default_target", "wildcard_constraints",
    "name", "conda", "container", "singularity", "envmodules", "shadow", "cache", "handover",
    "version", "docstring",
)
ACTIONS = ("shell", "run", "script", "notebook", "wrapper", "cwl", "template_engine")
# The compiler passes a directive given a second time in a rule under this prefix: its value is
# evaluated (as Snakemake evaluates it) and then ignored, the first one counts.
DUPLICATE_PREFIX = "_sf_dup_"

# The argument-list shape every directive value arrives in: ``(positional, named)``.
Args = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass(slots=True)
class Rule:
    """One rule (or checkpoint) of the workflow, with raw patterns still holding wildcards.

    ``input``/``params`` items may be strings, ``IOFile``s, callables (input functions) or
    ``Unpack``; ``output``/``log`` items are strings or ``IOFile``s. ``locs`` maps each
    directive name to where it was written."""

    name: str
    loc: SourceLoc
    input: NamedList = field(default_factory=NamedList)
    output: NamedList = field(default_factory=NamedList)
    params: NamedList = field(default_factory=NamedList)
    log: NamedList = field(default_factory=NamedList)
    benchmark: str | None = None
    threads: Any = 1  # int or callable(wildcards, ...)
    resources: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    retries: int = 0
    message: str | None = None
    group: str | None = None
    localrule: bool = False
    default_target: bool = False
    wildcard_constraints: dict[str, str] = field(default_factory=dict)
    conda: str | None = None  # Snakemake's ``conda_env`` (see the property below)
    container: str | None = None  # Snakemake's ``container_img``
    shadow_depth: str | None = None  # shadow: "minimal" | "shallow" | "full" | "copy-minimal"
    cache: bool | str = False  # cache: True | "omit-software"
    handover: bool = False
    envmodules: list[str] = field(default_factory=list)
    benchmark_repeats: int = 1  # benchmark: repeat("b.tsv", N)
    action: Action | None = None
    checkpoint: bool = False
    docstring: str | None = None
    locs: dict[str, SourceLoc] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # directives recorded but not acted on
    # Snakemake 9 pathvars (sciflow.pathvars): the rule's own ``pathvars:``, the workflow's
    # and config's values when the rule was made, and path directives as written with <name>s
    pathvars: dict[str, str] = field(default_factory=dict)
    pathvar_scope: dict[str, str] = field(default_factory=dict)
    raw_paths: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rule) and other.name == self.name

    def loc_of(self, directive: str) -> SourceLoc:
        """Where ``directive`` was written, else where the rule starts."""
        return self.locs.get(directive, self.loc)

    # Snakemake's attribute names, for code written against Snakemake's Rule.
    @property
    def wrapper(self) -> str | None:
        return self.action.source if self.action and self.action.kind == "wrapper" else None

    @property
    def conda_env(self) -> str | None:
        return self.conda

    @property
    def container_img(self) -> str | None:
        return self.container


# ------------------------------------------------------------------------------ checkpoints
class Checkpoints:
    """The ``checkpoints`` object of the workflow namespace.

    ``checkpoints.split.get(sample="a").output`` asks the DAG (through ``resolver``, set by
    ``sciflow.dag``) for the finished checkpoint job; before it has run the resolver raises
    ``IncompleteCheckpointError`` and the DAG postpones the dependent part of the graph."""

    def __init__(self) -> None:
        self._names: set[str] = set()
        self.resolver: Callable[[str, dict[str, str]], Any] | None = None

    def register(self, name: str) -> None:
        self._names.add(name)

    def __getattr__(self, name: str) -> "CheckpointHandle":
        if name.startswith("_") or name not in self._names:
            raise AttributeError(f"no checkpoint named {name!r}")
        return CheckpointHandle(self, name)


@dataclass(frozen=True, slots=True)
class CheckpointHandle:
    owner: Checkpoints
    rule: str

    def get(self, **wildcards: str) -> Any:
        if self.owner.resolver is None:
            raise IncompleteCheckpointError(self.rule)
        job = self.owner.resolver(self.rule, wildcards)
        output = getattr(job, "output", None)
        if isinstance(output, NamedList):  # file objects with .open(), as Snakemake's
            job.output = output.map(lambda f: f if isinstance(f, IOFile) or not isinstance(
                f, str) else IOFile(f))
        return job


# ------------------------------------------------------------------------------ the workflow
@dataclass(slots=True)
class Workflow:
    """Everything one Sciflowfile (and its includes) defines."""

    path: str
    rules: dict[str, Rule] = field(default_factory=dict)  # in definition order
    config: dict[str, Any] = field(default_factory=dict)
    globals: dict[str, Any] = field(default_factory=dict)  # the shared Python namespace
    ruleorder: list[tuple[list[str], SourceLoc]] = field(default_factory=list)
    wildcard_constraints: dict[str, str] = field(default_factory=dict)
    localrules: set[str] = field(default_factory=set)
    workdir: str | None = None
    envvars: list[str] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)
    configfiles: list[str] = field(default_factory=list)
    onstart: Callable[..., Any] | None = None
    onsuccess: Callable[..., Any] | None = None
    onerror: Callable[..., Any] | None = None
    checkpoints: Checkpoints = field(default_factory=Checkpoints)
    source_sha256: str | None = None  # of the main file, for provenance
    # Rules that came from included files: never the default target (Snakemake takes the
    # first rule, or the ``default_target: True`` one, of the main file only).
    included_rules: set[str] = field(default_factory=set)
    # Set while a module's file loads: changes each new rule's paths (prefix/replace_prefix).
    path_modifier: Callable[[Rule], None] | None = None
    modules: dict[str, Any] = field(default_factory=dict)  # name -> sciflow.modules.Module
    scatter: dict[str, int] = field(default_factory=dict)  # scattergather: name -> count
    pep: Any = None  # the peppy.Project of ``pepfile:``
    pathvars: dict[str, str] = field(default_factory=dict)  # from ``pathvars:`` statements

    def register_pathvars(self, items: Mapping[str, Any], loc: SourceLoc | None = None) -> None:
        """A ``pathvars:`` statement of the workflow (Snakemake's ``register_pathvars``)."""
        from sciflow import pathvars

        merged = {**self.pathvars, **items}
        pathvars.check({**pathvars.DEFAULTS, **merged}, loc)
        self.pathvars = merged

    def pathvar_scope(self) -> dict[str, str]:
        """The pathvars a rule made now sees, before its own: the config's ``pathvars``
        mapping over the workflow's ``pathvars:`` statements over the defaults."""
        from sciflow.pathvars import DEFAULTS

        config = self.config.get("pathvars") if isinstance(self.config, dict) else None
        return {**DEFAULTS, **self.pathvars, **(config if isinstance(config, dict) else {})}

    @property
    def basedir(self) -> str:
        """The folder of this workflow's file: for the main workflow Snakemake's
        ``workflow.basedir`` (which, inside a module, still names the main file's folder)."""
        return os.path.dirname(os.path.abspath(self.path))

    @property
    def default_target_rule(self) -> Rule | None:
        """The last rule of the main file marked ``default_target: True`` (a rule used from a
        module may carry the mark too; the main file's own, defined later, wins), else the main
        file's first rule, else None (nothing to do) — Snakemake's choice: rules of included
        files are never chosen, even when marked."""
        main = [r for r in self.rules.values() if r.name not in self.included_rules]
        for rule in reversed(main):  # each ``default_target: True`` overrides the one before
            if rule.default_target:
                return rule
        return main[0] if main else None

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules.values())


class WorkflowBuilder:
    """The object the compiled workflow code calls; validates and collects rules.

    Each directive value arrives as ``(positional, named)`` args exactly as written."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow

    def add_rule(self, name: str | None, loc: SourceLoc, *, checkpoint: bool = False,
                 action: Action | None = None, locs: Mapping[str, SourceLoc] | None = None,
                 **directives: Args) -> Rule:
        wf = self.workflow
        if name is None:  # Snakemake names an anonymous rule by its position: "1", "2", ...
            name = str(len(wf.rules) + 1)
        locs = dict(locs or {})
        if "name" in directives:  # ``name:`` directive renames the rule
            name = _single(directives.pop("name"), "name", loc)
        if name in wf.rules:
            first = wf.rules[name].loc
            raise RuleError(f"duplicate rule name {name!r} (first defined at {first})", loc,
                            hint="Rename one of the two rules.")
        rule = Rule(name=name, loc=loc, checkpoint=checkpoint, action=action, locs=locs)
        rule.pathvar_scope = wf.pathvar_scope()
        for key, args in directives.items():
            apply_directive(rule, key, args, locs.get(key, loc))
        if rule.raw_paths:
            from sciflow.pathvars import substitute

            substitute(rule, strict=True)
        if wf.path_modifier is not None:
            wf.path_modifier(rule)
        wf.rules[name] = rule
        if checkpoint:
            wf.checkpoints.register(name)
        if rule.localrule:
            wf.localrules.add(name)
        return rule


def _single(args: Args, key: str, loc: SourceLoc) -> Any:
    pos, named = args
    if named or len(pos) != 1:
        raise RuleError(f"'{key}' takes exactly one value", loc)
    return pos[0]


def apply_directive(rule: Rule, key: str, args: Args, loc: SourceLoc) -> None:
    if key.startswith(DUPLICATE_PREFIX):  # the second of a directive given twice
        return
    _apply_one(rule, key, args, loc)
    if key in ("input", "output", "log", "benchmark", "pathvars"):
        _record_pathvar_paths(rule, key)


def _record_pathvar_paths(rule: Rule, key: str) -> None:
    """Keep a path directive as written when it holds ``<name>``s (or input functions), and
    re-apply the pathvars (leniently: ``add_rule`` checks strictly once all are known)."""
    from sciflow import pathvars

    if key != "pathvars":
        value = getattr(rule, key)
        if value is not None and pathvars.mentions(value):
            rule.raw_paths = {**rule.raw_paths, key: value}  # a copy: 'use rule' shares it
        elif key in rule.raw_paths:
            rule.raw_paths = {k: v for k, v in rule.raw_paths.items() if k != key}
    if rule.raw_paths:
        pathvars.substitute(rule, strict=False)


def _apply_one(rule: Rule, key: str, args: Args, loc: SourceLoc) -> None:
    pos, named = args
    if key == "params":  # one item per value, lists too (Snakemake: ``{params[0]}`` = "1 2 3")
        rule.params = NamedList([_param_item(v) for v in pos],
                                {k: _param_item(v) for k, v in named.items()}, flatten=False)
    elif key in ("input", "output", "log"):
        if key == "log" and not named and len(pos) == 1 and isinstance(pos[0], dict):
            named, pos = pos[0], ()
        setattr(rule, key, NamedList(pos, named))
        if key == "output":
            _check_output_duplicates(rule, loc)
    elif key == "resources":
        if pos:
            raise RuleError("'resources' takes only named values, e.g. mem_mb=1000", loc)
        rule.resources = dict(named)
    elif key == "wildcard_constraints":
        rule.wildcard_constraints = {k: str(v) for k, v in named.items()}
    elif key == "threads":
        rule.threads = threads_value(_single(args, key, loc), loc)
    elif key == "priority":
        rule.priority = _priority_value(_single(args, key, loc), loc)
    elif key in ("retries", "benchmark", "message", "group",
                 "localrule", "default_target", "conda", "container", "docstring"):
        value = _single(args, key, loc)
        if key == "retries" and not isinstance(value, int):
            raise RuleError(f"'{key}' must be an integer, got {value!r}", loc)
        if key == "benchmark" and isinstance(value, IOFile) and "repeat" in value.flags:
            rule.benchmark_repeats = int(value.meta.get("repeat", 1))
        setattr(rule, key, value)
    elif key == "pathvars":
        from sciflow import pathvars

        if pos:
            raise RuleError("'pathvars:' takes named values, e.g. results=\"out\"", loc)
        rule.pathvars = pathvars.check(named, loc)
    elif key == "singularity":
        rule.container = _single(args, key, loc)
    elif key in ("shadow", "cache", "handover", "envmodules"):
        _apply_execution_directive(rule, key, args, loc)
    else:  # recorded, not acted on (version, ...)
        rule.extra[key] = args


SHADOW_DEPTHS = ("minimal", "shallow", "full", "copy-minimal")


def _apply_execution_directive(rule: Rule, key: str, args: Args, loc: SourceLoc) -> None:
    """``shadow:``, ``cache:``, ``handover:``, ``envmodules:`` — checked here, carried out by
    ``sciflow.execute``."""
    if key == "envmodules":
        pos, named = args
        if named or not all(isinstance(v, str) for v in pos):
            raise RuleError("'envmodules:' takes module names as strings", loc)
        rule.envmodules = list(pos)
        return
    value = _single(args, key, loc)
    if key == "shadow":
        if value not in SHADOW_DEPTHS:
            raise RuleError(f"'shadow:' must be one of {', '.join(SHADOW_DEPTHS)}, got {value!r}",
                            loc)
        rule.shadow_depth = value
    elif key == "cache":
        if value not in (True, False, "omit-software"):
            raise RuleError(f"'cache:' must be True or \"omit-software\", got {value!r}", loc)
        rule.cache = value
    else:
        rule.handover = bool(value)


# ------------------------------------------------------------------------------ threads, priority
def _round(value: Any) -> Any:
    """Snakemake rounds a float thread count (``round``: 2.5 → 2, 3.5 → 4)."""
    return round(value) if isinstance(value, float) else value


class RoundedThreads:
    """A ``threads:`` function whose float result is rounded, as Snakemake rounds it.

    ``__wrapped__`` lets ``inspect.signature`` see the user's function, so it still gets only
    the arguments it names (wildcards, input, attempt, ...)."""

    __slots__ = ("__wrapped__",)

    def __init__(self, func: Callable[..., Any]) -> None:
        self.__wrapped__ = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _round(self.__wrapped__(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:  # __name__, __module__... of the user's function
        if name in ("__wrapped__", "rule") or name.startswith("__getstate"):
            raise AttributeError(name)
        return getattr(self.__wrapped__, name)

    def __reduce__(self):
        return (RoundedThreads, (self.__wrapped__,))


def threads_value(value: Any, loc: SourceLoc) -> Any:
    """``threads:`` as Snakemake takes it: an int, a float (rounded), a function (called per
    job, its result rounded) or None (1); 0 and negative numbers are kept as written."""
    if value is None:
        return 1
    if callable(value):
        return value if isinstance(value, RoundedThreads) else RoundedThreads(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _round(value)
    raise RuleError(f"threads must be an integer, a float or a function, got {value!r}", loc,
                    hint="e.g. threads: 4, threads: workflow.cores * 0.5 or "
                         "threads: lambda wildcards: 2")


def _priority_value(value: Any, loc: SourceLoc) -> Any:
    """``priority:`` as Snakemake takes it: an int, a float or a function (called per job);
    a false value (0, None) is no priority."""
    if not value:
        return 0
    if isinstance(value, (int, float)) or callable(value):
        return value
    raise RuleError(f"priority must be an integer, a float or a function, got {value!r}", loc,
                    hint="e.g. priority: 50 or priority: lambda wildcards: 1")


# ------------------------------------------------------------------------------ params, output
class ParamList(list):
    """A list given as one param whose strings hold ``{wildcards}``: called per job (like a
    params function) it gives the list with the job's wildcards filled in, as Snakemake
    concretizes the strings of a list param. Lists without braces stay plain lists."""

    def __call__(self, wildcards: Any) -> list:
        from sciflow.wildcards import apply_wildcards

        values = wildcards.as_dict() if hasattr(wildcards, "as_dict") else dict(wildcards)
        return [apply_wildcards(v, values) if isinstance(v, str) and "{" in v else v
                for v in self]


def _param_item(value: Any) -> Any:
    if type(value) is list and any(isinstance(v, str) and "{" in v for v in value):
        return ParamList(value)
    return value


def _check_output_duplicates(rule: Rule, loc: SourceLoc) -> None:
    """The same output pattern twice in one rule is an error in Snakemake ("Duplicate output
    file pattern in rule r. First two duplicate for entries 0 and 1.")."""
    seen: dict[str, str] = {}
    labels = {start: name for name, (start, end) in name_slots(rule.output).items() if end is None}
    index = -1
    for i, value in enumerate(rule.output):
        label = labels.get(i)
        if label is None:
            index += 1
            label = str(index)
        if isinstance(value, str) and value:
            if value in seen:
                raise RuleError(
                    f"duplicate output file pattern {str(value)!r} in rule {rule.name!r}: "
                    f"entries {seen[value]} and {label}", loc,
                    hint="Give each output file once.")
            seen[value] = label
