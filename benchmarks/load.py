"""Load test: N trivial jobs run to completion on the local cluster, sciflow beside Snakemake.

    .venv/bin/python benchmarks/load.py                 # 20,000 jobs (issue 8)
    .venv/bin/python benchmarks/load.py --jobs 2000     # a quick look

For each tool: wall time, jobs per second, the *driver's* peak RSS (the process the user
started: sciflow's scheduler loop, Snakemake's main process), sampled every 0.1 s with psutil,
and the peak RSS of the whole process tree (driver + Dask workers, or Snakemake's job
processes). Bounded driver memory is the point: two sizes (``--jobs 5000,20000``) show how the
driver's peak grows with the run.
Both tools must really make every output; a tool that does not is reported as failed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
import gen  # noqa: E402

BIN = Path(sys.executable).parent
TRACE_S = float(os.environ.get("LOAD_TRACE_S", "0"))  # > 0: the driver's RSS every so often
COMMANDS = {"snakemake": [str(BIN / "snakemake"), "-c2", "-q"],
            "sciflow": [str(BIN / "sciflow"), "run", "-c2"],
            "sciflow-noprov": [str(BIN / "sciflow"), "run", "-c2", "--no-provenance"]}


@dataclass
class Load:
    wall_s: float
    driver_peak_mb: float
    tree_peak_mb: float
    made: int
    returncode: int
    timed_out: bool = False

    def row(self, tool: str, jobs: int) -> list[str]:
        ok = self.returncode == 0 and self.made == jobs
        if ok:
            status = "ok"
        elif self.timed_out:  # still a measure: how far it got in the time it had
            status = f"stopped at the {self.wall_s:.0f} s limit: {self.made}/{jobs} done"
        else:
            status = f"FAILED (exit {self.returncode}, {self.made}/{jobs} outputs)"
        return [tool, str(jobs), f"{self.wall_s:.1f}", f"{self.made / self.wall_s:.1f}",
                f"{self.driver_peak_mb:.0f}",
                f"{self.tree_peak_mb:.0f}", status]


def run_load(cmd: list[str], cwd: Path, jobs: int, timeout: float) -> Load:
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    driver = psutil.Process(proc.pid)
    driver_peak = tree_peak = 0.0
    timed_out = False
    next_trace = 0.0
    while proc.poll() is None:
        if time.monotonic() - start > timeout:
            os.killpg(proc.pid, 9)
            proc.wait()
            timed_out = True
            break
        try:
            own = driver.memory_info().rss
            tree = own
            for child in driver.children(recursive=True):
                try:
                    tree += child.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            own = tree = 0
        driver_peak, tree_peak = max(driver_peak, own), max(tree_peak, tree)
        if TRACE_S and time.monotonic() >= next_trace:  # where in the run the driver grows
            next_trace = time.monotonic() + TRACE_S
            print(f"# {time.monotonic() - start:6.1f} s: driver {own / 2**20:.0f} MB, "
                  f"{len(list((cwd / 'out').glob('*.txt'))) if (cwd / 'out').exists() else 0} made",
                  file=sys.stderr, flush=True)
        time.sleep(0.1)
    wall = time.monotonic() - start
    made = len(list((cwd / "out").glob("*.txt"))) if (cwd / "out").exists() else 0
    return Load(wall, driver_peak / 2**20, tree_peak / 2**20, made, proc.returncode, timed_out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="20000", help="comma-separated sizes (default 20000)")
    ap.add_argument("--tools", default="sciflow,snakemake",
                    help="of " + ", ".join(COMMANDS) + " (sciflow-noprov: --no-provenance)")
    ap.add_argument("--timeout", type=float, default=1800,
                    help="per run, seconds; a run stopped there reports how far it got "
                         "(Snakemake 9 schedules ~30 jobs/min once 20,000 are pending here)")
    args = ap.parse_args(argv)
    header = ["tool", "jobs", "wall s", "jobs done/s", "driver peak MB", "tree peak MB", "status"]
    rows = []
    print(f"# load test {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    for jobs in (int(n) for n in args.jobs.split(",")):
        for tool in args.tools.split(","):
            root = Path(tempfile.mkdtemp(prefix=f"sciflow-load-{tool}-"))
            try:
                wf = gen.trivial(jobs, root / "wf")
                result = run_load(COMMANDS[tool], wf, jobs, args.timeout)
                rows.append(result.row(tool, jobs))
                print("| " + " | ".join(rows[-1]) + " |", flush=True)
            finally:
                shutil.rmtree(root, ignore_errors=True)
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0 if all(r[-1] == "ok" or r[-1].startswith("stopped") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
