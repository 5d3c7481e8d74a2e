"""Measuring a running job: peak memory of its process tree (every job, for provenance) and
the full ``benchmark:`` record (memory, I/O, CPU), written as Snakemake's benchmark TSV.

Kept apart from ``sciflow.execute.runner`` (which runs the job) because sampling processes is
its own concern: one shared sampling thread per worker for the cheap peak-RSS figure, a psutil
poller per job only when a benchmark file was asked for.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any

BENCHMARK_COLUMNS = ("s", "h:m:s", "max_rss", "max_vms", "max_uss", "max_pss", "io_in",
                     "io_out", "mean_load", "cpu_time")


class RssWatch:
    """Peak resident memory (MB) of running jobs' process trees, sampled by ONE thread per
    worker process: starting a thread per job would cost more than a trivial job."""

    _lock = threading.Lock()
    _watched: dict[int, list[float]] = {}
    _wake = threading.Event()
    _thread: threading.Thread | None = None
    INTERVAL_S = 0.1

    @classmethod
    def watch(cls, pid: int) -> list[float]:
        peak = [0.0]
        with cls._lock:
            cls._watched[pid] = peak
            if cls._thread is None:
                cls._thread = threading.Thread(target=cls._loop, daemon=True,
                                               name="sciflow-rss")
                cls._thread.start()
        cls._wake.set()
        return peak

    @classmethod
    def unwatch(cls, pid: int) -> None:
        with cls._lock:
            cls._watched.pop(pid, None)

    @classmethod
    def _loop(cls) -> None:
        while True:
            cls._wake.wait()
            time.sleep(cls.INTERVAL_S)  # jobs shorter than this are never sampled: no cost
            with cls._lock:
                watched = list(cls._watched.items())
                if not watched:
                    cls._wake.clear()
                    continue
            for pid, peak in watched:
                total = tree_rss_mb(pid)
                if total:
                    peak[0] = max(peak[0], total)


_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 4096 / 2**20


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, from /proc (psutil elsewhere):
    psutil's ``children()`` scans every process of the machine, /proc's children files don't."""
    if not os.path.isdir("/proc/self/task"):
        import psutil
        try:
            root = psutil.Process(pid)
            return sum(p.memory_info().rss for p in [root, *root.children(True)]) / 2**20
        except psutil.Error:
            return 0.0
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * _PAGE_MB
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", "rb") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


class Monitor:
    """Polls a process tree with psutil: peak memory (MB), I/O (MB) and CPU seconds."""

    def __init__(self, pid: int, full: bool = True) -> None:
        import psutil
        self._psutil = psutil
        self.full = full
        try:
            self.root = psutil.Process(pid)
        except psutil.Error:
            self.root = None
        self.samples = 0
        self.max = {"rss": 0.0, "vms": 0.0, "uss": 0.0, "pss": 0.0}
        self.cpu: dict[int, float] = {}
        self.io_in: dict[int, float] = {}
        self.io_out: dict[int, float] = {}
        own = pid == os.getpid() and self.root is not None
        self._start_cpu = self._cpu_of(self.root) if own else 0.0
        self._start_io = self._io_of(self.root) if own else (0.0, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _cpu_of(self, proc: Any) -> float:
        try:
            t = proc.cpu_times()
            return t.user + t.system
        except Exception:
            return 0.0

    def _io_of(self, proc: Any) -> tuple[float, float]:
        try:
            io_ = proc.io_counters()
            return io_.read_bytes / 2**20, io_.write_bytes / 2**20
        except Exception:
            return 0.0, 0.0

    def _loop(self) -> None:
        interval = 0.02
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(interval)
            interval = min(interval * 2, 0.5)

    def sample(self) -> None:
        if self.root is None:
            return
        try:
            procs = [self.root] + self.root.children(recursive=True)
        except self._psutil.Error:
            return
        if not self.full:  # cheap: resident memory only
            total = 0.0
            for proc in procs:
                try:
                    total += proc.memory_info().rss / 2**20
                except self._psutil.Error:
                    pass
            if total:
                self.samples += 1
                self.max["rss"] = max(self.max["rss"], total)
            return
        totals = {"rss": 0.0, "vms": 0.0, "uss": 0.0, "pss": 0.0}
        got = False
        for proc in procs:
            try:
                mem = proc.memory_full_info()
            except self._psutil.Error:
                continue
            got = True
            for field in totals:
                totals[field] += getattr(mem, field, 0) / 2**20
            self.cpu[proc.pid] = self._cpu_of(proc)
            self.io_in[proc.pid], self.io_out[proc.pid] = self._io_of(proc)
        if got:
            self.samples += 1
            for field, value in totals.items():
                self.max[field] = max(self.max[field], value)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def record(self, seconds: float) -> dict[str, Any]:
        """A benchmark row; like Snakemake, ``NA`` when the job ended before any sample."""
        if not self.samples:
            return empty_record(seconds)
        cpu = max(0.0, sum(self.cpu.values()) - self._start_cpu)
        return {
            "s": seconds, "max_rss": self.max["rss"], "max_vms": self.max["vms"],
            "max_uss": self.max["uss"], "max_pss": self.max["pss"],
            "io_in": max(0.0, sum(self.io_in.values()) - self._start_io[0]),
            "io_out": max(0.0, sum(self.io_out.values()) - self._start_io[1]),
            "mean_load": 100.0 * cpu / seconds if seconds > 0 else 0.0,
            "cpu_time": cpu,
        }


def empty_record(seconds: float) -> dict[str, Any]:
    return {"s": seconds, **{c: "NA" for c in BENCHMARK_COLUMNS[2:]}}


def write_benchmark(path: str, *records: dict[str, Any]) -> None:
    """Snakemake's benchmark TSV: a header line and one row per run (``repeat(f, n)``: n
    rows); floats with 2 decimals."""
    rows = []
    for record in records:
        seconds = record["s"]
        whole = int(seconds)
        values = {**record, "s": round(seconds, 4),
                  "h:m:s": f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"}
        cells = []
        for column in BENCHMARK_COLUMNS:
            value = values.get(column, "NA")
            cells.append(f"{value:.2f}" if isinstance(value, float) else str(value))
        rows.append("\t".join(cells) + "\n")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\t".join(BENCHMARK_COLUMNS) + "\n" + "".join(rows))
