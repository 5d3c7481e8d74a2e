"""The Snakemake attributes of the ``workflow`` object that published pipelines read.

Snakefiles ask the workflow about the run they are part of: ``workflow.cores`` (threads as a
share of the cores), ``workflow.configfiles[0]`` (paths next to the config file),
``workflow.overwrite_configfiles`` (was ``--configfile`` given?), ``workflow.is_main_process``
(do a side effect once, not again in every job process), ``workflow.use_conda`` (Snakemake 7)
or ``DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method`` (Snakemake
8/9), ``workflow.output_settings.dryrun``, ``workflow.global_resources[...] = 1``.
:class:`SnakemakeWorkflowAttributes` answers them on ``sciflow.helpers.WorkflowContext``.

Where the answers come from: the run's options are not an argument of ``load_workflow`` (it is
also used by ``lint``, ``dag`` and the workers), so the engine states them around the load with
``with run_settings(options):`` (a context variable; any object with ``RunOptions``' attribute
names will do). Without it — ``sciflow lint``/``dag``, a worker re-loading the workflow for a
``run:`` block — the answers are those of a plain local run, except ``is_main_process``, which
is False inside a Dask worker (Snakemake: False in the job processes it spawns).
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

from sciflow.model import SourceLoc


# ------------------------------------------------------------------------------ the run's options
@dataclass(frozen=True)
class RunView:
    """The options of the run a workflow is loaded for, as the ``workflow`` object shows them."""

    cores: int | None = None   # None: all of this machine's
    nodes: int | None = None
    dry_run: bool = False
    touch: bool = False
    main_process: bool = True
    use_conda: bool = False
    use_apptainer: bool = False
    use_envmodules: bool = False
    conda_prefix: str | None = None
    apptainer_prefix: str | None = None
    wrapper_prefix: str | None = None
    printshellcmds: bool = False
    verbose: bool = False
    quiet: bool = False
    keep_going: bool = False
    keep_incomplete: bool = False
    rerun_incomplete: bool = False
    latency_wait: float | None = None
    retries: int | None = None
    notemp: bool = False
    all_temp: bool = False
    shadow_prefix: str | None = None
    cache: tuple[str, ...] | None = None
    set_threads: dict = field(default_factory=dict)
    set_resources: dict = field(default_factory=dict)
    default_resources: Any = None
    config: dict = field(default_factory=dict)          # --config
    configfiles: tuple[Path, ...] = ()                  # --configfile, absolute


_RUN: contextvars.ContextVar[RunView | None] = contextvars.ContextVar("sciflow_run_view",
                                                                      default=None)


def view_of(options: Any) -> RunView:
    """A :class:`RunView` from ``RunOptions`` (or anything with those attribute names).
    ``--configfile`` paths become absolute here, against the current directory (where the
    command was typed, as Snakemake)."""
    def get(name: str, default: Any = None) -> Any:
        value = getattr(options, name, default)
        return default if value is None and default is not None else value

    cache = get("cache")
    cores = get("cores")
    return RunView(
        cores=None if cores in (None, "all") else int(cores), nodes=get("nodes"),
        dry_run=bool(get("dry_run", False)), touch=bool(get("touch", False)),
        use_conda=bool(get("use_conda", False)), use_apptainer=bool(get("use_apptainer", False)),
        use_envmodules=bool(get("use_envmodules", False)), conda_prefix=get("conda_prefix"),
        apptainer_prefix=get("apptainer_prefix"), wrapper_prefix=get("wrapper_prefix"),
        printshellcmds=bool(get("printshellcmds", False)), verbose=bool(get("verbose", False)),
        quiet=bool(get("quiet", False)), keep_going=bool(get("keep_going", False)),
        keep_incomplete=bool(get("keep_incomplete", False)),
        rerun_incomplete=bool(get("rerun_incomplete", False)),
        latency_wait=get("latency_wait"), retries=get("retries"),
        notemp=bool(get("notemp", False)), all_temp=bool(get("all_temp", False)),
        shadow_prefix=get("shadow_prefix"), cache=None if cache is None else tuple(cache),
        set_threads=dict(get("set_threads", {}) or {}),
        set_resources=dict(get("set_resources", {}) or {}),
        default_resources=get("default_resources"), config=dict(get("config", {}) or {}),
        configfiles=tuple(Path(os.path.abspath(p)) for p in get("configfiles", ()) or ()))


@contextlib.contextmanager
def run_settings(options: Any) -> Iterator[RunView]:
    """State the run's options for the workflow loaded inside the block (see module doc)."""
    view = options if isinstance(options, RunView) else view_of(options)
    token = _RUN.set(view)
    try:
        yield view
    finally:
        _RUN.reset(token)


def current_run() -> RunView:
    """The options stated by :func:`run_settings`, else a plain local run's."""
    view = _RUN.get()
    if view is None:
        view = RunView(main_process=not _in_dask_worker())
    return view


def _in_dask_worker() -> bool:
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except (ValueError, AttributeError, ImportError):
        return False
    return True


# ------------------------------------------------------------------------------ where an error is
def caller_loc() -> SourceLoc | None:
    """The workflow line that called into sciflow (the innermost frame of workflow code), for
    errors raised by namespace helpers. None while that file is still loading: the loader then
    locates the error itself, with the column."""
    from sciflow.compat import MARKER

    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get(MARKER):
            ctx = frame.f_globals.get("workflow")
            if getattr(ctx, "files", None):
                return None
            return SourceLoc(frame.f_code.co_filename, frame.f_lineno, 1)
        frame = frame.f_back
    return None


# ------------------------------------------------------------------------------ the attributes
def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class SnakemakeWorkflowAttributes:
    """Snakemake's ``workflow.*`` answers, mixed into ``sciflow.helpers.WorkflowContext``
    (which provides ``model``, ``main_snakefile``, ``load_dir``, ``skip_validation``).
    Snakemake 9's grouped settings and Snakemake 7's flat names are both offered: published
    pipelines read either."""

    model: Any
    load_dir: str
    skip_validation: bool

    # ---------------------------------------------------------------- the run
    @property
    def run_view(self) -> RunView:
        return current_run()

    @property
    def cores(self) -> int:
        """``--cores`` (all of this machine's when not given, as sciflow then uses them)."""
        override = self.__dict__.get("_cores_override")
        if override is not None:
            return override
        cores = self.run_view.cores
        return cores if cores is not None else _cpu_count()

    @cores.setter
    def cores(self, value: int) -> None:
        self.__dict__["_cores_override"] = value

    @property
    def nodes(self) -> int | None:
        return self.run_view.nodes

    @property
    def global_resources(self) -> dict:
        """``{"_cores": N, "_nodes": M}``; workflows may add their own entries."""
        found = self.__dict__.get("_global_resources")
        if found is None:
            found = self.__dict__["_global_resources"] = {"_cores": self.cores,
                                                          "_nodes": self.nodes}
        return found

    attempt = 1  # while the workflow loads (a job's attempt is in its own ``attempt`` argument)

    @property
    def dryrun(self) -> bool:
        return self.run_view.dry_run

    @property
    def touch(self) -> bool:
        return self.run_view.touch

    @property
    def is_main_process(self) -> bool:
        """True where the run is driven from; False where a job's code re-loads the workflow."""
        return self.run_view.main_process

    @property
    def exec_mode(self) -> Any:
        from sciflow.compat.snakemake.settings.types import ExecMode
        return ExecMode.DEFAULT if self.is_main_process else ExecMode.SUBPROCESS

    @property
    def remote_exec(self) -> bool:
        return False

    @property
    def subprocess_exec(self) -> bool:
        return not self.is_main_process

    local_exec = True
    non_local_exec = False
    run_local = True  # Snakemake 7

    @property
    def non_local_exec_or_dryrun(self) -> bool:
        return self.dryrun

    # ---------------------------------------------------------------- config
    @property
    def overwrite_configfiles(self) -> list[Path]:
        """The ``--configfile`` files (absolute paths, as Snakemake 9)."""
        return list(self.run_view.configfiles)

    @property
    def configfiles(self) -> list:
        """``--configfile`` files first, then each ``configfile:`` read so far (as Snakemake)."""
        return [*self.run_view.configfiles, *self.model.configfiles]

    @property
    def overwrite_config(self) -> dict:
        return dict(self.run_view.config)

    # ---------------------------------------------------------------- rules and files
    @property
    def rules(self) -> list:
        return list(self.model.rules.values())

    @property
    def wildcard_constraints(self) -> dict:
        return self.model.wildcard_constraints

    @property
    def envvars(self) -> set[str]:
        return set(self.model.envvars)

    @property
    def workdir_init(self) -> str:
        return self.load_dir

    @property
    def modifier(self) -> SimpleNamespace:
        """Snakemake's ``WorkflowModifier`` of the file being loaded: what helpers read of it
        (``skip_validation``, ``skip_configfile``, ``globals``)."""
        return SimpleNamespace(skip_validation=self.skip_validation, skip_configfile=False,
                               globals=self.model.globals, namespace=None, modules={},
                               wildcard_constraints=self.model.wildcard_constraints)

    # ---------------------------------------------------------------- deployment (Snakemake 7)
    @property
    def use_conda(self) -> bool:
        return self.run_view.use_conda

    @property
    def use_singularity(self) -> bool:
        return self.run_view.use_apptainer

    use_apptainer = use_singularity

    @property
    def use_env_modules(self) -> bool:
        return self.run_view.use_envmodules

    @property
    def conda_prefix(self) -> str | None:
        return self.run_view.conda_prefix

    @property
    def singularity_prefix(self) -> str | None:
        return self.run_view.apptainer_prefix

    singularity_args = ""
    conda_frontend = "conda"
    default_remote_provider = None
    default_remote_prefix = ""
    assume_shared_fs = True
    max_threads = None
    nocolor = False
    debug = False

    @property
    def wrapper_prefix(self) -> str | None:
        return self.run_view.wrapper_prefix

    @property
    def printshellcmds(self) -> bool:
        return self.run_view.printshellcmds

    @property
    def verbose(self) -> bool:
        return self.run_view.verbose

    @property
    def quiet(self) -> bool:
        return self.run_view.quiet

    @property
    def keep_going(self) -> bool:
        return self.run_view.keep_going

    @property
    def latency_wait(self) -> float:
        return self.run_view.latency_wait or 0

    @property
    def restart_times(self) -> int:
        return self.run_view.retries or 0

    @property
    def overwrite_threads(self) -> dict:
        return dict(self.run_view.set_threads)

    @property
    def overwrite_resources(self) -> dict:
        return dict(self.run_view.set_resources)

    @property
    def notemp(self) -> bool:
        return self.run_view.notemp

    @property
    def enable_cache(self) -> bool:
        return self.run_view.cache is not None

    # ---------------------------------------------------------------- Snakemake 8/9 groups
    @property
    def deployment_settings(self) -> SimpleNamespace:
        from sciflow.compat.snakemake.settings.types import DeploymentMethod
        view = self.run_view
        methods = {m for m, on in ((DeploymentMethod.CONDA, view.use_conda),
                                   (DeploymentMethod.APPTAINER, view.use_apptainer),
                                   (DeploymentMethod.ENV_MODULES, view.use_envmodules)) if on}
        return SimpleNamespace(deployment_method=methods, conda_prefix=view.conda_prefix,
                               conda_frontend="conda", conda_base_path=None,
                               conda_not_block_search_path_envvars=False,
                               apptainer_args="", apptainer_prefix=view.apptainer_prefix)

    @property
    def workflow_settings(self) -> SimpleNamespace:
        return SimpleNamespace(wrapper_prefix=self.run_view.wrapper_prefix,
                               exec_mode=self.exec_mode, cache=self.run_view.cache,
                               consider_ancient={})

    @property
    def resource_settings(self) -> SimpleNamespace:
        view = self.run_view
        return SimpleNamespace(cores=self.cores, nodes=view.nodes, local_cores=self.cores,
                               max_threads=None, resources=self.global_resources,
                               overwrite_threads=dict(view.set_threads),
                               overwrite_scatter={}, overwrite_resources=dict(view.set_resources),
                               default_resources=view.default_resources)

    @property
    def output_settings(self) -> SimpleNamespace:
        view = self.run_view
        return SimpleNamespace(dryrun=view.dry_run, printshellcmds=view.printshellcmds,
                               nocolor=False, quiet=view.quiet, verbose=view.verbose,
                               debug_dag=False, show_failed_logs=False,
                               benchmark_extended=False)

    @property
    def execution_settings(self) -> SimpleNamespace:
        view = self.run_view
        return SimpleNamespace(latency_wait=self.latency_wait, keep_going=view.keep_going,
                               keep_incomplete=view.keep_incomplete, retries=self.restart_times,
                               attempt=1, shadow_prefix=view.shadow_prefix,
                               edit_notebook=None, cleanup_scripts=True,
                               use_threads=False)

    @property
    def storage_settings(self) -> SimpleNamespace:
        from sciflow.compat.snakemake.settings.types import SharedFSUsage
        view = self.run_view
        return SimpleNamespace(default_storage_provider=None, default_storage_prefix="",
                               shared_fs_usage=frozenset(SharedFSUsage),
                               keep_storage_local=False, notemp=view.notemp,
                               all_temp=view.all_temp, assume_shared_fs=True)

    @property
    def dag_settings(self) -> SimpleNamespace:
        return SimpleNamespace(targets=set(), forceall=False, forcerun=set(), until=set(),
                               omit_from=set(), max_inventory_wait_time=20)

    @property
    def config_settings(self) -> SimpleNamespace:
        view = self.run_view
        return SimpleNamespace(config=dict(view.config), configfiles=list(view.configfiles),
                               config_args=[], replace_workflow_config=False)

    @property
    def scheduling_settings(self) -> SimpleNamespace:
        return SimpleNamespace(prioritytargets=set(), scheduler="greedy",
                               max_jobs_per_second=None, greediness=1.0)


__all__ = ["RunView", "run_settings", "current_run", "view_of", "caller_loc",
           "SnakemakeWorkflowAttributes"]
