"""The watcher process of ``sciflow.execute.procguard`` (run as a script: ``python -I -S
procwatch.py``, without importing sciflow, so it starts in ~20 ms).

Lines on stdin: ``+ PGID START`` track a job's process group, ``- PGID`` forget it, ``d DIR``
a run's record directory to sweep. At EOF (its owner died, or closed the pipe) it SIGKILLs
every group still tracked and every group recorded in those directories for this host. A
group is skipped when its leader is alive but is not the recorded process (PID reuse).
"""
import os
import signal
import socket
import sys


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' if gone or unknown)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def kill(pgid: int, started: str) -> None:
    now = start_time(pgid)
    if pgid <= 1 or (now and started and started != "-" and now != started):
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def sweep(directory: str, host: str) -> None:
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        try:
            with open(os.path.join(directory, name)) as fh:
                rec_host, _pid, pgid, started = fh.read().split()[:4]
        except (OSError, ValueError):
            continue
        if rec_host == host and int(pgid) > 0:
            kill(int(pgid), started)


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # only the owner's death (EOF) ends the watch
    groups: dict[int, str] = {}
    dirs: list[str] = []
    for line in sys.stdin:
        op, _, arg = line.rstrip("\n").partition(" ")
        if op == "+":
            pgid, _, started = arg.partition(" ")
            groups[int(pgid)] = started
        elif op == "-":
            groups.pop(int(arg), None)
        elif op == "d":
            dirs.append(arg)
    for pgid, started in groups.items():
        kill(pgid, started)
    host = socket.gethostname()
    for directory in dirs:
        sweep(directory, host)


if __name__ == "__main__":
    main()
