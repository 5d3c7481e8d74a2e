"""A real external Dask cluster for the tests: ``dask scheduler`` + ``dask worker`` processes.

This is the "--scheduler tcp://host:port" case of the engine: sciflow connects to a cluster it
did not start and must leave running. Everything binds to 127.0.0.1; the scheduler writes its
address to a scheduler file, so no port is guessed. Workers advertise ``cpus`` resources (as
the engine requests ``resources={"cpus": threads}``).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.tls import Certificates


@dataclass
class DaskService:
    """A running scheduler and its workers; ``address`` is ``tcp://127.0.0.1:PORT``."""

    address: str
    workdir: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        """Terminate workers first, then the scheduler; each process group as a whole."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("*.log")))


def _dask_cmd() -> list[str]:
    """Run the ``dask`` CLI of this interpreter (the venv), whatever is on PATH."""
    return [sys.executable, "-m", "distributed.cli.dask_scheduler"], [
        sys.executable, "-m", "distributed.cli.dask_worker"]


def start_dask(n_workers: int = 2, nthreads: int = 1, cpus_per_worker: int = 1,
               timeout: float = 60.0, tls: "Certificates | None" = None) -> DaskService:
    """Start a scheduler and ``n_workers`` single-threaded worker processes on 127.0.0.1;
    with ``tls`` (see services.tls), a cluster that speaks only mutual TLS with those files."""
    tls_args = ([] if tls is None else
                ["--tls-ca-file", str(tls.ca), "--tls-cert", str(tls.cert),
                 "--tls-key", str(tls.key)])
    workdir = Path(tempfile.mkdtemp(prefix="sciflow-dask-"))
    sched_file = workdir / "scheduler.json"
    sched_cmd, worker_cmd = _dask_cmd()
    service = DaskService("", workdir)
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
    try:
        with open(workdir / "scheduler.log", "wb") as log:  # the child keeps its own copy
            service.procs.append(subprocess.Popen(
                [*sched_cmd, "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                 "127.0.0.1:0", "--scheduler-file", str(sched_file), *tls_args,
                 *(["--protocol", "tls"] if tls else [])],
                stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env,
                start_new_session=True))
        deadline = time.monotonic() + timeout
        while not sched_file.exists() or not sched_file.read_text().strip():
            if time.monotonic() > deadline or service.procs[0].poll() is not None:
                raise RuntimeError("dask scheduler did not start:\n" + service.logs())
            time.sleep(0.1)
        time.sleep(0.1)  # the file is written in one go, but be safe against a partial read
        service.address = json.loads(sched_file.read_text())["address"]
        for i in range(n_workers):
            with open(workdir / f"worker-{i}.log", "wb") as log:
                service.procs.append(subprocess.Popen(
                    [*worker_cmd, service.address, "--host", "127.0.0.1", "--nthreads",
                     str(nthreads), "--nworkers", "1", "--resources", f"cpus={cpus_per_worker}",
                     "--name", f"test-worker-{i}", "--local-directory", str(workdir / f"w{i}"),
                     "--no-dashboard", *tls_args],
                    stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env,
                    start_new_session=True))
        _wait_for_workers(service, n_workers, deadline, tls)
    except BaseException:
        service.stop()
        raise
    return service


def _wait_for_workers(service: DaskService, n: int, deadline: float, tls=None) -> None:
    from distributed import Client, Security

    security = None if tls is None else Security(
        tls_ca_file=str(tls.ca), tls_client_cert=str(tls.cert), tls_client_key=str(tls.key),
        require_encryption=True)
    with Client(service.address, timeout=max(deadline - time.monotonic(), 5),
                security=security) as client:
        client.wait_for_workers(n, timeout=max(deadline - time.monotonic(), 5))


if __name__ == "__main__":  # manual check: python tests/services/dask_cluster.py
    svc = start_dask()
    print("dask up at", svc.address)
    from distributed import Client

    with Client(svc.address) as c:
        print(c.submit(lambda: os.getpid()).result(), sorted(c.scheduler_info()["workers"]))
    svc.stop()
