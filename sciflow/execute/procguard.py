"""Job processes die with their run: process-group tracking, death guards and signals.

Why: jobs run in their own session (so a ``runtime`` limit can kill the whole group), which
also means nothing else kills them. Before this module, the jobs of a killed driver or worker
kept running and overwrote later runs' outputs. Three layers make sure they die:

1. Every job runs in its own session, i.e. one process group holding everything it starts
   (unless it detaches into yet another session).
2. A *watcher*: one tiny process per worker process (``Watcher``), told through a pipe which
   process groups are live. When the pipe closes (the worker died, however), it SIGKILLs
   every group still registered. The driver starts one too, pointed at the run's record
   directory, for workers on this host that outlive a killed driver (``--scheduler``).
   (A ``PR_SET_PDEATHSIG`` in a ``preexec_fn`` was measured: it forces a full ``fork()`` of
   the worker instead of ``vfork``, 2 ms -> 60 ms per job on a loaded machine, and reaches only
   the group's leader. It is used only for ``run:`` children, which are forked anyway.)
3. *Records*: each job attempt writes ``.sciflow/procs/<run_id>/<key>`` (host, worker pid,
   process group, the leader's start time) while it runs. The driver reads them to tell a job
   that was running on a lost worker from one only queued there, kills what is left on this
   host after a failure (``--kill-on-failure``) or a signal, and writes ``STOP`` there to
   make workers skip jobs not yet started (fail fast).

A process group is only signalled when its leader is gone (a group id is never reused while
any member lives) or is the very process recorded (same start time): no stray kills after
PID reuse.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from sciflow import layout
from sciflow.execute.procwatch import start_time  # one reading of /proc/PID/stat (stdlib only)

HOST = socket.gethostname()
STOP_FILE = "STOP"
KILL_WAIT_S = 2.0
KILL_GRACE_S = 3.0


# --------------------------------------------------------------------------- child side
def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()  # looked up once, here: a preexec_fn should not import or load libraries
_PR_SET_PDEATHSIG = 1


def set_pdeathsig(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send ``sig`` to this process when the thread that made it exits."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def kill_group(pgid: int, started: str = "", wait: float = KILL_WAIT_S) -> bool:
    """SIGKILL process group ``pgid`` unless its leader is a different process than the one
    recorded; wait (up to ``wait`` s) until the group is gone. True if something was killed."""
    if pgid <= 1 or pgid == os.getpgid(0):
        return False
    now = start_time(pgid)
    if now and started and now != started:  # the pid was reused by an unrelated process
        return False
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            break
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(-pgid, os.WNOHANG)  # reap our own child so the group can vanish
        time.sleep(0.02)
    return True


# --------------------------------------------------------------------------- the watcher
WATCHER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "procwatch.py")


class Watcher:
    """This process's watcher (one per process, started on first use; see module docstring)."""

    _lock = threading.Lock()
    _proc: subprocess.Popen | None = None
    _owner = 0

    @classmethod
    def _send(cls, line: str) -> None:
        with cls._lock:
            if cls._proc is None or cls._owner != os.getpid() or cls._proc.poll() is not None:
                try:
                    cls._proc = subprocess.Popen(
                        [sys.executable, "-I", "-S", WATCHER_SCRIPT],
                        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
                    cls._owner = os.getpid()
                except OSError:
                    cls._proc = None
                    return
            try:
                assert cls._proc.stdin is not None
                cls._proc.stdin.write((line + "\n").encode())
                cls._proc.stdin.flush()
            except (OSError, ValueError):
                cls._proc = None

    @classmethod
    def track(cls, pgid: int, started: str) -> None:
        cls._send(f"+ {pgid} {started}")

    @classmethod
    def untrack(cls, pgid: int) -> None:
        cls._send(f"- {pgid}")

    @classmethod
    def sweep_on_exit(cls, directory: str) -> None:
        """When this process dies, kill the groups recorded in ``directory`` (this host)."""
        cls._send(f"d {directory}")

    @classmethod
    def close(cls) -> None:
        """Stop the watcher now (it kills whatever is still tracked or recorded)."""
        with cls._lock:
            proc, cls._proc = cls._proc, None
        if proc is not None and cls._owner == os.getpid():
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()  # type: ignore[union-attr]
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)


# --------------------------------------------------------------------------- records
def records_dir(workdir: str, run_id: str) -> str:
    return layout.procs_dir(workdir, run_id)


@dataclass(slots=True)
class Record:
    """One running job attempt, as its worker wrote it."""

    key: str
    host: str
    pid: int      # the worker process
    pgid: int     # the job's process group (0: the job runs inside the worker)
    started: str  # start time of the group's leader

    @property
    def local(self) -> bool:
        return self.host == HOST


class JobRecord:
    """The record of the job attempt running in this worker (``None`` directory: no-op)."""

    def __init__(self, directory: str | None, key: str) -> None:
        self.path = os.path.join(directory, key) if directory else None
        self.pgid = 0

    def _write(self, pgid: int, started: str) -> None:
        """One small write (a reader seeing it half-written skips it; existence is what
        "started" means)."""
        assert self.path is not None
        with contextlib.suppress(OSError):  # e.g. the run's directory is gone: run over
            with open(self.path, "w") as fh:
                fh.write(f"{HOST} {os.getpid()} {pgid} {started or '-'}\n")

    def running_inside(self) -> None:
        """The job runs in the worker's own process (``run:`` without a limit)."""
        if self.path:
            self._write(0, "")

    def process_started(self, pgid: int) -> None:
        """The job's process group exists: record it and let the watcher guard it."""
        started = start_time(pgid)
        self.pgid = pgid
        Watcher.track(pgid, started)
        if self.path:
            self._write(pgid, started)

    def process_ended(self) -> None:
        """The leader was reaped: kill what it left behind in its group, stop guarding."""
        if self.pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, signal.SIGKILL)
            Watcher.untrack(self.pgid)
            self.pgid = 0

    def done(self) -> None:
        if self.path:
            with contextlib.suppress(OSError):
                os.remove(self.path)


def request_stop(directory: str | None) -> None:
    """Workers skip every job of this run that has not started yet (see ``RunGuard``)."""
    if directory:
        with contextlib.suppress(OSError):
            open(os.path.join(directory, STOP_FILE), "w").close()


def stop_requested(directory: str | None) -> bool:
    return bool(directory) and os.path.exists(os.path.join(directory, STOP_FILE))


def read_record(directory: str, key: str) -> Record | None:
    try:
        with open(os.path.join(directory, key)) as fh:
            host, pid, pgid, started = fh.read().split()[:4]
        return Record(key, host, int(pid), int(pgid), "" if started == "-" else started)
    except (OSError, ValueError):
        return None


def read_records(directory: str) -> list[Record]:
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = (read_record(directory, n) for n in names if n != STOP_FILE)
    return [r for r in found if r is not None]


def kill_record(record: Record) -> bool:
    """Kill a recorded job's process group if it runs on this host."""
    return record.local and record.pgid > 0 and kill_group(record.pgid, record.started)


class RunGuard:
    """The driver's side: the run's record directory, its watcher, fail-fast STOP, cleanup."""

    def __init__(self, workdir: str, run_id: str) -> None:
        self.directory = records_dir(workdir, run_id)
        os.makedirs(self.directory, exist_ok=True)
        Watcher.sweep_on_exit(self.directory)

    def stop_new_jobs(self) -> None:
        request_stop(self.directory)

    def started(self, key: str) -> bool:
        return os.path.exists(os.path.join(self.directory, key))

    def kill(self, key: str) -> None:
        """Kill one attempt's process group (if on this host) and forget its record."""
        record = read_record(self.directory, key)
        if record is not None:
            kill_record(record)
        with contextlib.suppress(OSError):
            os.remove(os.path.join(self.directory, key))

    def kill_all(self) -> list[str]:
        """Kill every running attempt recorded on this host; returns their keys."""
        return [r.key for r in read_records(self.directory) if kill_record(r)]

    def close(self) -> None:
        """The run is over: kill leftovers, drop the directory."""
        self.kill_all()
        import shutil
        shutil.rmtree(self.directory, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(self.directory))


class TimeLimit:
    """Kills a job's process group once ``timeout`` seconds have passed (SIGTERM, then
    SIGKILL after KILL_GRACE_S)."""

    def __init__(self, pid: int, timeout: float | None) -> None:
        self.pid = pid
        self.fired = False
        self._timer = None
        if timeout:
            self._timer = threading.Timer(timeout, self._kill)
            self._timer.daemon = True
            self._timer.start()

    def _kill(self) -> None:
        self.fired = True
        for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 0)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                return
            deadline = time.time() + wait
            while time.time() < deadline:
                try:
                    os.killpg(self.pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)

    def cancel(self) -> None:
        if self._timer:
            self._timer.cancel()


# --------------------------------------------------------------------------- run: in a child
def call_in_child(func: Callable[..., Any], args: tuple, record: JobRecord,
                  on_start: Callable[[int], Any]) -> Any:
    """Call ``func(*args)`` in a forked child in its own session (so a time limit can kill
    it, and it dies with its worker); return its value, or raise what it raised (as
    ``ChildError`` when the exception cannot be sent back). ``on_start(pid)`` runs in the
    parent once the child exists (it starts the time limit's timer); its result is returned
    as the second item so the caller can tell a timeout from a failure."""
    import pickle
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read_fd)
            os.setsid()
            set_pdeathsig()
            try:
                payload = ("ok", func(*args))
            except BaseException as err:  # sent back to be reported as the job's failure
                import traceback
                text = "".join(traceback.format_exception(err))
                try:
                    pickle.dumps(err)
                    payload = ("raise", err, text)
                except Exception:
                    payload = ("error", f"{type(err).__name__}: {err}", text)
            try:
                data = pickle.dumps(payload)
            except Exception as err:
                data = pickle.dumps(("error", f"the result cannot be sent back: {err}", ""))
            with os.fdopen(write_fd, "wb") as fh:
                fh.write(data)
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    record.process_started(pid)
    guard = on_start(pid)
    chunks = []
    with os.fdopen(read_fd, "rb") as fh:
        while True:
            chunk = fh.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    record.process_ended()
    exit_code = os.waitstatus_to_exitcode(status)
    data = b"".join(chunks)
    if not data:
        return None, guard, exit_code
    return pickle.loads(data), guard, exit_code


# --------------------------------------------------------------------------- signals
class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the driver: the run stops cleanly (see engine.run)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def interrupt_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into ``Interrupted`` in the main thread, once: a second
    signal while the run cleans up is ignored (the cleanup is what makes stopping safe)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in sigs}

    def handler(signum: int, frame: Any) -> None:
        for s in sigs:
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    for s in sigs:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


def ignore_sigint() -> None:
    """In a worker process: leave Ctrl-C to the driver (a Dask worker plugin calls this).
    A handler that does nothing rather than SIG_IGN: jobs the worker starts get the default
    disposition back at exec, an inherited SIG_IGN would stay."""
    with contextlib.suppress(ValueError):  # not the main thread: nothing to do there
        signal.signal(signal.SIGINT, _swallow)


def _swallow(signum: int, frame: Any) -> None:
    """SIGINT in a worker: the driver stops the run; nothing to do here."""
