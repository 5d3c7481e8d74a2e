"""The benchmarks, one command, sciflow side by side with Snakemake in the same run.

    .venv/bin/python benchmarks/run.py            # full sizes (long: Snakemake needs minutes)
    .venv/bin/python benchmarks/run.py --quick    # small sizes, a few minutes in all
    .venv/bin/python benchmarks/run.py --only dryrun,trivial

Every measurement runs the tool's command line in its own subprocess; CPU seconds (user+sys)
and peak RSS come from ``os.wait4`` on that process (its own rusage, including the processes
it waited for), wall time from a monotonic clock. Sections:

- startup:    ``run -n`` of a 1-job workflow, median of 7 alternated runs of each tool
- parse:      benchmarks/bench_parse.py (the parser's benchmark, run as is)
- dryrun:     ``run -n -q`` of generated fan-out/fan-in and 3-stage chain workflows (both
              tools print only the job counts), the median of 3 alternated runs; the column
              "sciflow/snakemake cpu" is the fraction issue 11 asks to keep <= 0.1 at 10,000 jobs
- noop:       a no-op rerun of a built 10k-job fan-out (outputs present, metadata recorded by
              each tool's own ``--touch``)
- trivial:    N trivial shell jobs and N trivial ``run:`` jobs on 2 cores
- provenance: sciflow on N trivial shell jobs with vs without ``--no-provenance``, then
              benchmarks/bench_provenance.py (lineage time on a long chain)
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

sys.path.insert(0, str(Path(__file__).parent))
import gen  # noqa: E402

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
SCIFLOW = [str(BIN / "sciflow")]
SNAKEMAKE = [str(BIN / "snakemake")]


@dataclass
class Measurement:
    wall_s: float
    cpu_s: float
    peak_mb: float
    returncode: int
    timed_out: bool = False
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def cell(self, what: str) -> str:
        if self.timed_out:
            return "timeout"
        if self.returncode != 0:
            return f"failed({self.returncode})"
        value = {"wall": self.wall_s, "cpu": self.cpu_s, "mem": self.peak_mb}[what]
        return f"{value:.2f}" if what != "mem" else f"{value:.0f}"


def measure(cmd: list[str], cwd: Path, timeout: float) -> Measurement:
    """Run ``cmd`` in ``cwd``; its own CPU time and peak RSS through ``os.wait4``."""
    err_path = cwd / f".bench-stderr-{time.monotonic_ns()}"
    with open(err_path, "wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
        deadline = start + timeout
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, 9)
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.02)
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    tail = "\n".join(err_path.read_text(errors="replace").splitlines()[-8:])
    err_path.unlink()
    return Measurement(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                       proc.returncode, timed_out, tail)


def ratio(snake: Measurement, sci: Measurement, what: str) -> str:
    if not (snake.ok and sci.ok):
        return "n/a"
    a = {"wall": snake.wall_s, "cpu": snake.cpu_s, "mem": snake.peak_mb}[what]
    b = {"wall": sci.wall_s, "cpu": sci.cpu_s, "mem": sci.peak_mb}[what]
    return f"{a / b:.1f}x" if b > 0 else "inf"


class Report:
    """Collects rows and prints them as aligned tables (plain text, pasteable into markdown)."""

    def __init__(self) -> None:
        self.sections: list[tuple[str, list[str], list[list[str]]]] = []

    def table(self, title: str, header: list[str], rows: list[list[str]]) -> None:
        self.sections.append((title, header, rows))
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        print(f"\n## {title}", flush=True)
        for r in [header, ["-" * w for w in widths], *rows]:
            print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |", flush=True)


def fresh(root: Path, name: str) -> Path:
    path = root / name
    shutil.rmtree(path, ignore_errors=True)
    return path


def warn_failures(label: str, *ms: Measurement) -> None:
    for m in ms:
        if not m.ok:
            print(f"  ! {label}: {'timeout' if m.timed_out else 'exit ' + str(m.returncode)}\n"
                  f"    {m.stderr_tail}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- sections
def bench_script(name: str, extra: list[str]) -> None:
    """Run another stage's benchmark script as is (its own output is its report)."""
    script = HERE / name
    if not script.exists():
        print(f"\n## {name}: not present (skipped)")
        return
    print(f"\n## {name} {' '.join(extra)}", flush=True)
    args = [sys.executable, str(script), *extra]
    res = subprocess.run(args, cwd=HERE.parent, timeout=3600)
    if res.returncode != 0:
        print(f"  ! {name} exited {res.returncode}", file=sys.stderr)


def check_job_count(wf: Path, jobs: int) -> None:
    """Both tools must plan the number of jobs the generator promises, else ratios lie."""
    import json
    import re

    res = subprocess.run(SCIFLOW + ["run", "-n", "--json", "-c1"], cwd=wf, capture_output=True,
                         text=True)
    got = len(json.loads(res.stdout)["jobs"]) if res.returncode == 0 else None
    res = subprocess.run(SNAKEMAKE + ["-n", "-c1"], cwd=wf, capture_output=True, text=True)
    m = re.search(r"^total\s+(\d+)$", res.stdout + res.stderr, re.M)
    want = int(m.group(1)) if m else None
    if not (got == want == jobs):
        print(f"  ! {wf.name}: jobs planned: sciflow {got}, snakemake {want}, generator {jobs}",
              file=sys.stderr)


def median_of(cmds: list[list[str]], cwd: Path, timeout: float,
              repeats: int) -> list[Measurement]:
    """Each command ``repeats`` times, alternated (so load drifts hit all alike); per command
    the run of median CPU (or the first failure)."""
    runs: list[list[Measurement]] = [[] for _ in cmds]
    for _ in range(repeats):
        for i, cmd in enumerate(cmds):
            runs[i].append(measure(cmd, cwd, timeout))
    picked = []
    for ms in runs:
        bad = [m for m in ms if not m.ok]
        picked.append(bad[0] if bad else sorted(ms, key=lambda m: m.cpu_s)[len(ms) // 2])
    return picked


def fraction(snake: Measurement, sci: Measurement) -> str:
    return f"{sci.cpu_s / snake.cpu_s:.3f}" if snake.ok and sci.ok and snake.cpu_s else "n/a"


def bench_startup(root: Path, report: Report, timeout: float) -> None:
    """The fixed cost a user pays on every command: ``run -n`` of a one-rule workflow."""
    wf = fresh(root, "startup")
    wf.mkdir(parents=True)
    (wf / "Snakefile").write_text('rule all:\n    output: "a.txt"\n    shell: "touch {output}"\n')
    sm, sf = median_of([SNAKEMAKE + ["-n", "-q", "-c1"], SCIFLOW + ["run", "-n", "-q", "-c1"]],
                       wf, timeout, 7)
    warn_failures("start-up", sm, sf)
    report.table("Start-up: `run -n` of a 1-job workflow (median of 7)",
                 ["snakemake wall", "sciflow wall", "snakemake cpu", "sciflow cpu",
                  "sciflow/snakemake cpu"],
                 [[sm.cell("wall"), sf.cell("wall"), sm.cell("cpu"), sf.cell("cpu"),
                   fraction(sm, sf)]])


def bench_dryrun(root: Path, sizes: list[int], report: Report, timeout: float) -> None:
    rows = []
    for shape in ("fanout", "chain"):
        for n in sizes:
            wf = gen.SHAPES[shape](n, fresh(root, f"dry-{shape}-{n}"))
            jobs = gen.expected_jobs(shape, n)
            if n == sizes[0]:
                check_job_count(wf, jobs)
            sm, sf = median_of([SNAKEMAKE + ["-n", "-q", "-c1"],
                                SCIFLOW + ["run", "-n", "-q", "-c1"]],
                               wf, timeout, 3 if n <= 10_000 else 1)
            warn_failures(f"dry run {shape} {n}", sm, sf)
            rows.append([shape, str(jobs), sm.cell("cpu"), sf.cell("cpu"), fraction(sm, sf),
                         sm.cell("mem"), sf.cell("mem"), ratio(sm, sf, "mem"),
                         f"{sf.cpu_s / jobs * 1e3:.3f}" if sf.ok else "n/a"])
            print(f"  dry run {shape} {jobs} jobs done", file=sys.stderr, flush=True)
            shutil.rmtree(wf, ignore_errors=True)
    report.table("Dry run (CPU s, peak MB; median of 3 up to 10,000 jobs)",
                 ["shape", "jobs", "snakemake cpu", "sciflow cpu", "sciflow/snakemake cpu",
                  "snakemake MB", "sciflow MB", "mem ratio", "sciflow ms/job"], rows)


def _precreate_fanout(wf: Path) -> None:
    """Write every output of a generated fan-out in dependency order (older first)."""
    (wf / "source.txt").write_text("source\n")
    (wf / "work").mkdir(exist_ok=True)
    ids = (wf / "ids.txt").read_text().split()
    for i in ids:
        (wf / "work" / f"{i}.txt").write_text(f"{i}\n")
    time.sleep(0.05)
    (wf / "gathered.txt").write_text(f"{len(ids)}\n")


def bench_noop(root: Path, n: int, report: Report, timeout: float) -> None:
    rows = []
    results = {}
    for tool, cmd in (("snakemake", SNAKEMAKE), ("sciflow", SCIFLOW + ["run"])):
        wf = gen.fanout(n, fresh(root, f"noop-{tool}"))
        _precreate_fanout(wf)
        touch = measure(cmd + ["--touch", "-c2"], wf, timeout)  # records each tool's metadata
        warn_failures(f"{tool} --touch", touch)
        results[tool] = measure(cmd + ["-c2"], wf, timeout)
        warn_failures(f"{tool} no-op rerun", results[tool])
        shutil.rmtree(wf, ignore_errors=True)
    sm, sf = results["snakemake"], results["sciflow"]
    rows.append([str(gen.expected_jobs("fanout", n)), sm.cell("wall"), sf.cell("wall"),
                 ratio(sm, sf, "wall"), sm.cell("cpu"), sf.cell("cpu")])
    report.table("No-op rerun of a built fan-out (wall s)", ["jobs", "snakemake wall",
                 "sciflow wall", "ratio", "snakemake cpu", "sciflow cpu"], rows)


def bench_trivial(root: Path, n: int, n_run: int, report: Report, timeout: float) -> None:
    rows = []
    for kind, count in (("shell", n), ("run", n_run)):
        wf_sm = gen.trivial(count, fresh(root, f"triv-{kind}-sm"), kind)
        wf_sf = gen.trivial(count, fresh(root, f"triv-{kind}-sf"), kind)
        sm = measure(SNAKEMAKE + ["-c2", "-q"], wf_sm, timeout)
        sf = measure(SCIFLOW + ["run", "-c2"], wf_sf, timeout)
        warn_failures(f"trivial {kind}", sm, sf)
        for wf in (wf_sm, wf_sf):  # both must really have made every file
            made = len(list((wf / "out").glob("*.txt"))) if (wf / "out").exists() else 0
            if made != count:
                print(f"  ! {wf.name}: {made} of {count} outputs", file=sys.stderr)
        rows.append([kind, str(count), sm.cell("wall"), sf.cell("wall"), ratio(sm, sf, "wall"),
                     f"{sf.wall_s / count * 1e3:.1f}" if sf.ok else "n/a"])
        shutil.rmtree(wf_sm, ignore_errors=True)
        shutil.rmtree(wf_sf, ignore_errors=True)
    report.table("Trivial jobs on 2 cores (wall s)", ["action", "jobs", "snakemake", "sciflow",
                 "ratio", "sciflow ms/job"], rows)


def bench_provenance_cost(root: Path, n: int, report: Report, timeout: float,
                          repeats: int = 6) -> None:
    """After one discarded warm-up of each, alternate runs with and without provenance (fresh
    directories each time) and compare medians: one pair is meaningless on a shared machine.
    Six of each, not three: on this 2-core VM the same `--no-provenance` run took 7.4-10.1 s
    within ten minutes, and medians of three swung from +5% to +27% (3 December, see
    benchmarks/README.md). CPU includes the worker processes."""
    import statistics

    runs: dict[str, list[Measurement]] = {"on": [], "off": []}
    for mode, extra in (("on", []), ("off", ["--no-provenance"])):  # warm-up, discarded:
        measure(SCIFLOW + ["run", "-c2", *extra],  # imports and disk caches for both modes
                gen.trivial(n, fresh(root, f"prov-warm-{mode}")), timeout)
        shutil.rmtree(root / f"prov-warm-{mode}", ignore_errors=True)
    for i in range(repeats):
        for mode, extra in (("on", []), ("off", ["--no-provenance"])):
            m = measure(SCIFLOW + ["run", "-c2", *extra],
                        gen.trivial(n, fresh(root, f"prov-{mode}-{i}")), timeout)
            warn_failures(f"provenance {mode}", m)
            runs[mode].append(m)
            shutil.rmtree(root / f"prov-{mode}-{i}", ignore_errors=True)
    ok = all(m.ok for ms in runs.values() for m in ms)

    def med(mode: str, attr: str) -> float:
        return statistics.median(getattr(m, attr) for m in runs[mode])

    def pct(attr: str) -> str:
        return f"{(med('on', attr) / med('off', attr) - 1) * 100:+.1f}%" if ok else "n/a"

    fmt = lambda mode, attr: f"{med(mode, attr):.2f}" if ok else "n/a"  # noqa: E731
    report.table(f"Provenance cost, {n} trivial shell jobs (median of {repeats}, alternated)",
                 ["measure", "with provenance", "--no-provenance", "extra"],
                 [["wall s", fmt("on", "wall_s"), fmt("off", "wall_s"), pct("wall_s")],
                  ["CPU s (all processes)", fmt("on", "cpu_s"), fmt("off", "cpu_s"), pct("cpu_s")]])


SECTIONS = ("startup", "parse", "dryrun", "noop", "trivial", "provenance")


def _bytecode_ready() -> None:
    """Compile sciflow's modules to bytecode first, as ``pip install`` does for a wheel: an
    editable checkout run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile ~60 modules
    from source on every command (~90 ms measured), which no installed user pays."""
    import compileall

    import sciflow

    compileall.compile_dir(str(Path(sciflow.__file__).parent), quiet=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (minutes, not hours)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections: {', '.join(SECTIONS)}")
    ap.add_argument("--timeout", type=float, default=1800, help="per command, seconds")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    sizes = [1000, 5000, 10000] if args.quick else [10_000, 50_000, 200_000]
    n_noop = 2000 if args.quick else 10_000
    n_shell, n_run = (200, 100) if args.quick else (1000, 1000)

    for tool in (SCIFLOW[0], SNAKEMAKE[0]):
        if not Path(tool).exists():
            print(f"missing {tool}: run `make install`", file=sys.stderr)
            return 2
    import platform
    print(f"# sciflow benchmarks {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
          f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}"
          f"{' (--quick)' if args.quick else ''}", flush=True)
    _bytecode_ready()
    report = Report()
    root = Path(tempfile.mkdtemp(prefix="sciflow-bench-"))
    try:
        if "startup" in only:
            bench_startup(root, report, args.timeout)
        if "parse" in only:
            bench_script("bench_parse.py", ["--rules", "5000"])
        if "dryrun" in only:
            bench_dryrun(root, sizes, report, args.timeout)
        if "noop" in only:
            bench_noop(root, n_noop, report, args.timeout)
        if "trivial" in only:
            bench_trivial(root, n_shell, n_run, report, args.timeout)
        if "provenance" in only:
            bench_provenance_cost(root, n_shell, report, args.timeout)
            bench_script("bench_provenance.py", ["--jobs", "2000" if args.quick else "10000"])
    finally:
        if args.keep:
            print(f"scratch kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
