"""``--latency-wait SECONDS``: give a shared filesystem time to show a job's outputs.

On NFS and other cluster filesystems a file written on a compute node can appear on the
submitting host seconds later. Snakemake waits up to ``--latency-wait`` seconds (default 5)
for a finished job's outputs before declaring them missing; so does sciflow, as a wrapper
around any ``Executor``: a successful result is handed on once every output of its job
exists, or when the time is up (the scheduler then reports the missing files as usual).
The wait costs nothing when outputs are there, which is the normal case.
"""
from __future__ import annotations

import os
import time
from typing import Any

from sciflow.events import JobResult
from sciflow.execute.base import Executor, JobSpec


class LatencyWait(Executor):
    """Wraps ``inner``; delays a successful result until its outputs exist (≤ ``seconds``)."""

    def __init__(self, inner: Executor, seconds: float, poll: float = 0.1) -> None:
        self.inner = inner
        self.seconds = float(seconds)
        self.poll = poll
        self.name = getattr(inner, "name", "executor")
        self._outputs: dict[int, tuple[str, list[str]]] = {}   # jobid -> (workdir, outputs)

    def start(self) -> None:
        self.inner.start()

    def submit(self, spec: JobSpec, priority: int = 0) -> None:
        self.inner.submit(spec, priority=priority)
        self._outputs[spec.jobid] = (spec.workdir, [str(o) for o in spec.output or ()])

    def wait(self, timeout: float | None = None) -> list[JobResult]:
        results = self.inner.wait(timeout)
        for result in results:
            workdir, outputs = self._outputs.pop(result.jobid, ("", []))
            if result.ok and outputs:
                self._wait_for(workdir, outputs)
        return results

    def _wait_for(self, workdir: str, outputs: list[str]) -> None:
        deadline = time.monotonic() + self.seconds
        missing = [o for o in outputs if not os.path.lexists(os.path.join(workdir, o))]
        while missing and time.monotonic() < deadline:
            time.sleep(self.poll)
            for folder in {os.path.dirname(os.path.join(workdir, o)) for o in missing}:
                try:
                    os.listdir(folder)  # refreshes NFS's cached view of the folder
                except OSError:
                    pass
            missing = [o for o in missing if not os.path.lexists(os.path.join(workdir, o))]

    def executing(self) -> list[tuple[int, str, str]]:
        return self.inner.executing()

    def shutdown(self) -> None:
        self.inner.shutdown()

    @property
    def address(self) -> str:
        return self.inner.address

    def __getattr__(self, name: str) -> Any:  # anything else the scheduler may ask the executor
        return getattr(self.inner, name)
