"""An action's processes on a worker: started behind their environment wrapper, each in its
own session (one process group to kill), guarded while they run, measured when they end.

* the wrapper: ``apptainer exec`` / ``conda run`` / ``module load`` in front of the command,
  when the job asks for it (``sciflow.execute.envs.command_prefix``);
* ``run_command``: the process starts in a new session, is recorded for the worker's watcher
  (``procguard.JobRecord``: it dies with the worker or the run), killed as a group when it
  exceeds ``runtime`` (``procguard.TimeLimit``), its peak memory sampled (``RssWatch``) and,
  with ``benchmark:``, measured in full (``Monitor``);
* ``guarded_notebook_client``: a notebook's kernel gets the same guard the moment it exists.

Deciding what a finished process means for the job (failed, timed out) is the runner's.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from sciflow.errors import JobFailedError
from sciflow.execute import procguard
from sciflow.execute.base import JobSpec
from sciflow.execute.envs import command_prefix
from sciflow.execute.monitor import Monitor, RssWatch
from sciflow.execute.procguard import HOST


def environment_wrapper(spec: JobSpec) -> list[str]:
    """``apptainer exec``/``conda run``/``module load`` in front of the command, when asked
    for (see ``sciflow.execute.envs``)."""
    return command_prefix(spec, HOST)


@dataclass(slots=True)
class Finished:
    """How a command's process ended."""

    returncode: int
    max_rss_mb: float | None              # peak resident memory of its process tree
    timed_out: bool                       # killed by its runtime limit
    benchmark: dict[str, Any] | None      # the full record, when a benchmark was asked for


def run_command(argv: list[str], spec: JobSpec, cwd: str, log_path: str,
                record: procguard.JobRecord, t0: float,
                extra_env: dict[str, str] | None = None) -> Finished:
    """Run ``argv`` in ``cwd`` with stdout and stderr to ``log_path``; wait for it (see the
    module docstring). Raises ``JobFailedError`` only if it cannot be started."""
    env = None
    if spec.env or extra_env:
        env = {**os.environ, **spec.env, **(extra_env or {})}
    with open(log_path, "wb") as logf:
        try:
            # own session (one group to kill), guarded by the worker's watcher (see
            # sciflow.execute.procguard); no preexec_fn: it would cost a full fork
            proc = subprocess.Popen(argv, cwd=cwd, stdout=logf, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        except FileNotFoundError as err:
            raise JobFailedError(f"cannot start {argv[0]!r}: {err.strerror}") from None
        record.process_started(proc.pid)
        killer = procguard.TimeLimit(proc.pid, spec.timeout_s)
        monitor = Monitor(proc.pid) if spec.benchmark else None
        peak = RssWatch.watch(proc.pid)
        try:
            _, status = os.waitpid(proc.pid, 0)
        finally:
            killer.cancel()
            record.process_ended()  # its leftovers die with it
            RssWatch.unwatch(proc.pid)
            if monitor:
                monitor.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
    # (not wait4's ru_maxrss: a forked child is charged its parent's pages until exec)
    max_rss = peak[0] or None
    bench = None
    if monitor:
        bench = monitor.record(time.time() - t0)
        max_rss = max(max_rss or 0.0, monitor.max["rss"]) or None
    return Finished(proc.returncode, max_rss, killer.fired, bench)


def guarded_notebook_client(base: type) -> type:
    """nbclient's client whose kernel is guarded as a ``script:`` job's process: Jupyter
    starts the kernel in its own session (one process group holding whatever the notebook
    starts); that group is recorded and registered with the worker's watcher the moment the
    kernel exists, so it is killed when the worker or the run dies (procguard)."""

    class GuardedNotebookClient(base):  # type: ignore[misc, valid-type]
        sciflow_record: procguard.JobRecord | None = None

        async def async_start_new_kernel(self, **kwargs: Any) -> None:
            await super().async_start_new_kernel(**kwargs)
            pid = kernel_pid(self.km)
            if pid and self.sciflow_record is not None:
                self.sciflow_record.process_started(pid)

    return GuardedNotebookClient


def kernel_pid(manager: Any) -> int | None:
    """The kernel process of a jupyter_client kernel manager (its process group's leader)."""
    provisioner = getattr(manager, "provisioner", None)
    process = getattr(provisioner, "process", None) or getattr(manager, "kernel", None)
    pid = getattr(process, "pid", None) or getattr(provisioner, "pid", None)
    if not pid:
        return None
    try:
        return pid if os.getpgid(pid) == pid else None  # its own group, as Jupyter starts it
    except OSError:
        return None
