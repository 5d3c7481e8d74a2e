"""Snakemake profiles for ``sciflow run``: where they are found, how their keys are read.

A profile is a YAML mapping of option names to values (``cores: 8``, ``keep-going: true``,
``set-resources: {sort: {mem_mb: 4000}}``), so that settings of a machine or a workflow need
not be typed each time. Existing Snakemake profiles work unchanged:

* ``--profile NAME`` (repeatable; else ``$SNAKEMAKE_PROFILE``; ``none`` disables it) is looked
  up as Snakemake 9 does (``snakemake.cli.get_profile_dir``): an existing path (a YAML file, or
  a folder), else a folder ``NAME`` in the current directory, in ``$XDG_CONFIG_HOME/snakemake``
  (``~/.config/snakemake``), then in the first of ``$XDG_CONFIG_DIRS`` (``/etc/xdg``) +
  ``/snakemake``. In a folder the file is ``profile.yaml`` or ``config.yaml``, possibly with a
  minimal version infix (``config.v8+.yaml``): the highest version this sciflow accepts wins.
* ``--workflow-profile`` (default ``profiles/default``; ``none`` disables it) is looked for as
  given, as ``profiles/NAME``, and beside the workflow file (``<dir of Snakefile>/profiles/NAME``).

Keys are the long option names of ``sciflow run`` without dashes (``latency-wait``; underscores
are accepted too, ``latency_wait``); ``jobs`` and other aliases are keys as well. Each value is
validated by the same code that validates the command line, so a bad value is reported as
``PROFILE:LINE:COL: cores: expected a number or 'all', got 'abc'`` (exit status 2). String
values get ``~`` and ``$VARS`` expanded and, when they name a file inside the profile folder,
become that path (as Snakemake does). Precedence, per top-level key: the command line, then the
workflow profile, then the ``--profile``s (later over earlier), then sciflow's defaults.
"""
from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from sciflow.errors import ConfigError, ProfileError
from sciflow.model import SourceLoc

SNAKEMAKE_MAJOR = 9        # profile files marked for a later Snakemake (config.v10+.yaml) are skipped
MAX_PROFILE_BYTES = 1_000_000
_FILE_NAME = re.compile(r"(?P<name>profile|config)(?:\.v(?P<major>\d+)\+)?\.yaml")

# Snakemake options that change nothing sciflow does (cluster plugins, logging, schedulers of
# Snakemake's own): a profile that sets them is still accepted, with a note.
IGNORED_SNAKEMAKE_KEYS = frozenset("""
executor software-deployment-method sdm conda-frontend show-failed-logs max-jobs-per-second
max-status-checks-per-second seconds-between-status-checks local-cores reason verbose nolock
jobname jobscript js jn shadow-prefix apptainer-args singularity-args apptainer-prefix
singularity-prefix default-storage-provider default-storage-prefix rerun-triggers resources
res group-components groups scheduler-ilp-solver max-threads set-resource-scopes
preemptible-rules preemptible-retries local-storage-prefix keep-storage-local-copies
conda-cleanup-pkgs conda-create-envs-only benchmark-extended show-failed-logs
cluster-generic-submit-cmd cluster-generic-status-cmd cluster-generic-cancel-cmd
keep-remote envvars log-handler-script logger drop-metadata
""".split())
KEY_VALUE_KEYS = frozenset({"set-threads", "default-resources", "default-res", "config", "C",
                            "cluster-option"})
TWO_LEVEL_KEYS = frozenset({"set-resources"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One top-level key of a profile, its value and where it was written."""

    key: str
    value: Any
    loc: SourceLoc                 # the key
    value_loc: SourceLoc | None = None


# ------------------------------------------------------------------------------ finding
def config_dirs() -> list[Path]:
    """Snakemake's search folders (platformdirs' user and site config dirs, app "snakemake")."""
    user = os.environ.get("XDG_CONFIG_HOME", "").strip() or os.path.expanduser("~/.config")
    site = (os.environ.get("XDG_CONFIG_DIRS", "").strip() or "/etc/xdg").split(os.pathsep)[0]
    return [Path(user) / "snakemake", Path(site) / "snakemake"]


def profile_file(folder: Path) -> Path | None:
    """The profile YAML of a folder: ``profile.yaml``/``config.yaml``, or the file with the
    highest version infix not above ours (``config.v9+.yaml``); ``profile`` before ``config``."""
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    best: tuple[int, int, str] | None = None
    for name in names:
        m = _FILE_NAME.fullmatch(name)
        if not m:
            continue
        major = int(m.group("major") or 0)
        if major > SNAKEMAKE_MAJOR:
            continue
        rank = (major, 1 if m.group("name") == "profile" else 0, name)
        if best is None or rank > best:
            best = rank
    return folder / best[2] if best else None


def find_profile(name: str, cwd: str | os.PathLike[str] | None = None) -> Path:
    """The YAML file of ``--profile NAME`` (see the module docstring); ``ProfileError`` if none."""
    cwd = Path(cwd or os.getcwd())
    given = Path(os.path.expanduser(name))
    path = given if given.is_absolute() else cwd / given
    if path.is_file():
        return path
    searched = [path.parent] if path.exists() else [cwd, *config_dirs()]
    base = path.name if path.exists() else name
    for folder in searched:
        candidate = folder / base
        if candidate.is_file():
            return candidate
        if candidate.is_dir():
            found = profile_file(candidate)
            if found is not None:
                return found
    raise ProfileError(
        f"profile {name!r} not found: no folder with a profile.yaml or config.yaml "
        f"(looked in {', '.join(str(d) for d in searched)})",
        hint="Give a path to the profile folder or its YAML file, or put the profile in "
             f"{config_dirs()[0]}/{name}/config.yaml.")


def find_workflow_profile(value: str | None, workflow_file: str | None,
                          cwd: str | os.PathLike[str] | None = None) -> Path | None:
    """``--workflow-profile``: ``None`` (default ``profiles/default``, used if present),
    ``none`` (off), a YAML file, or a folder looked for as given, under ``profiles/`` and
    beside the workflow file. A name given explicitly but found nowhere is an error."""
    if value == "none":
        return None
    cwd = Path(cwd or os.getcwd())
    given = Path(value or "default")
    if value and (cwd / given).is_file():
        return cwd / given
    candidates = [cwd / given, cwd / "profiles" / given] if value else [cwd / "profiles" / given]
    if workflow_file:
        candidates.append(Path(workflow_file).resolve().parent / "profiles" / given)
    candidates = list(dict.fromkeys(candidates))
    for folder in candidates:
        if folder.is_dir():
            found = profile_file(folder)
            if found is not None:
                return found
    if value:
        raise ProfileError(f"workflow profile {value!r} not found (looked in "
                           f"{', '.join(str(c) for c in candidates)})",
                           hint="Use --workflow-profile none to run without one.")
    return None


# ------------------------------------------------------------------------------ reading
def read_profile(path: Path) -> list[Entry]:
    """The top-level entries of a profile file, each with its line and column."""
    import yaml

    where = str(path)
    try:
        if path.stat().st_size > MAX_PROFILE_BYTES:
            raise ProfileError(f"profile {where} is larger than {MAX_PROFILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read profile {where}: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise ProfileError(f"profile {where} is nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = SourceLoc(where, mark.line + 1, mark.column + 1) if mark else None
        raise ProfileError(f"profile is not valid YAML: {getattr(exc, 'problem', exc)}",
                           loc) from None
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise ProfileError("a profile must be a mapping of option names to values, e.g. "
                           "'cores: 4'", SourceLoc(where, root.start_mark.line + 1, 1))
    from sciflow.configload import EXPANSION_FACTOR, EXPANSION_FLOOR, check_expansion

    # one rule for every YAML sciflow reads (sciflow.configload): alias bombs are refused
    try:
        check_expansion(root, max(EXPANSION_FACTOR * len(text), EXPANSION_FLOOR), where,
                         SourceLoc(where, 1, 1))
    except ConfigError as exc:  # a profile is command-line options: a usage error (exit 2)
        raise ProfileError(exc.message, exc.loc, exc.hint) from None
    loader = yaml.SafeLoader("")
    entries = []
    try:
        for key_node, value_node in root.value:
            loc = SourceLoc(where, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            vloc = SourceLoc(where, value_node.start_mark.line + 1,
                             value_node.start_mark.column + 1)
            key = loader.construct_object(key_node, deep=True)
            value = loader.construct_object(value_node, deep=True)
            entries.append(Entry(str(key), value, loc, vloc))
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        raise ProfileError(f"profile is not valid YAML: {exc}", SourceLoc(where, 1, 1)) from None
    finally:
        loader.dispose()
    return entries


# ------------------------------------------------------------------------------ to options
def option_table(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Profile key → the parser action it sets: every long option, without its dashes."""
    table = {}
    for action in parser._actions:
        for opt in action.option_strings:
            if opt.startswith("--"):
                table[opt[2:]] = action
    return table


def _expand(value: Any, folder: Path) -> str:
    text = os.path.expanduser(os.path.expandvars(str(value)))
    if text and (folder / text).exists():
        return str(folder / text)
    return text


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _convert(action: argparse.Action, entry: Entry, key: str, folder: Path) -> Any:
    """The value ``entry`` gives the action's dest, validated with the action's own type."""
    value = entry.value
    fail = lambda why: ProfileError(f"{entry.key}: {why}", entry.value_loc or entry.loc,  # noqa: E731
                                    hint=f"Fix the value of '{entry.key}' in {entry.loc.path}, "
                                         "or override it on the command line.")
    if action.nargs == 0:  # a flag: store_true (or store_const)
        if isinstance(value, str) and value.lower() in ("true", "yes", "false", "no"):
            value = value.lower() in ("true", "yes")
        if not isinstance(value, bool):
            raise fail(f"expected true or false, got {value!r}")
        return action.const if value else (not action.const if isinstance(action.const, bool)
                                           else action.default)
    if isinstance(value, bool) and action.nargs in ("*", "?"):
        # an option whose value may be left out (quiet, cache, dag, cores...): true = bare flag
        return ([] if action.nargs == "*" else action.const) if value else None
    many = action.nargs in ("+", "*") or isinstance(action.nargs, int)
    if isinstance(value, dict):
        if key in TWO_LEVEL_KEYS:
            items = []
            for rule, resources in value.items():
                if not isinstance(resources, dict):
                    raise fail(f"expected a mapping of rule names to {{resource: value}} "
                               f"mappings, got {rule}: {resources!r}")
                items += [f"{rule}:{name}={_scalar_text(v)}" for name, v in resources.items()]
        elif key in KEY_VALUE_KEYS or many:
            # JSON is YAML, so config values keep their types (``samples=["a", "b"]``)
            items = [f"{k}={json.dumps(v, default=str) if key in ('config', 'C') else _scalar_text(v)}"
                     for k, v in value.items()]
        else:
            raise fail(f"expected a single value, got a mapping")
        values = items
    elif isinstance(value, list):
        if not many:
            raise fail(f"expected a single value, got a list")
        values = [_expand(v, folder) if isinstance(v, str) else _scalar_text(v) for v in value]
    elif value is None:
        return None
    else:
        values = [_expand(value, folder) if isinstance(value, str) else _scalar_text(value)]
    out = []
    for text in values:
        if action.type is not None:
            try:
                text = action.type(text)
            except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
                raise fail(str(exc) or f"invalid value {text!r}") from None
        if action.choices is not None and text not in action.choices:
            raise fail(f"{text!r} is not one of {', '.join(map(str, action.choices))}")
        out.append(text)
    if many:
        return out
    if len(out) != 1:
        raise fail("expected a single value")
    return out[0]


def profile_values(parser: argparse.ArgumentParser, paths: Iterable[Path],
                   notes: list[str] | None = None) -> dict[str, Any]:
    """dest → value from the profile files, later files overriding earlier ones per key.

    Unknown keys are errors naming the nearest option; Snakemake options that mean nothing
    to sciflow are skipped with a note (appended to ``notes``)."""
    from sciflow.cli.parser import nearest_option

    table = option_table(parser)
    values: dict[str, Any] = {}
    for path in paths:
        folder = path.parent
        entries = read_profile(path)
        remote = next((e for e in entries if e.key == "executor"
                       and str(e.value) not in ("local", "dryrun", "touch")), None)
        for entry in entries:
            key = entry.key.strip().lstrip("-")
            if remote is not None and key == "jobs":
                # jobs: 100 is meant for a cluster's queue, not for 100 local worker processes
                if notes is not None:
                    notes.append(f"{entry.loc}: note: 'jobs' ignored with 'executor: "
                                 f"{remote.value}' (jobs run on the local cluster; use "
                                 "--cluster or --scheduler for a cluster)")
                continue
            action = table.get(key) or table.get(key.replace("_", "-"))
            if key == "executor":
                # a profile's executor comes with its plugin's settings (slurm-*, ...), which
                # sciflow cannot read: noted and ignored; on the command line it maps
                action = None
            if action is not None and action.dest in ("profile", "workflow_profile"):
                raise ProfileError(f"'{entry.key}': a profile cannot name another profile",
                                   entry.loc, hint="Give both on the command line: --profile "
                                   "A --profile B (later ones win).")
            if action is None or action.dest == "help":
                if key.replace("_", "-") in IGNORED_SNAKEMAKE_KEYS or key.startswith(
                        ("slurm-", "cluster-generic-", "kubernetes-", "storage-")):
                    if notes is not None:
                        notes.append(f"{entry.loc}: note: '{entry.key}' is a Snakemake option "
                                     "sciflow does not use; ignored")
                    continue
                guess = nearest_option("--" + key.replace("_", "-"),
                                       ["--" + k for k, a in table.items()
                                        if a.dest not in ("profile", "workflow_profile", "help")])
                raise ProfileError(f"unknown option {entry.key!r}", entry.loc,
                                   hint=f"Did you mean '{guess[2:]}'?" if guess else
                                   "Keys are long options of 'sciflow run' without the dashes.")
            if key.replace("_", "-") == "scheduler" and str(entry.value) in ("greedy", "ilp"):
                if notes is not None:
                    notes.append(f"{entry.loc}: note: 'scheduler: {entry.value}' is Snakemake's "
                                 "job scheduler; ignored (sciflow's --scheduler is a Dask address)")
                continue
            converted = _convert(action, entry, key.replace("_", "-"), folder)
            if converted is not None:
                values[action.dest] = converted
    return values


def profile_paths(profiles: list[str] | None, workflow_profile: str | None,
                  workflow_file: str | None, cwd: str | None = None) -> list[Path]:
    """The profile files in precedence order (lowest first): ``--profile``s (or
    ``$SNAKEMAKE_PROFILE``), then the workflow profile."""
    names = list(profiles or ())
    if not names and os.environ.get("SNAKEMAKE_PROFILE"):
        names = [os.environ["SNAKEMAKE_PROFILE"]]
    if "none" in names:
        if names != ["none"]:
            raise ProfileError("--profile none cannot be combined with other profiles")
        names = []
    paths = [find_profile(name, cwd) for name in names if name]
    wf = find_workflow_profile(workflow_profile, workflow_file, cwd)
    if wf is not None:
        paths.append(wf)
    return paths


def apply_to_options(options: Any) -> Any:
    """For the Python API (``RunOptions(profile=...)``): fill the fields of ``options`` still
    at their defaults from the profile, with the same keys and checks as the command line."""
    import dataclasses

    from sciflow.cli.run import DEFAULTS, options_from_args, standalone_parser

    parser = standalone_parser()
    names = [options.profile] if isinstance(options.profile, (str, os.PathLike)) else list(options.profile)
    paths = [find_profile(str(n)) for n in names]
    ns = parser.parse_args([])
    for dest, value in profile_values(parser, paths).items():
        setattr(ns, dest, value)
    for dest, value in DEFAULTS.items():
        if getattr(ns, dest, None) is None:
            setattr(ns, dest, list(value) if isinstance(value, list) else value)
    from_profile = options_from_args(ns)
    for f in dataclasses.fields(options):
        if f.name in ("profile", "command_line", "targets"):
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if getattr(options, f.name) == default:
            setattr(options, f.name, getattr(from_profile, f.name))
    if options.config is not None and from_profile.config:
        options.config = {**from_profile.config, **options.config}
    return options
