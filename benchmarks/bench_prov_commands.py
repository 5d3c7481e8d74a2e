"""How fast `sciflow prov` answers: start-up of each command, and lineage on a long chain.

    python benchmarks/bench_prov_commands.py                 # 16-job store + 10,000-job chain
    python benchmarks/bench_prov_commands.py --chain 2000 --repeats 3

1. A 16-job chain recorded by the real recorder (bench_provenance.build_chain): each command
   (`prov runs`, `lineage`, `query`, `view`, `find`) is run as a fresh process, as a user runs
   it; reported: median wall and CPU (user+sys) of ``--repeats`` runs, next to a bare
   ``python -c pass`` (the interpreter's own start-up) and the load average. Target: <= 0.25 s
   wall (issue 9).
2. The lineage of the last file of an N-job chain (default 10,000 hops): ``prov lineage`` as a
   process (tree and ``--format json``), and ``Provenance.lineage_table`` in-process from a
   freshly opened store. Target: < 0.5 s wall.
sciflow is compiled to bytecode first, as ``pip install`` does (see run.py).
Wall times depend on the machine's load (printed); CPU times much less.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_provenance import build_chain, bytecode_ready  # noqa: E402

SCIFLOW = [sys.executable, "-m", "sciflow"]


def timed(argv: list[str], repeats: int) -> tuple[float, float]:
    """Median wall and median CPU (user+sys) seconds of ``repeats`` runs of a command."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        res = subprocess.run(argv, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if res.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{res.stderr[-2000:]}")
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chain", type=int, default=10_000, help="length of the long chain")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    bytecode_ready()
    root = Path(tempfile.mkdtemp(prefix="bench-prov-cmd-"))
    try:
        small = root / "small"
        small.mkdir()
        build_chain(small, 16)
        d = ["-d", str(small)]
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
              f"median of {args.repeats} runs each")
        wall, cpu = timed([sys.executable, "-c", "pass"], args.repeats)
        print(f"{'python -c pass (interpreter start-up)':<48} {wall:6.3f} s wall {cpu:6.3f} s CPU")
        for cmd in (["runs"], ["lineage", "f16.txt"], ["lineage", "f16.txt", "--format", "json"],
                    ["query", "params-of", "--param", "path=f16.txt"], ["view", "f16.txt"],
                    ["find", "rule=step", "path=f1*.txt"]):
            wall, cpu = timed([*SCIFLOW, "prov", *cmd, *d], args.repeats)
            print(f"{'sciflow prov ' + ' '.join(cmd):<48} {wall:6.3f} s wall {cpu:6.3f} s CPU")

        chain = root / "chain"
        chain.mkdir()
        t0 = time.perf_counter()
        build_chain(chain, args.chain)
        print(f"\n{args.chain}-job chain recorded in {time.perf_counter() - t0:.0f} s")
        target = f"f{args.chain}.txt"
        print(f"load average {os.getloadavg()[0]:.1f}")
        for fmt in ([], ["--format", "json"]):
            wall, cpu = timed([*SCIFLOW, "prov", "lineage", target, "-d", str(chain), *fmt],
                              args.repeats)
            name = f"sciflow prov lineage {target} {' '.join(fmt) or '(tree)'}"
            print(f"{name:<48} {wall:6.3f} s wall {cpu:6.3f} s CPU")
        from sciflow.provenance.query import Provenance

        for attempt in range(2):
            t0 = time.perf_counter()
            p = Provenance(chain)
            opened = time.perf_counter() - t0
            c0, t0 = time.process_time(), time.perf_counter()
            rows = len(p.lineage_table(target))
            print(f"{'Provenance.lineage_table (in-process)':<48} {time.perf_counter() - t0:6.3f} s wall "
                  f"{time.process_time() - c0:6.3f} s CPU ({rows} rows; store opened in {opened:.2f} s)")
            del p
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
