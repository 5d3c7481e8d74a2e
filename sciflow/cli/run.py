"""``sciflow run``: plan and run a workflow (``-n`` shows the plan, ``-n --json`` for tools).

Exit status: 0 success (or nothing to do), 1 workflow or job error, 2 bad usage.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from sciflow.cli import add_workflow_arguments
from sciflow.errors import UsageError

CLUSTERS = ("slurm", "pbs", "sge", "lsf", "kubernetes")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="run a workflow (or show its plan with -n)",
                              description="Run the jobs needed to make TARGETs (default: the "
                                          "workflow's default target rule).")
    add_workflow_arguments(p)
    p.add_argument("-c", "--cores", type=_positive_int, metavar="N",
                   help="cores of the local cluster (default: all)")
    p.add_argument("-n", "--dry-run", action="store_true", help="show what would run and why")
    p.add_argument("--json", action="store_true", help="with -n: print the plan as JSON on stdout")
    p.add_argument("--forceall", "-F", action="store_true", help="run every job of the DAG")
    p.add_argument("-R", "--forcerun", nargs="+", default=[], metavar="RULE",
                   help="run these rules' jobs (and everything downstream)")
    p.add_argument("--until", "-U", nargs="+", default=[], metavar="RULE",
                   help="run only jobs upstream of (and including) these rules")
    p.add_argument("-k", "--keep-going", action="store_true",
                   help="go on with independent jobs when a job fails")
    p.add_argument("--rerun-incomplete", "--ri", action="store_true",
                   help="rerun jobs whose outputs are incomplete")
    p.add_argument("--keep-incomplete", action="store_true",
                   help="do not remove outputs of failed jobs")
    p.add_argument("-t", "--touch", action="store_true",
                   help="mark existing outputs up to date instead of running jobs")
    p.add_argument("--config", "-C", nargs="+", default=[], metavar="KEY=VALUE",
                   help="set or override config values")
    p.add_argument("--configfile", "--configfiles", nargs="+", default=[], metavar="FILE",
                   dest="configfiles", help="config files (YAML/JSON), applied after configfile:")
    p.add_argument("--scheduler", metavar="ADDR", help="run on an existing Dask scheduler")
    p.add_argument("--cluster", choices=CLUSTERS, help="run on a batch system through dask-jobqueue")
    p.add_argument("--cluster-option", nargs="+", default=[], metavar="KEY=VALUE",
                   dest="cluster_options", help="options for the cluster (queue=, memory=, ...)")
    p.add_argument("--profile", metavar="FILE", help="YAML file (or directory with config.yaml) "
                   "of option defaults")
    p.add_argument("--no-provenance", action="store_true", help="do not record provenance")
    p.add_argument("--unlock", action="store_true", help="remove stale locks and exit")
    p.add_argument("--force", action="store_true",
                   help="with --unlock: also remove locks whose run is still alive")
    p.add_argument("--use-conda", action="store_true", help="run jobs in their conda environments")
    p.add_argument("--use-apptainer", "--use-singularity", action="store_true",
                   help="run jobs in their containers with apptainer")
    p.add_argument("-p", "--printshellcmds", action="store_true", help="print shell commands")
    p.add_argument("--atomic-outputs", action="store_true",
                   help="jobs write to temporary paths beside their outputs, renamed into place "
                        "only on success (commands then see those paths in {output})")
    p.set_defaults(func=main)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_key_values(items: Sequence[str], option: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values parsed as YAML scalars (``3`` → 3, ``true`` → True), as
    Snakemake's ``--config`` does."""
    out: dict[str, Any] = {}
    if not items:
        return out  # no yaml import (~10 ms, ~2 MB) for a run without --config
    import yaml

    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} {item!r}: expected KEY=VALUE")
        try:
            parsed = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            parsed = value
        out[key] = parsed if isinstance(parsed, (int, float, bool, str, list, dict)) or parsed is None else value
    return out


def options_from_args(args: argparse.Namespace) -> Any:
    from sciflow.engine import RunOptions

    if args.json and not args.dry_run:
        raise UsageError("--json needs -n/--dry-run")
    return RunOptions(
        targets=list(args.targets), snakefile=args.snakefile, directory=args.directory,
        cores=args.cores, dry_run=args.dry_run, json=args.json, forceall=args.forceall,
        forcerun=list(args.forcerun), until=list(args.until), keep_going=args.keep_going,
        rerun_incomplete=args.rerun_incomplete, keep_incomplete=args.keep_incomplete,
        touch=args.touch, config=parse_key_values(args.config, "--config"),
        configfiles=list(args.configfiles), scheduler=args.scheduler, cluster=args.cluster,
        cluster_options=parse_key_values(args.cluster_options, "--cluster-option"),
        profile=args.profile, provenance=not args.no_provenance, unlock=args.unlock,
        force=args.force,
        use_conda=args.use_conda, use_apptainer=args.use_apptainer,
        printshellcmds=args.printshellcmds, atomic_outputs=args.atomic_outputs,
        command_line=["sciflow", *sys.argv[1:]])


def main(args: argparse.Namespace) -> int:
    from sciflow.engine import run

    options = options_from_args(args)
    listeners = []
    if not options.dry_run:
        from sciflow.progress import ConsoleProgress

        listeners.append(ConsoleProgress(printshellcmds=options.printshellcmds))
    summary = run(options, listeners=listeners)
    if options.unlock:
        print(f"removed {summary.unlocked} lock(s)", file=sys.stderr)
        return 0
    if options.dry_run:
        if options.json:
            json.dump(summary.plan.to_json(), sys.stdout)
            sys.stdout.write("\n")
        else:
            print_plan(summary.plan)
        return 0
    if summary.touched:
        print(f"touched {summary.touched} output file(s)", file=sys.stderr)
    elif not summary.plan.jobs:
        print("Nothing to be done (all requested files are present and up to date).", file=sys.stderr)
    return 0 if summary.ok else 1


def print_plan(plan: Any, out: Any = None) -> None:
    """Each job with its reason, then Snakemake's "Job stats" table. Written one block of
    jobs at a time: few writes, yet no copy of the whole text in memory (200k jobs)."""
    out = out or sys.stdout
    if not plan.jobs:
        print("Nothing to be done (all requested files are present and up to date).", file=out)
        return
    lines: list[str] = []
    add = lines.append
    for n, job in enumerate(plan.jobs, 1):
        if n % 2000 == 0:
            out.write("\n".join(lines) + "\n")
            lines.clear()
        add(f"\n{'checkpoint' if job.rule.checkpoint else 'rule'} {job.rule.name}:")
        if job.input:
            add(f"    input: {', '.join(map(str, job.input))}")
        if job.output:
            add(f"    output: {', '.join(map(str, job.output))}")
        add(f"    jobid: {job.jobid}")
        add(f"    reason: {job.reason_text}")
        if job.wildcards.keys():
            add("    wildcards: " + ", ".join(f"{k}={v}" for k, v in job.wildcards.items()))
    counts = plan.counts_by_rule()
    width = max(len("total"), len("job"), *(len(r) for r in counts))
    total = sum(counts.values())
    num = max(len("count"), len(str(total)))
    add("\nJob stats:")
    add(f"{'job':<{width}}  {'count':>{num}}")
    add(f"{'-' * width}  {'-' * num}")
    for rule, n in counts.items():
        add(f"{rule:<{width}}  {n:>{num}}")
    add(f"{'total':<{width}}  {total:>{num}}")
    add("\nThis was a dry-run (flag -n). The order of jobs does not reflect the order of "
        "execution.")
    out.write("\n".join(lines) + "\n")
