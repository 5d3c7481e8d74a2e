"""Where a rule's ``wrapper:``, ``conda:``, ``container:``, ``envmodules:``, ``shadow:``,
``benchmark: repeat(…)`` and ``handover:`` meet the run: checked once before any job runs
(``preflight``) and written into each job's ``JobSpec`` (``apply``, called by
``sciflow.execute.spec.make_spec``).

Why one place: every one of these is "what the job needs around its action", decided on the
client from the rule and the ``sciflow run`` flags (``ActionSettings``); the worker only
follows the plain fields of the spec (``sciflow.execute.envs.command_prefix``,
``sciflow.execute.shadow``). Missing tools or wrappers are ``DeploymentError``s raised before
the first job is submitted, as Snakemake does.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

from sciflow import layout
from sciflow.errors import DeploymentError
from sciflow.execute import cache as cache_mod, envs, shadow as shadow_mod, \
    wrapper as wrapper_mod


# --------------------------------------------------------------------------- benchmark repeat
def repeat_count(benchmark: Any) -> int:
    """How many times a benchmarked job runs (1 without ``repeat``; ``repeat()`` is
    ``sciflow.directives.repeat``, which keeps the count in the path's flag values)."""
    meta = getattr(benchmark, "meta", None) or {}
    if "repeat" in meta:
        return int(meta["repeat"])
    return 1


# --------------------------------------------------------------------------- directives
def envmodules_of(rule: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in rule.envmodules)


# --------------------------------------------------------------------------- settings
@dataclass
class ActionSettings:
    """The ``sciflow run`` flags these directives obey, and what preflight made ready."""

    workdir: str = "."
    use_conda: bool = False
    conda_prefix: str | None = None
    conda_frontend: str | None = None         # --conda-frontend (None: the first on PATH)
    conda_cleanup_pkgs: str | None = None     # --conda-cleanup-pkgs: tarballs | cache
    use_apptainer: bool = False
    apptainer_args: str = ""
    use_envmodules: bool = False
    wrapper_prefix: str | None = None
    shadow_prefix: str | None = None
    cores: int | None = None
    cache: list[str] | None = None           # --cache [RULE…]: None off, [] every cache: rule
    cache_root: str | None = None             # $SNAKEMAKE_OUTPUT_CACHE (set by preflight)
    hasher: Any = None                        # cache.ProvenanceHasher (set by preflight)
    _wrappers: dict[str, wrapper_mod.ResolvedWrapper] = field(default_factory=dict)
    _envs: dict[str, str] = field(default_factory=dict)      # env file -> created prefix
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_options(cls, options: Any, workdir: str, cores: int | None = None
                     ) -> "ActionSettings":
        """From ``engine.RunOptions`` (fields it lacks keep their defaults)."""
        return cls(workdir=os.path.abspath(workdir),
                   use_conda=bool(getattr(options, "use_conda", False)),
                   conda_prefix=getattr(options, "conda_prefix", None),
                   conda_frontend=getattr(options, "conda_frontend", None),
                   conda_cleanup_pkgs=getattr(options, "conda_cleanup_pkgs", None),
                   use_apptainer=bool(getattr(options, "use_apptainer", False)
                                      or getattr(options, "use_singularity", False)),
                   apptainer_args=getattr(options, "apptainer_args", "") or "",
                   use_envmodules=bool(getattr(options, "use_envmodules", False)),
                   wrapper_prefix=getattr(options, "wrapper_prefix", None),
                   shadow_prefix=getattr(options, "shadow_prefix", None), cores=cores,
                   cache=_cache_option(getattr(options, "cache", None)))

    def cached(self, rule: Any) -> bool:
        """Does ``--cache`` apply to ``rule``? (listed by name, or marked ``cache:`` when
        ``--cache`` names no rule)."""
        if self.cache is None:
            return False
        if rule.name in self.cache:
            return True
        return not self.cache and cache_mod.cache_mode(rule) is not None

    # ----------------------------------------------------------------- wrappers
    def wrapper(self, job: Any, workflow: Any) -> wrapper_mod.ResolvedWrapper:
        rule = job.rule
        value = _wrapper_value(job, workflow)
        with self._lock:
            found = self._wrappers.get(value)
            if found is None:
                cache = layout.wrappers_cache(self.workdir)
                found = wrapper_mod.resolve(value, self.wrapper_prefix, cache,
                                            rule.action.loc or rule.loc, rule.name)
                wrapper_mod.check_runnable(found, value, rule.action.loc or rule.loc, rule.name)
                self._wrappers[value] = found
        return found

    # ----------------------------------------------------------------- conda
    def conda_env(self, env: str, rule: Any) -> str:
        """The environment to run in: a created prefix for files, else the name/path."""
        if not envs.is_env_file(env):
            return env
        with self._lock:
            if env not in self._envs:
                exe = envs.conda_frontend(self.conda_frontend)
                if exe is None:
                    raise _no_conda(rule, self.conda_frontend)
                if not os.path.isfile(env):
                    raise DeploymentError(f"rule {rule.name!r}: conda environment file not "
                                          f"found: {env}", rule.loc_of("conda"))
                target = envs.env_path(env, self.workdir, self.conda_prefix)
                self._envs[env] = envs.create_env(exe, env, target, rule.name,
                                                  rule.loc_of("conda"))
                envs.cleanup_packages(exe, self.conda_cleanup_pkgs)
            return self._envs[env]


def _cache_option(value: Any) -> list[str] | None:
    if value is None or value is False:
        return None
    if value is True:
        return []
    return [value] if isinstance(value, str) else list(value)


def _wrapper_value(job: Any, workflow: Any) -> str:
    value = job.rule.action.source
    if "{" in value:
        from sciflow.execute.spec import format_shell, namespace
        value = format_shell(value, namespace(job, workflow), job.rule.action.loc or job.rule.loc,
                             job.rule.name)
    return value


def _no_conda(rule: Any, frontend: str | None = None) -> DeploymentError:
    names = f"--conda-frontend {frontend}" if frontend else ", ".join(envs.CONDA_FRONTENDS)
    return DeploymentError(
        f"--use-conda: rule {rule.name!r} asks for a conda environment, but {names} is not "
        "on PATH" if frontend else
        f"--use-conda: rule {rule.name!r} asks for a conda environment, but none of "
        f"{names} is on PATH", rule.loc_of("conda"),
        hint="Install conda, mamba or micromamba, or run without --use-conda (the conda: "
             "directive is then ignored, as Snakemake does).")


def _action_kind(rule: Any) -> str | None:
    kind = rule.action.kind if rule.action else None
    return getattr(kind, "value", kind)


# --------------------------------------------------------------------------- before the run
NOTEBOOK_MODULES = ("nbclient", "nbformat", "ipykernel")
NOTEBOOK_HINT = "Install the extra: pip install 'sciflow[jupyter]'."


def _importable(name: str) -> bool:
    """``import name`` would find something (without paying for the import)."""
    if name in sys.modules:
        return sys.modules[name] is not None
    return importlib.util.find_spec(name) is not None


def preflight(jobs: Iterable[Any], workflow: Any, settings: ActionSettings,
              dag: Any = None) -> None:
    """Check (and prepare) everything the planned jobs need, before any runs: wrappers found,
    conda environments created, apptainer / ``module`` present when asked for."""
    from sciflow.execute.spec import resolve_conda

    jobs = list(jobs)
    rules = list({job.rule.name: job.rule for job in jobs}.values())
    for rule in rules:
        shadow_mod.check_mode(rule.shadow_depth, rule.name, rule.loc_of("shadow"))
        cache_mod.cache_mode(rule)
    if settings.cache is not None:
        cached = [r for r in rules if settings.cached(r)]
        if cached:
            settings.cache_root = cache_mod.cache_dir(cached)
            if dag is not None:
                settings.hasher = cache_mod.ProvenanceHasher(dag, workflow, settings.workdir)
    notebooks = [r for r in rules if _action_kind(r) == "notebook"]
    missing = [m for m in NOTEBOOK_MODULES if notebooks and not _importable(m)]
    if missing:  # before any job runs, not when the first notebook job reaches a worker
        raise DeploymentError(
            f"rule {notebooks[0].name!r} runs a notebook, which needs {', '.join(missing)} "
            "(not installed)", notebooks[0].loc_of("notebook"), hint=NOTEBOOK_HINT)
    if settings.use_apptainer:
        needing = [r for r in rules if r.container]
        if needing and envs.container_runtime() is None:
            rule = needing[0]
            raise DeploymentError(
                f"--use-apptainer: rule {rule.name!r} runs in container {rule.container}, but "
                "neither apptainer nor singularity is on PATH", rule.loc_of("container"),
                hint="Install apptainer, or run without --use-apptainer (container: is then "
                     "ignored, as Snakemake does).")
    if settings.use_envmodules:
        needing = [r for r in rules if envmodules_of(r)]
        if needing and not envs.modules_available():
            rule = needing[0]
            raise DeploymentError(
                f"--use-envmodules: rule {rule.name!r} loads {', '.join(envmodules_of(rule))}, "
                "but the 'module' command is not available to bash", rule.loc_of("envmodules"),
                hint="Run on a machine with Lmod or Environment Modules, or without "
                     "--use-envmodules (envmodules: is then ignored, as Snakemake does).")
    seen: set[str] = set()
    for job in jobs:
        rule = job.rule
        env = None
        if _action_kind(rule) == "wrapper":
            found = settings.wrapper(job, workflow)
            env = found.environment
        if settings.use_conda:
            own = resolve_conda(rule.conda, workflow, job, settings.workdir)
            env = own or env
            if env and env not in seen:
                seen.add(env)
                if envs.conda_frontend(settings.conda_frontend) is None:
                    raise _no_conda(rule, settings.conda_frontend)
                settings.conda_env(env, rule)  # created now, not by parallel jobs


# --------------------------------------------------------------------------- per job
def apply(spec: Any, job: Any, workflow: Any, settings: ActionSettings | None) -> Any:
    """Fill the spec's fields for these directives (called at the end of ``make_spec``)."""
    in_run = settings is not None  # else a bare make_spec(): the worker reports what's missing
    settings = settings or ActionSettings(workdir=spec.workdir)
    rule = job.rule
    if _action_kind(rule) == "wrapper":
        found = settings.wrapper(job, workflow)
        spec.action = "script"
        spec.script = found.script
        spec.command = found.script
        if not spec.conda and found.environment:
            spec.conda = found.environment
    if spec.use_conda and spec.conda and in_run:
        spec.conda = settings.conda_env(spec.conda, rule)
        spec.conda_prefix = settings.conda_prefix
    if spec.use_apptainer:
        spec.apptainer_args = settings.apptainer_args
    if settings.use_envmodules:
        spec.envmodules = envmodules_of(rule)
    mode = shadow_mod.check_mode(rule.shadow_depth, rule.name, rule.loc_of("shadow"))
    if mode:
        spec.shadow = mode
        spec.shadow_prefix = settings.shadow_prefix
    if spec.benchmark:
        spec.benchmark_repeat = repeat_count(rule.benchmark)
        if spec.action == "shell" and "bench_iteration" in rule.action.source:
            spec.bench_commands = _bench_commands(spec, job, workflow)
    if settings.hasher is not None and settings.cache_root and settings.cached(rule):
        spec.cache_key = settings.hasher.hash(job)
        spec.cache_dir = settings.cache_root
    return spec


def _bench_commands(spec: Any, job: Any, workflow: Any) -> tuple[str, ...]:
    """A shell command using ``{bench_iteration}``, formatted once per benchmark run."""
    from sciflow.execute.shell import format_shell, shell
    from sciflow.execute.spec import namespace, temp_path
    rule = job.rule
    output = (job.output.map(lambda f: temp_path(str(f), spec.key)) if spec.temp_outputs
              else None)
    names = namespace(job, workflow, output)
    return tuple(shell.wrap(format_shell(rule.action.source, {**names, "bench_iteration": i},
                                         rule.action.loc or rule.loc, rule.name))
                 for i in range(spec.benchmark_repeat))


def before_format(job: Any, settings: ActionSettings | None) -> None:
    """``handover: True``: the job is handed every core of the run (Snakemake gives it the
    whole allocation); set before ``{threads}`` is formatted into its command."""
    if settings is not None and settings.cores and job.rule.handover:
        job.threads = int(settings.cores)
