"""The rest of Snakemake 9's workflow namespace, and a clear error for what sciflow leaves out.

Snakemake runs a Snakefile in the module globals of ``snakemake/workflow.py``: besides the
language's helpers, a Snakefile sees every name that module imports (``json``,
``datetime``, ``namedtuple``, ``partial``, ``Path``, ``WorkflowError``, the ``snakemake``
package itself...), and published Snakefiles use some of them without importing them.
:func:`snakemake_globals` gives the ones that belong to the workflow language or are plain
Python; ``sciflow.helpers.build_namespace`` adds the rest of the language.

What remains are Snakemake's own machinery (``DAG``, ``JobScheduler``, ``DAGSettings``,
persistence and plugin classes, the functions its generated code calls). A workflow that names
one of them gets a ``NameError`` that says so (:func:`workflow_builtins`), instead of a bare
"not defined" that suggests a typo.
"""
from __future__ import annotations

import builtins
import collections
import collections.abc
import copy
import dataclasses
import datetime
import functools
import itertools
import json
import linecache
import tarfile
import threading
import typing
from pathlib import Path
from typing import Any

# Names in Snakemake 9's workflow globals that are its machinery, not its language: a
# workflow naming one gets NameError with this explanation.
SNAKEMAKE_INTERNALS = frozenset({
    "CacheFlag", "ChangeType", "Checkpoints", "Conda", "ConfigSettings", "DAG", "DAGSettings",
    "DbPersistence", "DeploymentSettings", "ExecutionSettings", "ExecutorPlugin",
    "ExecutorSettingsBase", "FilePersistence", "Gather", "GlobalReportSettings",
    "GreedySchedulerSettings", "GroupSettings", "HostingProviderFile", "InOutput",
    "JobScheduler", "LocalOutputFileCache", "LocalSourceFile", "LogEvent", "LoggerManager",
    "MissingOutputFileCachePathException", "ModuleInfo", "NOTHING_TO_BE_DONE_MSG",
    "OutputSettings", "Pathvars", "PersistenceBackend", "PersistenceBase", "Quietness",
    "RemoteExecutionSettings", "ReportPlugin", "ReportSettingsBase", "RerunTrigger",
    "ResourceScopes", "ResourceSettings", "Resources", "RuleCache", "RuleInfo", "RuleProxy",
    "Ruleorder", "Rules", "Scatter", "SchedulerPlugin", "SchedulerSettingsBase",
    "SchedulingSettings", "SourceArchiveInfo", "SourceCache", "SourceFile",
    "SpawnedJobArgsFactoryExecutorInterface", "StorageOutputFileCache", "StorageSettings",
    "TaggedSettings", "WorkdirHandler", "Workflow", "WorkflowExecutorInterface",
    "WorkflowModifier", "WorkflowSettings", "api", "async_runner", "caching", "cwl", "dis",
    "format_resources", "get_appdirs", "get_name_modifier_func", "infer_source_file",
    "is_local_file", "jobs_to_rulenames", "lazy_property", "not_iterable", "notebook", "parse",
    "render_template", "script", "smart_join", "sourcecache", "sourcecache_entry",
    "update_lineno", "wrapper",
})


def snakemake_globals() -> dict[str, Any]:
    """Snakemake 9 workflow globals that sciflow's core namespace does not already have."""
    from concurrent.futures import ThreadPoolExecutor

    import sciflow.compat.snakemake as snakemake_package
    from sciflow.compat.snakemake import exceptions
    from sciflow.compat.snakemake.io import from_queue
    from sciflow.compat.snakemake.ioflags import AccessPatternFactory, before_update, update
    from sciflow.compat.snakemake.ioutils import (as_py_module, choose_file, choose_folder,
                                                  choose_tmp, prepend_param, subpath)
    from sciflow.compat.snakemake.settings.types import (DeploymentMethod, ExecMode,
                                                         SharedFSUsage)
    from sciflow.compat.snakemake.utils import simplify_path
    from sciflow.model import IOFile, Rule, flag

    return {
        # the language (Snakemake 8/9 helpers and flags)
        "access": AccessPatternFactory, "AccessPatternFactory": AccessPatternFactory,
        "update": update, "before_update": before_update, "from_queue": from_queue,
        "subpath": subpath, "prepend_param": prepend_param, "choose_file": choose_file,
        "choose_folder": choose_folder, "choose_tmp": choose_tmp, "as_py_module": as_py_module,
        "flag": flag, "IOFile": IOFile, "Rule": Rule, "simplify_path": simplify_path,
        "snakemake": snakemake_package,
        # exceptions workflows raise or catch without importing them
        "WorkflowError": exceptions.WorkflowError, "RuleException": exceptions.RuleException,
        "CreateRuleException": exceptions.CreateRuleException,
        "UnknownRuleException": exceptions.UnknownRuleException,
        "NoRulesException": exceptions.NoRulesException,
        "CreateCondaEnvironmentException": exceptions.WorkflowError,
        "ResourceValidationError": exceptions.WorkflowError,
        "ResourceConversionError": exceptions.WorkflowError,
        "ResourceDuplicationError": exceptions.WorkflowError,
        # settings enums (``DeploymentMethod.CONDA in workflow.deployment_settings...``)
        "DeploymentMethod": DeploymentMethod, "ExecMode": ExecMode,
        "SharedFSUsage": SharedFSUsage, "ON_WINDOWS": False,
        # plain Python that workflow.py imports
        "json": json, "datetime": datetime.datetime, "namedtuple": collections.namedtuple,
        "OrderedDict": collections.OrderedDict, "partial": functools.partial,
        "chain": itertools.chain, "filterfalse": itertools.filterfalse,
        "dataclass": dataclasses.dataclass, "field": dataclasses.field, "copy": copy,
        "tarfile": tarfile, "threading": threading, "linecache": linecache, "Path": Path,
        "ThreadPoolExecutor": ThreadPoolExecutor, "Callable": typing.Callable,
        "Dict": typing.Dict, "List": typing.List, "Set": typing.Set,
        "Iterable": typing.Iterable, "Iterator": collections.abc.Iterator,
        "Mapping": collections.abc.Mapping, "Optional": typing.Optional,
        "Union": typing.Union,
    }


class _WorkflowBuiltins(dict):
    """Python's builtins plus sciflow's ``__import__`` (see :mod:`sciflow.compat`), whose
    misses explain Snakemake-internal names. A ``dict`` subclass makes Python look names up
    through ``__getitem__``, so ``__missing__`` is asked only for names found nowhere."""

    def __missing__(self, name: str) -> Any:
        if name in SNAKEMAKE_INTERNALS:
            message = (f"name {name!r} is not defined: it is part of Snakemake's own "
                       "machinery (a global of snakemake/workflow.py), not of its workflow "
                       "language, and sciflow does not provide it")
        else:
            message = f"name {name!r} is not defined"
        raise NameError(message, name=name)

    def __reduce__(self):  # pickled functions refer to builtins by module, never by this dict
        return (dict, (dict(self),))


def workflow_builtins() -> dict[str, Any]:
    """The ``__builtins__`` of the workflow namespace."""
    from sciflow.compat import compat_import

    return _WorkflowBuiltins({**builtins.__dict__, "__import__": compat_import})


__all__ = ["snakemake_globals", "workflow_builtins", "SNAKEMAKE_INTERNALS"]
