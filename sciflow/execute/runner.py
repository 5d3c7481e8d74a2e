"""Run one job attempt inside a Dask worker process: ``run_job(spec) -> JobResult``.

Outputs, two modes (see ``sciflow.execute.spec``):

* default, as Snakemake: existing outputs are removed before the action runs with the real
  paths; afterwards each output must exist (and is fsync'ed). A failed job's outputs are left
  for the scheduler, which removes them unless ``--keep-incomplete``.
* ``spec.temp_outputs``: outputs appear all at once or not at all. The action writes each
  output to a temp path in the output's own directory (``<dir>/.sciflow-tmp.<key>/<name>``);
  on success every temp file is fsync'ed and ``os.replace``d into place, on failure the temp
  files are removed. A command that ignored ``{output}`` and wrote the final path itself is
  accepted if that file changed after the job started.

``run_job`` never raises: whatever goes wrong becomes a ``JobResult`` with ``ok=False``, a
user-facing ``error`` and the tail of the job's log, so the client can report it.

Actions: ``shell`` (``bash -c`` in its own process group; ``runtime`` kills the group),
``run`` (the workflow is loaded once per worker process and the rule's function looked up;
the worker never receives the live namespace), ``script`` (Python, in a fresh interpreter with
the ``snakemake`` object injected, see ``sciflow.execute.script``) and ``notebook`` (nbclient).

This module is the attempt itself: preparing and committing its outputs, choosing the action,
turning what happened into a ``JobResult``. Its neighbours hold the other concerns:
``processes`` (starting a command in its own session behind the conda/apptainer/modules
wrapper, time limit, memory), ``procguard`` (killing process groups), ``stdout`` (routing a
``run:`` block's output to its job's log), ``runblock`` (loading ``run:`` functions on a
worker) and ``monitor`` (benchmark and memory sampling).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable

from sciflow import hashing, layout
from sciflow.confine import safe_remove
from sciflow.errors import ConfinementError
from sciflow.errors import (JobError, JobFailedError, JobTimeoutError, MissingDependencyError,
                            MissingOutputError)
from sciflow.events import JobResult
from sciflow.execute import procguard
from sciflow.execute.base import JobSpec
from sciflow.execute.deploy import NOTEBOOK_HINT
from sciflow.execute.hpc import batch_job_id
from sciflow.execute.monitor import Monitor, empty_record, write_benchmark
from sciflow.execute.processes import environment_wrapper, guarded_notebook_client, run_command
from sciflow.execute.procguard import HOST
from sciflow.execute.runblock import user_traceback, with_bench_iteration, workflow_function
from sciflow.execute.script import (MODULES_ENV, call_recording_software, job_resources,
                                    make_snakemake, script_source, versions)
from sciflow.execute import cache, shadow
from sciflow.execute.shell import commands_run
from sciflow.execute.spec import TEMP_PREFIX, temp_path
from sciflow.execute.stdout import job_output
from sciflow.model import NamedList, Wildcards
from sciflow.hashing import sha256_fd, version_of

LOG_TAIL_LINES = 20
MAX_ARG_BYTES = 16 * 4096 - 1  # longer shell commands run from a file (as Snakemake's)
MTIME_SLACK_S = 0.05      # file systems stamp mtimes from a coarse clock


def run_job(spec: JobSpec) -> JobResult:
    """Run ``spec`` and report; never raises (see the module docstring)."""
    started = datetime.now(timezone.utc)
    t0 = time.time()
    result = JobResult(jobid=spec.jobid, ok=False, started=started, ended=started,
                       attempt=spec.attempt, command=spec.command, host=HOST,
                       worker=_worker_address(), exit_code=None, key=spec.key)
    batch = batch_job_id()
    if batch:  # the batch job (SLURM, PBS, LSF, SGE) this worker runs in, for provenance
        result.batch_system, result.batch_job_id = batch
    if procguard.stop_requested(spec.run_dir):  # the run failed or was stopped meanwhile
        result.error = f"job {spec.jobid} ({spec.rule}) was cancelled before it started"
        result.cancelled = True
        return result
    job = _Attempt(spec, t0)
    result.stdout_log = job.capture_log
    try:
        job.prepare()
        if not cache.restore_attempt(job, result):  # --cache: a stored result, not the action
            shadow.enter(job)                        # shadow: a scratch directory
            job.execute(result)
            shadow.leave(job, ok=True)
        job.commit()
        cache.store_attempt(job, result)
        if job.digests:
            result.digests = job.digests
        result.ok = True
        result.exit_code = 0 if result.exit_code is None else result.exit_code
    except JobError as err:
        result.error = err.format()
        result.error_type = type(err).__name__
        result.log_tail = err.log_tail or job.log_tail()
    except BaseException as err:  # a bug or an OS error: still a failed job, never a crash
        result.error = f"{type(err).__name__}: {err}"
        result.error_type = type(err).__name__
        result.log_tail = user_traceback(err, spec) or job.log_tail()
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            result.interrupted = True
    finally:
        if not result.ok:
            shadow.leave(job, ok=False)
            if spec.stop_run_on_failure:  # before this worker picks its next job
                procguard.request_stop(spec.run_dir)
            job.discard()
        job.cleanup()
        job.record.done()
        result.ended = datetime.now(timezone.utc)
    return result


def _worker_address() -> str:
    if "distributed" not in sys.modules:  # not inside a Dask worker; don't pay the import
        return ""
    from distributed import get_worker
    try:
        return get_worker().address
    except ValueError:  # imported, but this is not a worker's thread
        return ""


class _Attempt:
    """The files of one job attempt: where outputs go first, where they end, its logs."""

    def __init__(self, spec: JobSpec, t0: float) -> None:
        self.spec = spec
        self.t0 = t0
        self.workdir = spec.workdir
        self.cwd = spec.workdir                     # where the action runs (shadow: elsewhere)
        self.shadow: shadow.Shadow | None = None
        self.bench_iteration: int | None = None
        self.benchmark_records: list[dict[str, Any]] = []
        self.outputs = [str(o) for o in (spec.output or ())]
        self.directories = set(spec.directory_outputs)
        self.capture_log = layout.job_log(self.workdir, spec.rule, spec.jobid)
        self.temp_dirs: set[str] = set()
        self.digests: dict[str, tuple[int, int, int, str]] = {}  # output -> version + sha256
        self.record = procguard.JobRecord(spec.run_dir, spec.key)  # "this attempt started"
        self.run_function: Callable[..., Any] | None = None   # run: jobs (see prepare)

    def abs(self, path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(self.workdir, path)

    # --------------------------------------------------------------------- before the action
    def prepare(self) -> None:
        if self.spec.action == "run":
            # load the workflow (once per worker) before old outputs go: its top-level code
            # runs then, and may write files, as it did before Snakemake started the job
            self.run_function = workflow_function(self.spec)
        for out in self.outputs:
            if out in self.spec.update_outputs:  # update(): the action changes the file
                parent = os.path.dirname(self.abs(out))
                if parent:
                    _ensure_dir(parent)
            elif self.spec.temp_outputs:
                tmp = self.abs(temp_path(out, self.spec.key))
                tmp_dir = os.path.dirname(tmp)
                os.makedirs(tmp_dir, exist_ok=True)
                self.temp_dirs.add(tmp_dir)
            else:  # as Snakemake: old outputs go first, so nothing stale can pass as new
                final = self.abs(out.rstrip("/") or out)
                if os.path.lexists(final):
                    safe_remove(final, self.workdir, declared=out)
                parent = os.path.dirname(final)
                if parent:
                    _ensure_dir(parent)
        for log in self.spec.log or ():
            parent = os.path.dirname(self.abs(str(log)))
            if parent:
                _ensure_dir(parent)
        if self.spec.benchmark:
            _ensure_dir(os.path.dirname(self.abs(self.spec.benchmark)) or ".")
        _ensure_dir(os.path.dirname(self.capture_log))

    def temp_output(self) -> NamedList:
        """The output NamedList the action sees (at the temp paths in atomic mode)."""
        out = self.spec.output if self.spec.output is not None else NamedList()
        if not self.spec.temp_outputs:
            return out
        return out.map(lambda f: temp_path(str(f), self.spec.key))

    # --------------------------------------------------------------------- the action
    def execute(self, result: JobResult) -> None:
        kind = self.spec.action
        runner: Callable[[JobResult], None] | None = {
            "shell": self._shell, "run": self._run, "script": self._script,
            "notebook": self._notebook,
        }.get(kind or "")
        if runner is None:  # a rule without action only declares its outputs
            return
        if not self.spec.benchmark:
            runner(result)
            return
        for iteration in range(max(1, self.spec.benchmark_repeat)):  # benchmark: repeat(f, n)
            self.bench_iteration = iteration
            self.t0 = time.time()
            self.benchmark_record = None
            runner(result)
            self.benchmark_records.append(self.benchmark_record
                                          or empty_record(time.time() - self.t0))

    def _shell(self, result: JobResult) -> None:
        command = self.spec.exec_command or self.spec.command or ""
        if self.spec.bench_commands and self.bench_iteration is not None:  # {bench_iteration}
            command = self.spec.bench_commands[self.bench_iteration]
        if len(command.encode("utf-8", "surrogateescape")) > MAX_ARG_BYTES:
            # one argv string may not exceed MAX_ARG_STRLEN (128 KiB on Linux): as Snakemake,
            # a long command goes to a script file that bash reads
            path = os.path.join(layout.scripts_dir(self.workdir), f"{self.spec.key}.sh")
            _ensure_dir(os.path.dirname(path))
            with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write(command + "\n")
            self.temp_dirs.add(path)  # removed in cleanup()
            argv = environment_wrapper(self.spec) + ["bash", path]
        else:
            argv = environment_wrapper(self.spec) + ["bash", "-c", command]
        self._subprocess(argv, result)

    def _script(self, result: JobResult) -> None:
        script = self.spec.script or ""
        if not script.endswith(".py"):
            ext = os.path.splitext(script)[1] or "(no extension)"
            raise JobFailedError(f"unsupported script type {ext} for {script}",
                                 hint="sciflow runs Python scripts (.py); call other languages "
                                      "from a shell: command.")
        if not os.path.exists(script):
            raise JobFailedError(f"script not found: {script}")
        scripts_dir = layout.scripts_dir(self.workdir)
        os.makedirs(scripts_dir, exist_ok=True)
        path = os.path.join(scripts_dir, f"{self.spec.key}.{os.path.basename(script)}")
        obj = make_snakemake(self.spec, self.temp_output(), os.path.dirname(script))
        obj.bench_iteration = self.bench_iteration
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(script_source(obj, script))
        self.temp_dirs.add(path)  # removed in cleanup()
        modules_file = path + ".modules"
        self.temp_dirs.add(modules_file)
        python = "python" if (self.spec.use_conda and self.spec.conda) else sys.executable
        argv = environment_wrapper(self.spec) + [python, path]
        self._subprocess(argv, result, extra_env={MODULES_ENV: modules_file})
        try:
            with open(modules_file, encoding="utf-8") as fh:
                result.software = versions(fh.read().split())
        except OSError:
            result.software = versions(())

    def _subprocess(self, argv: list[str], result: JobResult,
                    extra_env: dict[str, str] | None = None) -> None:
        done = run_command(argv, self.spec, self.cwd, self.capture_log, self.record, self.t0,
                           extra_env)
        result.exit_code = done.returncode
        result.max_rss_mb = done.max_rss_mb
        if done.benchmark is not None:
            self.benchmark_record = done.benchmark
        if done.timed_out:
            self._timed_out()
        if done.returncode != 0:
            how = (f"was killed by signal {-done.returncode}" if done.returncode < 0
                   else f"exited with status {done.returncode}")
            raise JobFailedError(f"command {how}: {self.spec.command}")

    def _timed_out(self) -> None:
        limit = self.spec.resources.get("runtime")
        shown = f"{limit!r} = " if isinstance(limit, str) else ""
        raise JobTimeoutError(
            f"job exceeded its runtime limit ({shown}{self.spec.timeout_s:g} s) and was killed",
            hint="Raise the rule's 'runtime' resource (minutes, or e.g. \"90s\", \"2h\").",
            rule=self.spec.rule, wildcards=self.spec.wildcards)

    def _run(self, result: JobResult) -> None:
        func = with_bench_iteration(self.run_function or workflow_function(self.spec),
                                    self.bench_iteration)
        args = (
            self.spec.input if self.spec.input is not None else NamedList(),
            self.temp_output(),
            self.spec.params if self.spec.params is not None else NamedList(),
            Wildcards(self.spec.wildcards), self.spec.threads,
            job_resources(self.spec.threads, self.spec.resources),
            self.spec.log if self.spec.log is not None else NamedList(),
            self.spec.config, self.spec.rule,
        )
        monitor = Monitor(os.getpid(), full=True) if self.spec.benchmark else None
        if not self.spec.timeout_s:
            self.record.running_inside()
        layout.enter_directory(self.cwd)
        with open(self.capture_log, "ab", buffering=0) as raw, job_output(raw):
            try:
                if self.spec.timeout_s:  # a limit needs a process to kill
                    result.software, result.shell_commands = self._run_in_child(func, args, result)
                else:
                    result.software, result.shell_commands = _call_run_block(func, args)
            finally:
                if monitor:
                    monitor.stop()
        if monitor:
            self.benchmark_record = monitor.record(time.time() - self.t0)

    def _run_in_child(self, func: Callable[..., Any], args: tuple, result: JobResult) -> Any:
        """A ``run:`` block with a ``runtime`` limit runs in a forked child process (its own
        session, killed with it; see procguard.call_in_child)."""
        payload, killer, code = procguard.call_in_child(
            _call_run_block, (func, args), self.record,
            lambda pid: procguard.TimeLimit(pid, self.spec.timeout_s))
        killer.cancel()
        if killer.fired:
            self._timed_out()
        if payload is None:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            raise JobFailedError(f"the run: block's process {how}")
        if payload[0] == "ok":
            return payload[1]
        tail = payload[2][-4000:] or None
        if payload[0] == "raise" and isinstance(payload[1], JobError):
            raise payload[1]
        message = payload[1] if payload[0] == "error" else f"{type(payload[1]).__name__}: {payload[1]}"
        raise JobFailedError(message, log_tail=tail)

    def _notebook(self, result: JobResult) -> None:
        try:
            import nbformat
            from nbclient import NotebookClient
        except ImportError as err:  # (preflight checked the driver; this is the worker)
            raise MissingDependencyError(f"notebook: rules need nbclient and nbformat on the "
                                         f"worker ({err})", hint=NOTEBOOK_HINT) from None
        from sciflow.execute.script import notebook_preamble
        path = self.spec.script or ""
        nb = nbformat.read(path, as_version=4)
        obj = make_snakemake(self.spec, self.temp_output(), os.path.dirname(path))
        nb.cells.insert(0, nbformat.v4.new_code_cell(notebook_preamble(obj, path)))
        client = guarded_notebook_client(NotebookClient)(
            nb, timeout=self.spec.timeout_s or None, kernel_name="python3",
            resources={"metadata": {"path": self.cwd}})
        client.sciflow_record = self.record
        try:
            client.execute()
        except Exception as err:  # CellExecutionError carries the traceback text
            raise JobFailedError(f"notebook {path} failed", log_tail=str(err)[-4000:]) from None
        finally:
            self.record.process_ended()  # the kernel's leftovers die with it
            target = (self.spec.log or NamedList()).get("notebook")
            if target:
                nbformat.write(nb, self.abs(str(target)))

    # --------------------------------------------------------------------- after the action
    def commit(self) -> None:
        """Move every temp output into place; fail naming outputs that were not made."""
        missing = []
        for out in self.outputs:
            final = self.abs(out.rstrip("/") or out)
            tmp = self.abs(temp_path(out, self.spec.key))
            if not self.spec.temp_outputs or out in self.spec.update_outputs:
                if os.path.lexists(final):
                    self._sync(out, final)
                elif out not in self.spec.touch_outputs:
                    missing.append(out)
            elif os.path.lexists(tmp):
                self._sync(out, tmp)  # os.replace keeps the inode, size and mtime: same version
                if os.path.isdir(final) and not os.path.islink(final):
                    safe_remove(final, self.workdir, declared=out)
                os.replace(tmp, final)
            elif os.path.lexists(final) and self._changed_since_start(final):
                pass  # the command wrote the final path itself
            elif out in self.spec.touch_outputs:
                pass  # made below
            else:
                missing.append(out)
        self._move_leftovers()
        for log in self.spec.log or ():  # a log the action did not write: an empty one
            final = self.abs(str(log))  # (Snakemake's handle_log)
            if not os.path.lexists(final):
                os.makedirs(os.path.dirname(final) or ".", exist_ok=True)
                open(final, "a").close()
        for out in self.spec.touch_outputs:
            final = self.abs(out)
            os.makedirs(os.path.dirname(final) or ".", exist_ok=True)
            with open(final, "a"):
                os.utime(final)
        if missing:
            raise MissingOutputError(
                f"job {self.spec.jobid} ({self.spec.rule}) finished but these outputs are "
                f"missing: {', '.join(missing)}",
                hint="The action must write every declared output (use {output} in the "
                     "command).", rule=self.spec.rule, wildcards=self.spec.wildcards)
        if self.spec.ensure_outputs:
            self._check_ensured()
        if self.spec.digest_outputs:
            for log in self.spec.log or ():
                self._sync(str(log), self.abs(str(log)), durable=False)
        if self.spec.benchmark:
            records = self.benchmark_records or [empty_record(time.time() - self.t0)]
            write_benchmark(self.abs(self.spec.benchmark), *records)

    def _check_ensured(self) -> None:
        """``ensure(non_empty=True)`` / ``ensure(sha256=...)``: the job failed silently if an
        output is empty or has another checksum (Snakemake's checks and messages)."""
        empty, differ = [], []
        for out, non_empty, algorithm, expected in self.spec.ensure_outputs:
            path = self.abs(out.rstrip("/") or out)
            if non_empty and os.path.isfile(path) and os.path.getsize(path) == 0:
                empty.append(out)
            if algorithm and expected is not None and os.path.isfile(path):
                if hashing.file_digest(path, algorithm) != expected:
                    differ.append(out)
        where = dict(rule=self.spec.rule, wildcards=self.spec.wildcards)
        if empty:
            raise JobFailedError(
                "Detected unexpected empty output files. Something went wrong in the rule "
                "without an error being reported:\n" + "\n".join(empty),
                hint="The output is declared with ensure(non_empty=True).", **where)
        if differ:
            raise JobFailedError(
                "Output files have checksums that differ from the expected ones defined in "
                "the workflow:\n" + "\n".join(differ),
                hint="The output is declared with ensure(sha256=...) (or md5/sha1).", **where)

    def _sync(self, out: str, path: str, durable: bool = True) -> None:
        """Make the output durable (one fsync) and, when provenance wants checksums, hash it
        here, where its bytes were just written, reading it once through the same descriptor:
        ``result.digests[out] = (size, mtime_ns, inode, sha256)``, trusted by the
        client's hash cache only for that exact file version."""
        durable = durable and os.environ.get("SCIFLOW_FSYNC", "1") != "0"
        digest = _sync_file(path, durable=durable, digest=self.spec.digest_outputs)
        if digest is not None:
            self.digests[out] = digest

    def _changed_since_start(self, path: str) -> bool:
        try:
            return os.lstat(path).st_mtime >= self.t0 - MTIME_SLACK_S
        except OSError:
            return False

    def _move_leftovers(self) -> None:
        """Undeclared files the command put beside its outputs (``x.bam.bai``) go along."""
        for tmp_dir in self.temp_dirs:
            if not os.path.isdir(tmp_dir) or not os.path.basename(tmp_dir).startswith(TEMP_PREFIX):
                continue
            parent = os.path.dirname(tmp_dir)
            for name in os.listdir(tmp_dir):
                target = os.path.join(parent, name)
                if os.path.isdir(target) and not os.path.islink(target):
                    safe_remove(target, self.workdir)
                os.replace(os.path.join(tmp_dir, name), target)

    def discard(self) -> None:
        """A failed attempt leaves no output: temp files, and finals it wrote itself, go.
        (Without temp outputs the scheduler removes them, unless ``--keep-incomplete``.)"""
        if not self.spec.temp_outputs:
            return
        for out in self.outputs:
            final = self.abs(out.rstrip("/") or out)
            if os.path.lexists(final) and self._changed_since_start(final):
                with contextlib.suppress(ConfinementError):  # refused: delete nothing
                    safe_remove(final, self.workdir, declared=out)

    def cleanup(self) -> None:
        for path in self.temp_dirs:
            _remove(path)

    def log_tail(self) -> str | None:
        """The last lines the job wrote: its declared logs first, then captured output."""
        lines: list[str] = []
        paths = [self.abs(str(p)) for p in (self.spec.log or ())] + [self.capture_log]
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    fh.seek(0, os.SEEK_END)
                    fh.seek(max(0, fh.tell() - 16384))
                    text = fh.read().decode("utf-8", "replace")
            except OSError:
                continue
            lines.extend(text.splitlines()[-LOG_TAIL_LINES:])
        return "\n".join(lines[-LOG_TAIL_LINES:]) or None


# --------------------------------------------------------------------------- helpers
def _ensure_dir(path: str) -> None:
    """``os.makedirs(path, exist_ok=True)``, but a directory that exists costs one stat: a
    ``mkdir`` that fails with EEXIST still takes the parent directory's lock for creating,
    so it queues behind the other workers' file creations there; a stat does not."""
    if not os.path.isdir(path):
        os.makedirs(path, exist_ok=True)


def _sync_file(path: str, durable: bool, digest: bool) -> tuple[int, int, int, str] | None:
    """fsync ``path`` (if ``durable``) and return its version and sha256 (if ``digest``);
    directories and unreadable files are left to the client."""
    if not (durable or digest):
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        before = os.fstat(fd)
        if stat.S_ISDIR(before.st_mode):
            return None
        sha = sha256_fd(fd) if digest else None
        if durable:
            os.fsync(fd)
        if sha is None:
            return None
        after = version_of(os.fstat(fd))
        return (*after, sha) if after == version_of(before) else None  # changed meanwhile
    except OSError:
        return None
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _call_run_block(func: Callable[..., Any], args: tuple) -> tuple[dict[str, str], list[str]]:
    """Call a ``run:`` function: (the software it used, the commands its ``shell()`` ran,
    in order; recorded by provenance as ``sf:shellCommand``)."""
    commands: list[str] = []
    token = commands_run.set(commands)
    try:
        return call_recording_software(func, args), commands
    finally:
        commands_run.reset(token)
