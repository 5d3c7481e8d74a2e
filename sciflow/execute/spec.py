"""Turn a planned ``Job`` into a plain, picklable ``JobSpec`` for a worker.

Everything that needs the live workflow namespace happens here, on the client: the shell
command is formatted (so an unknown ``{name}`` is a ``RuleError`` at the rule's line before
anything runs), script paths are resolved relative to the file that declared the rule, and
``runtime`` becomes a timeout. The worker only ever sees strings, numbers and NamedLists.

Two ways to write outputs:

* default, as Snakemake: the command names the real output paths (so a command that writes
  ``{output}`` into a file's content produces exactly Snakemake's file); existing outputs are
  removed before the job and the scheduler removes a failed job's outputs (unless
  ``--keep-incomplete``), with incomplete markers covering crashes.
* ``atomic_outputs=True``: the command that actually runs (``JobSpec.exec_command``) names
  each output by its temp path ``<dir>/.sciflow-tmp.<key>/<basename>`` (same directory, so
  ``os.replace`` is atomic and tools that append extensions to ``{output}`` prefixes still
  work); outputs appear all at once or not at all, even if Dask runs a task twice. The cost:
  a command that prints ``{output}`` into a file writes the temp path there.

``JobSpec.command`` always shows the real paths, for logs and provenance.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections import ChainMap
from typing import Any, MutableMapping

from sciflow.execute.base import JobSpec
from sciflow.execute.script import job_resources
from sciflow.execute.shell import format_shell, shell
from sciflow.jobs import Job
from sciflow.errors import RuleError
from sciflow.model import NamedList, Workflow

TEMP_PREFIX = ".sciflow-tmp."


def temp_path(path: str, key: str) -> str:
    """Where a job attempt writes ``path`` before it is moved into place."""
    head, tail = os.path.split(path.rstrip("/") or path)
    return os.path.join(head, TEMP_PREFIX + key, tail)


def job_key(job: Job, attempt: int = 1) -> str:
    """``sciflow-<rule>-<short hash of outputs>-a<attempt>``: unique per job and attempt."""
    outputs = [str(f) for f in job.output]
    if not outputs:  # jobs without outputs: the wildcards and id make them distinct
        outputs = [f"#{job.jobid}", *(f"{k}={v}" for k, v in job.wildcards.items())]
    digest = hashlib.sha1("\0".join([job.rule.name, *outputs]).encode()).hexdigest()[:12]
    return f"sciflow-{job.rule.name}-{digest}-a{attempt}"


def runtime_seconds(value: Any) -> float | None:
    """Snakemake's ``runtime`` resource (minutes, or a string like ``"90s"``, ``"2h"``) in seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value) * 60 if value > 0 else None
    match = re.fullmatch(r"\s*([\d.]+)\s*([smhd]?)\w*\s*", str(value))
    if not match:
        return None
    scale = {"": 60, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * scale


def output_flags(job: Job, index: int, value: Any) -> frozenset[str]:
    """Flags of the ``index``-th output (on the path itself, else on the rule's pattern)."""
    flags = getattr(value, "flags", None)
    if flags:
        return frozenset(flags)
    patterns = job.rule.output
    if len(patterns) == len(job.output):
        return frozenset(getattr(patterns[index], "flags", ()) or ())
    return frozenset()


def _flag_meta(job: Job, index: int, value: Any, name: str) -> Any:
    """The value of flag ``name`` on the ``index``-th output (path first, then pattern)."""
    meta = getattr(value, "meta", None) or {}
    if name not in meta and len(job.rule.output) == len(job.output):
        meta = getattr(job.rule.output[index], "meta", None) or {}
    return meta.get(name)


def _ensured(job: Job, index: int, value: Any) -> tuple[str, bool, str | None, str | None]:
    """``ensure(f, non_empty=..., sha256=...)``: what the worker checks after the job. A
    checksum function is called here with the job's wildcards, as Snakemake does."""
    meta = _flag_meta(job, index, value, "ensure") or {}
    checksum, algorithm = meta.get("checksum"), meta.get("checksum_algorithm")
    if callable(checksum):
        try:
            checksum = checksum(job.wildcards)
        except Exception as exc:  # user code
            raise RuleError(f"the checksum function given to ensure() for {value} raised "
                            f"{type(exc).__name__}: {exc}", job.rule.loc_of("output")) from None
    if algorithm and algorithm not in hashlib.algorithms_available:
        raise RuleError(f"ensure(): unknown checksum algorithm {algorithm!r}",
                        job.rule.loc_of("output"))
    return (str(value), bool(meta.get("non_empty")), algorithm or None,
            str(checksum).strip().lower() if checksum is not None else None)


def _refuse_unsupported(job: Job, flags: frozenset[str], value: Any) -> None:
    """``pipe()`` and ``service()`` outputs need their consumers started at the same time as
    the producer (one group of jobs on one node); sciflow's scheduler runs a job only after
    its inputs exist, so they would deadlock or silently become plain files: refuse them."""
    for name, what in (("pipe", "a named pipe streamed to a job running at the same time"),
                       ("service", "a service kept running while its consumers run")):
        if name in flags:
            raise RuleError(
                f"rule {job.rule.name!r}: {name}({str(value)!r}) is not supported by sciflow "
                f"({what})",
                job.rule.loc_of("output"),
                hint=f"Write a regular file instead of {name}(), or merge the producing and "
                     "consuming commands into one rule (e.g. 'a | b' in one shell command).")


def resolve_script(source: str, workflow: Workflow, job: Job, workdir: str) -> str:
    """A ``script:`` path is relative to the directory of the file that declared the rule."""
    if os.path.isabs(source):
        return source
    declared = job.rule.loc.path or workflow.path
    candidates = [os.path.join(os.path.dirname(os.path.abspath(declared)), source)]
    if not os.path.isabs(declared):  # the path may be relative to the working directory
        candidates.append(os.path.join(workdir, os.path.dirname(declared), source))
    candidates.append(os.path.join(os.path.dirname(os.path.abspath(workflow.path)), source))
    for candidate in candidates:
        if os.path.exists(candidate):
            return os.path.normpath(candidate)
    return os.path.normpath(candidates[0])


def resolve_conda(env: Any, workflow: Workflow, job: Job, workdir: str) -> str | None:
    """An environment file is relative to the rule's file, as a script; names stay names."""
    if not env:
        return None
    env = str(env)
    if env.endswith((".yaml", ".yml")):
        return resolve_script(env, workflow, job, workdir)
    return env


def _resources(job: Job) -> NamedList:
    """Resources as Snakemake formats them (``{resources.mem_mb}``, ``resources.tmpdir``,
    ``{resources._cores}``)."""
    return job_resources((1 if job.threads is None else int(job.threads)),
                         {"tmpdir": tempfile.gettempdir(), **dict(job.resources)})


def namespace(job: Job, workflow: Workflow,
              output: NamedList | None = None) -> MutableMapping[str, Any]:
    """The names a ``shell:`` command (or a script path) is formatted with: the job's own,
    then the workflow's globals (Snakemake formats with the Snakefile's namespace too, so
    ``X = "a"`` at top level makes ``{X}`` work). A view, not a copy, of the globals; the
    result is a plain string, so the job spec stays picklable."""
    job_names = {
        "input": job.input, "output": job.output if output is None else output,
        "params": job.params, "wildcards": job.wildcards, "threads": job.threads,
        "resources": _resources(job), "log": job.log, "config": workflow.config,
        "rule": job.rule.name, "jobid": job.jobid,
        "bench_iteration": None,  # benchmark: the run's index (sciflow.execute.deploy)
    }
    return ChainMap(job_names, workflow.globals or {})


def make_spec(job: Job, workflow: Workflow, workdir: str, attempt: int = 1, *,
              use_conda: bool = False, use_apptainer: bool = False,
              atomic_outputs: bool = False, settings: Any = None) -> JobSpec:
    """Describe one attempt of ``job`` for a worker (see the module docstring)."""
    from sciflow.execute.deploy import apply, before_format
    before_format(job, settings)  # handover: threads = all cores, before {threads} is formatted
    rule = job.rule
    key = job_key(job, attempt)
    directory_outputs, touch_outputs, ensure_outputs, update_outputs = [], [], [], []
    for i, value in enumerate(job.output):
        flags = output_flags(job, i, value)
        _refuse_unsupported(job, flags, value)
        if "ensure" in flags:
            ensure_outputs.append(_ensured(job, i, value))
        if "directory" in flags:
            directory_outputs.append(str(value))
        if "touch" in flags:
            touch_outputs.append(str(value))
        if "update" in flags:
            update_outputs.append(str(value))
    action = rule.action.kind if rule.action else None
    action = getattr(action, "value", action)
    command = exec_command = script = None
    if action == "shell":
        source = rule.action.source
        loc = rule.action.loc or rule.loc
        command = format_shell(source, namespace(job, workflow), loc, rule.name)
        exec_command = shell.wrap(command)
        if atomic_outputs:
            # an update() output is changed in place: the action gets the real path
            temp_output = job.output.map(
                lambda f: str(f) if str(f) in update_outputs else temp_path(str(f), key))
            exec_command = shell.wrap(format_shell(source, namespace(job, workflow, temp_output),
                                                   loc, rule.name))
    elif action in ("script", "notebook"):
        source = rule.action.source
        if "{" in source:
            source = format_shell(source, namespace(job, workflow), rule.action.loc or rule.loc,
                                  rule.name)
        script = resolve_script(source, workflow, job, workdir)
        command = script
    elif action == "run":  # the run: code (template_engine: rules are compiled to run: code)
        command = rule.action.source
    spec = JobSpec(
        jobid=job.jobid, rule=rule.name, key=key, workdir=os.path.abspath(workdir),
        workflow_path=os.path.abspath(workflow.path), action=action, command=command,
        script=script, input=_plain(job.input), output=_plain(job.output),
        params=job.params, log=_plain(job.log), wildcards=job.wildcards.as_dict(),
        threads=(1 if job.threads is None else int(job.threads)), resources=dict(job.resources), benchmark=job.benchmark,
        config=workflow.config, directory_outputs=tuple(directory_outputs),
        touch_outputs=tuple(touch_outputs), ensure_outputs=tuple(ensure_outputs),
        update_outputs=tuple(update_outputs),
        attempt=attempt,
        timeout_s=runtime_seconds(job.resources.get("runtime")),
        env={name: os.environ[name] for name in workflow.envvars if name in os.environ},
        conda=resolve_conda(rule.conda, workflow, job, workdir), container=rule.container,
        exec_command=exec_command,
        use_conda=use_conda, use_apptainer=use_apptainer, temp_outputs=atomic_outputs,
    )
    # wrapper:, conda envs, envmodules, shadow, benchmark repeat, handover (``settings``: an
    # ``ActionSettings`` from the engine; None outside a run)
    return apply(spec, job, workflow, settings)


def _plain(files: NamedList | None) -> NamedList:
    """The same NamedList with plain ``str`` items (flags travel separately)."""
    if files is None:
        return NamedList()
    return files.map(lambda f: str(f) if isinstance(f, str) else f)
