"""Software environments a job runs in: conda (``--use-conda``), apptainer/singularity
containers (``--use-apptainer``) and environment modules (``--use-envmodules``).

Snakemake's rules, kept here:

* without the ``--use-*`` flag the directive is ignored (it is still recorded in provenance);
* with the flag, a missing tool is an error *before any job runs* (``DeploymentError``), not a
  failure of every job;
* a conda ``environment.yaml`` is created once, under a directory named by the hash of the
  file's content, below ``--conda-prefix`` (default ``.sciflow/conda/`` in the working
  directory, Snakemake's ``.snakemake/conda/``). Environments are created on the client, before
  jobs are submitted, so that parallel jobs never race to build the same one; a lock file
  guards against a second sciflow run doing the same at the same moment.
* a name (``conda: "myenv"``) or a directory (``conda: "/opt/envs/x"``) is an existing
  environment, used as it is.

How a job is placed inside: the command's argv gets a prefix (``conda run -p ENV``,
``apptainer exec IMAGE``, ``bash -c 'module load …; exec "$@"'``), composed by
``command_prefix``; the worker calls it, the client only checks and creates.
"""
from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import subprocess
from typing import Any, Iterable

from sciflow import hashing, layout
from sciflow.errors import DeploymentError, JobFailedError
from sciflow.model import SourceLoc

CONDA_FRONTENDS = ("conda", "mamba", "micromamba")
CONTAINER_RUNTIMES = ("apptainer", "singularity")
ENV_FILE_SUFFIXES = (".yaml", ".yml")
CREATE_LOG_TAIL = 20


# --------------------------------------------------------------------------- conda
def conda_frontend(preferred: str | None = None) -> str | None:
    """``preferred`` (``--conda-frontend``) if given, else the first of conda, mamba,
    micromamba on PATH (Snakemake's default order)."""
    for name in ((preferred,) if preferred else CONDA_FRONTENDS):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def is_env_file(env: str) -> bool:
    return str(env).endswith(ENV_FILE_SUFFIXES)


def conda_prefix_dir(workdir: str, conda_prefix: str | None = None) -> str:
    """Where environments built from files live: ``--conda-prefix`` or ``.sciflow/conda``."""
    if conda_prefix:
        return os.path.abspath(os.path.join(workdir, os.path.expanduser(conda_prefix)))
    return layout.conda_dir(workdir)


def env_hash(env_file: str) -> str:
    """The hash naming an environment: its file's content, so an edited file gets a new
    environment and the same file in two workflows shares one."""
    return hashing.sha256_file(env_file)[:16]


def env_path(env_file: str, workdir: str, conda_prefix: str | None = None) -> str:
    """The directory the environment of ``env_file`` is (or will be) created in."""
    return os.path.join(conda_prefix_dir(workdir, conda_prefix), env_hash(env_file))


def is_created(prefix: str) -> bool:
    return os.path.isdir(os.path.join(prefix, "conda-meta"))


def cleanup_packages(exe: str, mode: str | None) -> None:
    """``--conda-cleanup-pkgs``: after environments were created, remove the downloaded
    tarballs (``tarballs``), and the unused package caches too (``cache``), as Snakemake."""
    if not mode or os.path.basename(exe) == "micromamba" and mode == "tarballs":
        return
    argv = [exe, "clean", "--yes", "--tarballs", *(["--packages"] if mode == "cache" else [])]
    subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def create_env(exe: str, env_file: str, prefix: str, rule: str = "",
               loc: SourceLoc | None = None) -> str:
    """Create the environment of ``env_file`` at ``prefix`` unless it exists; return it."""
    if is_created(prefix):
        return prefix
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    with open(prefix + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be creating it right now
        if is_created(prefix):
            return prefix
        if os.path.isdir(prefix):  # a half-created environment from an interrupted run
            shutil.rmtree(prefix, ignore_errors=True)
        if os.path.basename(exe) == "micromamba":
            argv = [exe, "create", "--yes", "-p", prefix, "-f", env_file]
        else:
            argv = [exe, "env", "create", "--yes", "-p", prefix, "-f", env_file]
        proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0 or not is_created(prefix):
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-CREATE_LOG_TAIL:])
            raise DeploymentError(
                f"rule {rule!r}: cannot create the conda environment of {env_file} "
                f"({' '.join(argv)} exited with status {proc.returncode}):\n{tail}", loc,
                hint="Check the environment file and that its channels are reachable.")
    return prefix


def conda_run(exe: str, env: str) -> list[str]:
    """argv prefix running a command inside ``env`` (a prefix directory or a name)."""
    where = ["-p", env] if (os.sep in env or os.path.isdir(env)) else ["-n", env]
    if os.path.basename(exe) == "micromamba":
        return [exe, "run", *where]
    return [exe, "run", "--no-capture-output", *where]


# --------------------------------------------------------------------------- containers
def container_runtime() -> str | None:
    for name in CONTAINER_RUNTIMES:
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def container_exec(exe: str, image: str, workdir: str, args: str = "") -> list[str]:
    """argv prefix running a command in ``image`` with the working directory bound and
    current (as Snakemake: ``--home`` is the working directory)."""
    return [exe, "exec", "--home", workdir, "--bind", workdir, "--pwd", workdir,
            *shlex.split(args or ""), image]


# --------------------------------------------------------------------------- env modules
def modules_available() -> bool:
    """Is the ``module`` command (a shell function of Lmod / Environment Modules) defined
    for a non-interactive bash, as the job's shell will be?"""
    bash = shutil.which("bash")
    if bash is None:
        return False
    proc = subprocess.run([bash, "-c", "type module"], capture_output=True,
                          stdin=subprocess.DEVNULL)
    return proc.returncode == 0


def modules_wrap(modules: Iterable[str]) -> list[str]:
    """argv prefix loading ``modules`` then running the rest of the argv. Unlike Snakemake
    (``module load …; cmd``) a module that fails to load fails the job instead of running the
    command with whatever software happens to be on PATH."""
    names = " ".join(shlex.quote(m) for m in modules)
    return ["bash", "-c", f'module purge && module load {names} && exec "$@"',
            "sciflow-envmodules"]


# --------------------------------------------------------------------------- the worker side
def command_prefix(spec: Any, host: str = "") -> list[str]:
    """What goes in front of a job's argv on the worker: modules, conda, container
    (outermost first: the container runs conda, which runs the command)."""
    prefix: list[str] = []
    if getattr(spec, "use_apptainer", False) and spec.container:
        exe = container_runtime()
        if not exe:
            raise JobFailedError(
                f"--use-apptainer: apptainer is not installed on {host}; cannot run rule "
                f"{spec.rule!r} in container {spec.container}",
                hint="Install apptainer on the workers, or run without --use-apptainer.")
        prefix += container_exec(exe, spec.container, spec.workdir,
                                 getattr(spec, "apptainer_args", "") or "")
    if getattr(spec, "use_conda", False) and spec.conda:
        exe = conda_frontend()
        if not exe:
            raise JobFailedError(
                f"--use-conda: conda is not installed on {host}; cannot run rule "
                f"{spec.rule!r} in environment {spec.conda}",
                hint="Install conda (or mamba) on the workers, or run without --use-conda.")
        env = spec.conda
        if is_env_file(env):  # not created by the client (e.g. a remote worker's own path)
            env = create_env(exe, env, env_path(env, spec.workdir,
                                                getattr(spec, "conda_prefix", None)), spec.rule)
        prefix += conda_run(exe, env)
    modules = tuple(getattr(spec, "envmodules", ()) or ())
    if modules:
        prefix += modules_wrap(modules)
    return prefix
