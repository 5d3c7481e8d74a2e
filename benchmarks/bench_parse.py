"""Benchmark: load a generated N-rule Snakefile with sciflow and with Snakemake, same run.

    python benchmarks/bench_parse.py --rules 5000

Each side runs in a fresh subprocess (imports excluded from the timing) and loads the same
file: sciflow's ``load_workflow`` (parse + compile + execute, i.e. the full ``Workflow``) and
Snakemake's API (``SnakemakeApi(...).workflow(...)._workflow``, which parses and builds its
rules). Prints both times (wall and CPU: the CPU time is steadier on a busy machine) and the
ratios Snakemake/sciflow (> 1 means sciflow is faster).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_SCIFLOW = """
import json, sys, time
from sciflow.parse import load_workflow
t0, c0 = time.perf_counter(), time.process_time()
wf = load_workflow(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
                  "rules": len(wf.rules)}))
"""

_SNAKEMAKE = """
import json, sys, time
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, ResourceSettings
t0, c0 = time.perf_counter(), time.process_time()
with SnakemakeApi(OutputSettings(quiet=True)) as api:
    wf = api.workflow(resource_settings=ResourceSettings(), snakefile=Path(sys.argv[1]))._workflow
    n = len(wf.rules)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rules": n}))
"""


def generate(n_rules: int) -> str:
    """A realistic Snakefile: a target rule, then rules with named/multi-line inputs, comments,
    params with lambdas, threads, resources, log and shell."""
    parts = ['SAMPLES = ["a", "b", "c"]\n\n',
             'rule all:\n    input:\n        expand("out/r{i}_{s}.txt", i=range(%d), s=SAMPLES),\n\n'
             % n_rules]
    for i in range(n_rules):
        parts.append(
            f"rule r{i}:\n"
            f"    input:\n"
            f"        \"data/{{s}}.txt\",  # raw data\n"
            f"        ref=\"ref/genome.fa\",\n"
            f"    output: \"out/r{i}_{{s}}.txt\"\n"
            f"    params: k={i}, extra=lambda wildcards: wildcards.s.upper()\n"
            f"    threads: 2\n"
            f"    resources: mem_mb=1000\n"
            f"    log: \"logs/r{i}_{{s}}.log\"\n"
            f"    shell: \"cat {{input}} > {{output}} 2> {{log}}\"\n\n")
    return "".join(parts)


def _time(script: str, snakefile: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", script, snakefile.name], cwd=snakefile.parent,
                            capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(n_rules: int = 5000) -> dict:
    """Time both loaders on one generated file; returns the numbers (for benchmarks/run.py)."""
    with tempfile.TemporaryDirectory() as tmp:
        snakefile = Path(tmp) / "Snakefile"
        snakefile.write_text(generate(n_rules))
        ours = _time(_SCIFLOW, snakefile)
        try:
            theirs = _time(_SNAKEMAKE, snakefile)
        except (RuntimeError, ImportError) as exc:  # snakemake missing or failing
            theirs = {"seconds": None, "cpu_seconds": None, "rules": None,
                      "error": str(exc)[-500:]}
    ratio = theirs["seconds"] / ours["seconds"] if theirs.get("seconds") else None
    cpu_ratio = theirs["cpu_seconds"] / ours["cpu_seconds"] if theirs.get("cpu_seconds") else None
    return {"rules": n_rules, "sciflow_seconds": ours["seconds"],
            "sciflow_cpu_seconds": ours["cpu_seconds"], "sciflow_rules": ours["rules"],
            "snakemake_seconds": theirs["seconds"], "snakemake_cpu_seconds": theirs["cpu_seconds"],
            "snakemake_rules": theirs["rules"], "ratio_snakemake_over_sciflow": ratio,
            "cpu_ratio_snakemake_over_sciflow": cpu_ratio}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=int, default=5000, help="rules in the generated file")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = run(args.rules)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"parse+load of a {args.rules}-rule Snakefile")
    print(f"  sciflow:   {result['sciflow_seconds']:.2f} s wall, "
          f"{result['sciflow_cpu_seconds']:.2f} s CPU ({result['sciflow_rules']} rules)")
    if result["snakemake_seconds"] is None:
        print("  snakemake: unavailable")
        return 0
    print(f"  snakemake: {result['snakemake_seconds']:.2f} s wall, "
          f"{result['snakemake_cpu_seconds']:.2f} s CPU ({result['snakemake_rules']} rules)")
    print(f"  ratio snakemake/sciflow: {result['ratio_snakemake_over_sciflow']:.2f}x wall, "
          f"{result['cpu_ratio_snakemake_over_sciflow']:.2f}x CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
