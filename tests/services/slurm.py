"""A real single-node SLURM for the tests: munge + slurmctld + slurmd on this host, as root.

Why a real one: dask-jobqueue talks to SLURM through ``sbatch``/``squeue``/``scancel``; a fake
would test nothing. The daemons run from a scratch directory (state, spool, logs) with a
``/etc/slurm/slurm.conf`` written for this host. ``start_slurm()`` returns a ``SlurmService``
whose ``stop()`` ends exactly the daemons it started.

If SLURM already answers (another test session on this machine started it), it is reused and
left running. Starting is serialised with a lock file so two pytest sessions (or pytest-xdist
workers) do not race, and every session using SLURM holds a shared lock on a second file while
it does: the session that started the daemons stops them only if no other session still holds
it (else it leaves them running for the others, as a reuser would).

Use ``slurm_unavailable()`` first: it gives the reason to skip (not root, binaries missing).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

SLURM_CONF = Path("/etc/slurm/slurm.conf")
MUNGE_KEY = Path("/etc/munge/munge.key")
LOCK = Path(tempfile.gettempdir()) / "sciflow-test-slurm.lock"
USERS = Path(tempfile.gettempdir()) / "sciflow-test-slurm.users"
BINARIES = ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "squeue", "scancel")


def slurm_unavailable() -> str | None:
    """Why SLURM cannot be started here, or None if it can."""
    if os.geteuid() != 0:
        return "SLURM tests need root (they write /etc/slurm/slurm.conf and start the daemons)"
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        return f"SLURM binaries missing: {', '.join(missing)} (run `make services`)"
    return None


@dataclass
class SlurmService:
    """The running daemons this helper started (empty ``procs`` when SLURM was reused)."""

    hostname: str
    partition: str
    state_dir: Path | None
    procs: list[subprocess.Popen] = field(default_factory=list)
    users: "IO[str] | None" = None  # this session's shared lock on USERS

    def __post_init__(self) -> None:
        self.users = open(USERS, "a")
        fcntl.flock(self.users, fcntl.LOCK_SH)  # released when this session ends, however

    def stop(self) -> None:
        """Stop the daemons started here, in reverse order (slurmd, slurmctld, munged), after
        cancelling the jobs still queued (else their slurmstepd outlives slurmd) -- unless
        another session still uses them."""
        if self.users is not None:
            self.users.close()
            self.users = None
        if self.procs and not _sole_user():
            self.procs.clear()  # another session's tests run on them: leave them running
            return
        if self.procs:
            _cancel_all_jobs()
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)


def _sole_user() -> bool:
    """No other session holds its shared lock on USERS."""
    with open(USERS, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(fh, fcntl.LOCK_UN)
        return True


def _queued_jobs() -> list[str]:
    res = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True)
    return res.stdout.split() if res.returncode == 0 else []


def _cancel_all_jobs(timeout: float = 20.0) -> None:
    jobs = _queued_jobs()
    if not jobs:
        return
    subprocess.run(["scancel", *jobs], capture_output=True)
    deadline = time.monotonic() + timeout
    while _queued_jobs() and time.monotonic() < deadline:
        time.sleep(0.3)


def _node_line() -> str:
    """``NodeName=... CPUs=... RealMemory=...`` for this host, from ``slurmd -C``."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("NodeName="))
    # Leave a little memory headroom so slurmd's own check never drains the node.
    parts = []
    for item in line.split():
        if item.startswith("RealMemory="):
            mem = int(item.split("=", 1)[1])
            item = f"RealMemory={max(mem - 512, 256)}"
        parts.append(item)
    return " ".join(parts)


def write_config(state_dir: Path, hostname: str, partition: str = "debug") -> str:
    """Write /etc/slurm/slurm.conf for a single node on this host; return its text."""
    conf = f"""# written by sciflow tests/services/slurm.py (single-node test cluster)
ClusterName=sciflow-test
SlurmctldHost={hostname}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SchedulerType=sched/backfill
SlurmctldPidFile={state_dir}/slurmctld.pid
SlurmdPidFile={state_dir}/slurmd.pid
StateSaveLocation={state_dir}/state
SlurmdSpoolDir={state_dir}/spool
SlurmctldLogFile={state_dir}/slurmctld.log
SlurmdLogFile={state_dir}/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=30
KillWait=5
Waittime=0
{_node_line()} State=UNKNOWN
PartitionName={partition} Nodes={hostname} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.write_text(conf)
    return conf


def _ensure_munge_key() -> None:
    if MUNGE_KEY.exists():
        return
    MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("mungekey"):
        subprocess.run(["mungekey", "--create", f"--keyfile={MUNGE_KEY}"], check=True)
    else:
        MUNGE_KEY.write_bytes(os.urandom(1024))
    shutil.chown(MUNGE_KEY, "munge", "munge")
    MUNGE_KEY.chmod(0o400)


def _munge_works() -> bool:
    if shutil.which("munge") is None:
        return False
    enc = subprocess.run(["munge", "-n"], capture_output=True)
    if enc.returncode != 0:
        return False
    dec = subprocess.run(["unmunge"], input=enc.stdout, capture_output=True)
    return dec.returncode == 0


def _start_munge(state_dir: Path) -> subprocess.Popen | None:
    """Start munged in the foreground as user munge; None if a munged already answers."""
    if _munge_works():
        return None
    _ensure_munge_key()
    for d in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
        Path(d).mkdir(parents=True, exist_ok=True)
        shutil.chown(d, "munge", "munge")
    Path("/run/munge").chmod(0o755)
    cmd = ["munged", "--foreground", "--force"]
    if shutil.which("runuser"):
        cmd = ["runuser", "-u", "munge", "--"] + cmd
    with open(state_dir / "munged.out", "wb") as log:  # the child keeps its own copy
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _wait_for(_munge_works, 10, "munged did not start", state_dir / "munged.out")
    return proc


def _wait_for(check, timeout: float, what: str, logfile: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    tail = ""
    if logfile is not None and logfile.exists():
        tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-20:])
    raise RuntimeError(f"{what} within {timeout:.0f} s\n{tail}")


def node_state(hostname: str) -> str | None:
    """The node's state as sinfo reports it (``idle``, ``mixed``, ``down*``...), None if no answer."""
    try:
        res = subprocess.run(["sinfo", "-h", "-n", hostname, "-o", "%t"],
                             capture_output=True, text=True, timeout=5)
    except (subprocess.TimeoutExpired, OSError):
        return None
    if res.returncode != 0 or not res.stdout.strip():
        return None
    return res.stdout.split()[0]


def _usable(hostname: str) -> bool:
    return node_state(hostname) in ("idle", "mix", "mixed", "alloc", "allocated")


def start_slurm(timeout: float = 30.0) -> SlurmService:
    """Start (or reuse) a single-node SLURM; returns when ``sinfo`` shows the node idle."""
    reason = slurm_unavailable()
    if reason:
        raise RuntimeError(reason)
    hostname = socket.gethostname().split(".")[0]
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if SLURM_CONF.exists() and _usable(hostname):
            return SlurmService(hostname, _default_partition(), None)
        state_dir = Path(tempfile.mkdtemp(prefix="sciflow-slurm-"))
        (state_dir / "state").mkdir()
        (state_dir / "spool").mkdir()
        service = SlurmService(hostname, "debug", state_dir)
        try:
            munge = _start_munge(state_dir)
            if munge is not None:
                service.procs.append(munge)
            write_config(state_dir, hostname, service.partition)
            for daemon in ("slurmctld", "slurmd"):
                # -D: foreground (so we own the process); -i/-c: ignore stale state from earlier runs.
                args = [daemon, "-D", "-i"] if daemon == "slurmctld" else [daemon, "-D"]
                with open(state_dir / f"{daemon}.out", "wb") as out:
                    service.procs.append(subprocess.Popen(
                        args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
            _wait_for(lambda: _usable(hostname), timeout, "SLURM node did not become idle",
                      state_dir / "slurmctld.log")
        except BaseException:
            service.stop()
            raise
        return service


def _default_partition() -> str:
    res = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True)
    for name in res.stdout.split():
        if name.endswith("*"):
            return name[:-1]
    return res.stdout.split()[0] if res.stdout.split() else "debug"


def sbatch_wait(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``sbatch --wait ARGS``: submit and block until the job ends (for the service self-test)."""
    return subprocess.run(["sbatch", "--wait", *args], capture_output=True, text=True,
                          timeout=timeout)


if __name__ == "__main__":  # manual check: python tests/services/slurm.py
    svc = start_slurm()
    print("SLURM up on", svc.hostname, "partition", svc.partition)
    with tempfile.TemporaryDirectory() as d:
        r = sbatch_wait("--chdir", d, "-o", f"{d}/out.txt", "--wrap", "hostname")
        print(r.stdout, r.stderr, Path(d, "out.txt").read_text())
    svc.stop()
