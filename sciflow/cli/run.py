"""``sciflow run``: plan and run a workflow (``-n`` shows the plan, ``-n --json`` for tools).

Snakemake's command-line habits work as in Snakemake 9: ``-c``/``--cores all`` (all cores),
``-j N`` (an alias of ``--cores`` for local runs), ``--profile``/``--workflow-profile``
(``sciflow.profile``), ``--set-threads``, ``--set-resources``, ``--default-resources``,
``--retries``, ``--latency-wait``, ``--all-temp``, ``--notemp`` (``sciflow.resources_config``),
``--omit-from``, ``--replace-workflow-config``, ``--max-jobs-per-timespan``, ``--executor``,
and the views that run nothing: ``-l``, ``-S``, ``-D``, ``--list-changes``, ``--dag``,
``--rulegraph``, ``--report``.

Every option defaults to ``None`` in the parser, so that "given on the command line" can be
told from "not given": a profile fills only what the command line left out, then ``DEFAULTS``
fills the rest. Exit status: 0 success (or nothing to do), 1 workflow or job error, 2 bad usage.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any, Sequence

from sciflow.cli import add_workflow_arguments
from sciflow.errors import RunFailedError, UsageError

CLUSTERS = ("slurm", "pbs", "sge", "lsf", "kubernetes")
GRAPH_FORMATS = ("dot", "mermaid", "mermaid-js", "svg")
QUIET_CHOICES = ("all", "host", "progress", "reason", "rules")

# Values of options the command line and the profiles left unset.
DEFAULTS: dict[str, Any] = {
    "dry_run": False, "json": False, "forceall": False, "forcerun": [], "until": [],
    "omit_from": [], "replace_workflow_config": False,
    "consider_ancient": [], "no_content_check": False,
    "keep_going": False, "rerun_incomplete": False, "keep_incomplete": False, "touch": False,
    "config": [], "configfiles": [], "cluster_options": [], "no_provenance": False, "orcid": None,
    "unlock": False, "use_conda": False, "use_apptainer": False, "use_envmodules": False,
    "printshellcmds": False, "atomic_outputs": False, "set_threads": [], "set_resources": [],
    "all_temp": False, "notemp": False, "list_rules": False, "summary": False,
    "detailed_summary": False, "list_target_rules": False, "no_tls": False, "set_scatter": [],
    "kill_on_failure": False, "verbose": False, "force": False,
    "show_failed_logs": False, "log_format": "text",
}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="run a workflow (or show its plan with -n)",
                              description="Run the jobs needed to make TARGETs (default: the "
                                          "workflow's default target rule).")
    add_run_arguments(p)
    p.set_defaults(func=main)


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Every ``sciflow run`` option (also read by ``sciflow.profile`` to validate profiles)."""
    add_workflow_arguments(p)
    flag = dict(action="store_true", default=None)
    ex = p.add_argument_group("execution")
    ex.add_argument("-c", "--cores", type=_cores, nargs="?", const="all", metavar="N",
                    help="cores of the local cluster: a number, or 'all' (also a bare -c; "
                         "default: all)")
    ex.add_argument("-j", "--jobs", type=_jobs, metavar="N",
                    help="for local runs an alias of --cores, as in Snakemake ('unlimited': all)")
    ex.add_argument("-n", "--dry-run", "--dryrun", **flag, help="show what would run and why")
    ex.add_argument("--json", **flag, help="with -n: print the plan as JSON on stdout")
    ex.add_argument("--forceall", "-F", **flag, help="run every job of the DAG")
    ex.add_argument("-R", "--forcerun", nargs="+", metavar="RULE",
                    help="run these rules' jobs (and everything downstream)")
    ex.add_argument("--until", "-U", nargs="+", metavar="RULE",
                    help="run only jobs upstream of (and including) these rules")
    ex.add_argument("--omit-from", "-O", nargs="+", metavar="TARGET",
                    help="leave out these rules or files and everything downstream of them")
    ex.add_argument("--consider-ancient", nargs="+", metavar="RULE=INPUTITEM",
                    help="treat these inputs of a rule (input names or positions, comma-"
                         "separated) as ancient(): newer files do not rerun it")
    ex.add_argument("--no-content-check", **flag,
                    help="an HDF5/NetCDF input rewritten with other bytes but the same content "
                         "fingerprint counts as changed (by default it does not)")
    ex.add_argument("-k", "--keep-going", **flag,
                    help="go on with independent jobs when a job fails")
    ex.add_argument("--kill-on-failure", **flag,
                    help="without -k: kill running jobs at the first failure (default: they "
                         "finish; jobs not started are cancelled either way)")
    ex.add_argument("--verbose", **flag, help="show Dask's own log lines")
    ex.add_argument("--show-failed-logs", **flag,
                    help="print the log files of failed jobs in full after the run")
    ex.add_argument("--log-format", choices=("text", "json"),
                    help="json: one JSON object per engine event (run/job start, end, failure) "
                         "instead of the progress display, for log collectors")
    ex.add_argument("--log-file", metavar="FILE",
                    help="write the progress lines (or JSON events) to FILE, not stderr")
    ex.add_argument("--rerun-incomplete", "--ri", **flag,
                    help="rerun jobs whose outputs are incomplete")
    ex.add_argument("--keep-incomplete", **flag, help="do not remove outputs of failed jobs")
    ex.add_argument("-t", "--touch", **flag,
                    help="mark existing outputs up to date instead of running jobs")
    ex.add_argument("--config", "-C", nargs="+", metavar="KEY=VALUE",
                    help="set or override config values")
    ex.add_argument("--configfile", "--configfiles", nargs="+", metavar="FILE",
                    dest="configfiles", help="config files (YAML/JSON), applied after configfile:")
    ex.add_argument("--replace-workflow-config", **flag,
                    help="--configfile/--config replace the config of the workflow's configfile: "
                         "instead of updating it")
    ex.add_argument("--scheduler", metavar="ADDR", help="run on an existing Dask scheduler")
    ex.add_argument("--tls-ca-file", metavar="PEM", help="CA certificate of a TLS --scheduler")
    ex.add_argument("--tls-cert", metavar="PEM", help="client certificate for a TLS --scheduler")
    ex.add_argument("--tls-key", metavar="PEM", help="client key for a TLS --scheduler")
    ex.add_argument("--no-tls", **flag,
                    help="no TLS on the cluster sciflow starts (any local process could use it)")
    ex.add_argument("--executor", "-e", metavar="NAME",
                    help="Snakemake's executor names: local and dask = sciflow's local Dask "
                         "cluster (the default), dryrun = -n, touch = -t, "
                         + ", ".join(CLUSTERS) + " = --cluster NAME")
    ex.add_argument("--cluster", choices=CLUSTERS, help="run on a batch system through dask-jobqueue")
    ex.add_argument("--cluster-option", nargs="+", metavar="KEY=VALUE",
                    dest="cluster_options", help="options for the cluster (queue=, memory=, ...)")
    ex.add_argument("--profile", action="append", metavar="NAME",
                    help="a Snakemake profile: a folder (or YAML file) given by path, or a name "
                         "looked up in ./, $XDG_CONFIG_HOME/snakemake, /etc/xdg/snakemake "
                         "(default: $SNAKEMAKE_PROFILE; 'none': no profile); repeatable")
    ex.add_argument("--workflow-profile", metavar="DIR",
                    help="the workflow's own profile (default: profiles/default, here or beside "
                         "the workflow file, if present; 'none': no workflow profile)")
    ex.add_argument("--no-provenance", **flag, help="do not record provenance")
    ex.add_argument("--orcid", metavar="ID",
                    help="the researcher's ORCID iD, recorded in the provenance as a prov:Person "
                         "(default: $SCIFLOW_ORCID, else the config key 'orcid')")
    ex.add_argument("--unlock", **flag, help="remove stale locks and exit")
    ex.add_argument("--force", **flag,
                    help="with --unlock: also remove locks whose run is still alive")
    ex.add_argument("-p", "--printshellcmds", **flag, help="print shell commands")
    ex.add_argument("-q", "--quiet", nargs="*", choices=QUIET_CHOICES, metavar="WHAT",
                    help="print no progress (bare -q; with -n: only the job stats); "
                         "'all': nothing but errors")
    ex.add_argument("--set-scatter", nargs="+", metavar="NAME=N",
                    help="number of parts of a scattergather: scatter")
    ex.add_argument("--atomic-outputs", **flag,
                    help="jobs write to temporary paths beside their outputs, renamed into place "
                         "only on success (commands then see those paths in {output})")

    tune = p.add_argument_group("tuning (as Snakemake)")
    tune.add_argument("--set-threads", nargs="+", metavar="RULE=THREADS",
                      help="override rules' threads")
    tune.add_argument("--set-resources", nargs="+", metavar="RULE:RESOURCE=VALUE",
                      help="override rules' resources (integers or Python expressions)")
    tune.add_argument("--default-resources", "--default-res", nargs="*", metavar="NAME=VALUE",
                      help="resources of rules that do not set them: Snakemake's defaults "
                           "(mem_mb, disk_mb from input.size_mb; tmpdir) plus these; values may "
                           "be expressions, e.g. 'disk_mb=max(2*input.size_mb, 1000)'")
    tune.add_argument("--retries", "--restart-times", "-T", type=_non_negative_int, metavar="N",
                      help="rerun a failed job up to N times (rules without retries:)")
    tune.add_argument("--latency-wait", "--output-wait", "-w", type=_seconds, metavar="SECONDS",
                      help="wait this long for a finished job's outputs to appear (shared "
                           "filesystems; default: 0 locally, 5 with --cluster)")
    tune.add_argument("--max-jobs-per-timespan", type=_jobs_per_timespan, metavar="N/SPAN",
                      help="start at most N jobs in any SPAN (e.g. 50/1m, 2/1s; units ms, s, "
                           "m, h, d, w); default: no limit (Snakemake's: 100/1s)")
    tune.add_argument("--max-jobs-per-second", type=_per_second, metavar="N",
                      dest="max_jobs_per_timespan", help="= --max-jobs-per-timespan N/1s")
    tune.add_argument("--all-temp", **flag, help="mark every output temp() (targets are kept)")
    tune.add_argument("--notemp", "--no-temp", "--nt", **flag, help="ignore temp() declarations")

    env = p.add_argument_group("software environments")
    env.add_argument("--use-conda", **flag, help="run jobs in their conda environments")
    env.add_argument("--software-deployment-method", "--deployment-method", "--sdm",
                     nargs="+", choices=("conda", "apptainer", "env-modules"), metavar="METHOD",
                     help="Snakemake 8's spelling: conda = --use-conda, apptainer = "
                          "--use-apptainer, env-modules = --use-envmodules")
    env.add_argument("--conda-frontend", choices=("conda", "mamba", "micromamba"),
                     help="which program creates conda environments (default: the first of "
                          "conda, mamba, micromamba on PATH)")
    env.add_argument("--conda-cleanup-pkgs", choices=("tarballs", "cache"),
                     help="after creating environments, remove downloaded tarballs ('cache': "
                          "and unused package caches)")
    env.add_argument("--conda-prefix", metavar="DIR", help="where conda environments are created")
    env.add_argument("--use-apptainer", "--use-singularity", **flag,
                     help="run jobs in their containers with apptainer")
    env.add_argument("--use-envmodules", **flag, help="load rules' envmodules: before their jobs")
    env.add_argument("--wrapper-prefix", metavar="URL",
                     help="where wrapper: directives are fetched from (a local clone: "
                          "file:///path/to/snakemake-wrappers/)")
    env.add_argument("--shadow-prefix", metavar="DIR", help="where shadow: directories are made")
    env.add_argument("--cache", nargs="*", metavar="RULE",
                     help="cache the outputs of these rules (none given: every rule with cache:)")

    views = p.add_argument_group("views (run nothing)")
    views.add_argument("-l", "--list", "--list-rules", dest="list_rules", **flag,
                       help="list the rules, with their docstrings")
    views.add_argument("--list-target-rules", "--lt", **flag,
                       help="list the rules without wildcards (those that can be targets)")
    views.add_argument("-S", "--summary", **flag,
                       help="each output file: date, rule, log files, status, plan")
    views.add_argument("-D", "--detailed-summary", **flag,
                       help="--summary with input files and shell command")
    views.add_argument("--list-changes", "--lc", choices=("code", "input", "params"),
                       help="output files whose code, input set or params changed")
    views.add_argument("--list-params-changes", "--lp", dest="list_changes",
                       action="store_const", const="params", help="= --list-changes params")
    views.add_argument("--list-input-changes", "--li", dest="list_changes",
                       action="store_const", const="input", help="= --list-changes input")
    views.add_argument("--dag", nargs="?", const="dot", choices=GRAPH_FORMATS,
                       help="print the job graph (as 'sciflow dag'; default format dot)")
    views.add_argument("--rulegraph", nargs="?", const="dot", choices=GRAPH_FORMATS,
                       help="print the rule graph (as 'sciflow dag --rulegraph')")
    views.add_argument("--report", nargs="?", const="report.html", metavar="FILE",
                       help="write the HTML report of the latest run (as 'sciflow report')")


def _apply_executor(args: argparse.Namespace) -> None:
    """``--executor NAME`` (Snakemake 8/9) as the sciflow option that does the same."""
    name = getattr(args, "executor", None)
    if name in (None, "local", "dask"):  # Snakemake's local and Dask executors: the default
        return
    if name == "dryrun":
        args.dry_run = True
    elif name == "touch":
        args.touch = True
    elif name in CLUSTERS:
        if args.cluster not in (None, name):
            raise UsageError(f"--executor {name} and --cluster {args.cluster} disagree")
        args.cluster = name
    else:
        raise UsageError(f"--executor {name}: not an executor sciflow has",
                         hint="Use local or dask (a local Dask cluster, the default), dryrun, "
                              "touch, or a batch system: " + ", ".join(CLUSTERS) +
                              " (through dask-jobqueue, as --cluster NAME); --scheduler ADDR "
                              "runs on an existing Dask cluster.")


def _whole(text: str, minimum: int, expected: str) -> int:
    """A whole number of at least ``minimum``, or argparse's error saying what was expected."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError("must not be negative" if minimum == 0
                                         else f"must be at least {minimum}")
    return value


def _cores(text: str) -> int | str:
    return "all" if text == "all" else _whole(text, 1, "a number or 'all'")


def _jobs(text: str) -> int | str:
    if text in ("unlimited", "all"):
        return "all"
    return _cores(text)


_SPAN_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _jobs_per_timespan(text: str) -> tuple[int, float]:
    """``2/1s`` → (2, 1.0): Snakemake's ``<max_jobs>/<timespan>`` (integers, unit ms/s/m/h/d/w)."""
    import re

    m = re.match(r"(\d+)/(\d+)(ms|s|m|h|d|w)$", text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(
            f"expected <max_jobs>/<timespan>, e.g. 50/1m or 2/1s (units ms, s, m, h, d, w), "
            f"got {text!r}")
    count, span = int(m.group(1)), int(m.group(2)) * _SPAN_UNITS[m.group(3)]
    if count < 1 or span <= 0:
        raise argparse.ArgumentTypeError("both numbers must be at least 1")
    return count, float(span)


def _per_second(text: str) -> tuple[int, float]:
    return _jobs_per_timespan(f"{text}/1s")


def _non_negative_int(text: str) -> int:
    return _whole(text, 0, "a whole number")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a finite number of seconds, at least 0")
    return value


def parse_key_values(items: Sequence[str], option: str) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values parsed as YAML scalars (``3`` → 3, ``true`` → True), as
    Snakemake's ``--config`` does."""
    out: dict[str, Any] = {}
    if not items:
        return out  # no yaml import (~10 ms, ~2 MB) for a run without --config
    from sciflow.configload import parse_config_value

    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} {item!r}: expected KEY=VALUE")
        out[key] = parse_config_value(value, key)
    return out


# ------------------------------------------------------------------------------ profiles
def standalone_parser() -> argparse.ArgumentParser:
    """A parser with every ``sciflow run`` option (profiles are validated against it)."""
    from sciflow.cli.parser import SuggestingParser

    p = SuggestingParser(prog="sciflow run", add_help=False)
    add_run_arguments(p)
    return p


def _workflow_file(args: argparse.Namespace) -> str | None:
    """The workflow file the command line names (for the workflow profile beside it)."""
    from sciflow.engine import RunOptions, find_workflow

    try:
        return find_workflow(RunOptions(snakefile=args.snakefile),
                             os.path.abspath(args.directory or "."))
    except UsageError:
        return None


def apply_profiles(args: argparse.Namespace) -> list[str]:
    """Fill the options the command line left unset from the profiles (``sciflow.profile``),
    then from ``DEFAULTS``. Returns notes for the user (which profiles, ignored keys)."""
    from sciflow.profile import profile_paths, profile_values

    notes: list[str] = []
    paths = profile_paths(args.profile, args.workflow_profile, _workflow_file(args))
    if paths:
        values = profile_values(standalone_parser(), paths, notes)
        for dest, value in values.items():
            if getattr(args, dest, None) is None:
                setattr(args, dest, value)
        notes.insert(0, f"Using profile{'s' if len(paths) > 1 else ''} "
                        f"{' and '.join(map(str, paths))} for setting default command line "
                        "arguments.")
    for dest, value in DEFAULTS.items():
        if getattr(args, dest, None) is None:
            setattr(args, dest, list(value) if isinstance(value, list) else value)
    return notes


def options_from_args(args: argparse.Namespace) -> Any:
    from sciflow.engine import RunOptions
    from sciflow.resources_config import (parse_default_resources, parse_set_resources,
                                          parse_set_threads)

    for dest, value in DEFAULTS.items():  # callers that did not go through apply_profiles
        if getattr(args, dest, None) is None:
            setattr(args, dest, list(value) if isinstance(value, list) else value)
    _apply_executor(args)
    if args.json and not args.dry_run:
        raise UsageError("--json needs -n/--dry-run")
    cores = args.cores if args.cores is not None else args.jobs
    sdm = set(args.software_deployment_method or ())
    return RunOptions(
        targets=list(args.targets), snakefile=args.snakefile, directory=args.directory,
        cores=None if cores == "all" else cores, dry_run=args.dry_run, json=args.json,
        forceall=args.forceall, forcerun=list(args.forcerun), until=list(args.until),
        omit_from=list(args.omit_from),
        max_jobs_per_timespan=getattr(args, "max_jobs_per_timespan", None),
        consider_ancient=list(args.consider_ancient), content_check=not args.no_content_check,
        keep_going=args.keep_going, rerun_incomplete=args.rerun_incomplete,
        keep_incomplete=args.keep_incomplete, touch=args.touch,
        config=parse_key_values(args.config, "--config"), configfiles=list(args.configfiles),
        replace_workflow_config=args.replace_workflow_config,
        scheduler=args.scheduler, cluster=args.cluster,
        cluster_options=parse_key_values(args.cluster_options, "--cluster-option"),
        profile=None,  # applied above, with the command line's precedence
        provenance=not args.no_provenance, orcid=args.orcid or "", unlock=args.unlock,
        force=args.force,
        use_conda=args.use_conda or "conda" in sdm,
        use_apptainer=args.use_apptainer or "apptainer" in sdm,
        conda_frontend=args.conda_frontend, conda_cleanup_pkgs=args.conda_cleanup_pkgs,
        printshellcmds=args.printshellcmds, atomic_outputs=args.atomic_outputs,
        secure_local=not args.no_tls, tls_ca_file=args.tls_ca_file, tls_cert=args.tls_cert,
        tls_key=args.tls_key, shadow_prefix=args.shadow_prefix,
        set_scatter=parse_key_values(args.set_scatter, "--set-scatter"),
        latency_wait=args.latency_wait, retries=args.retries,
        set_threads=parse_set_threads(args.set_threads),
        set_resources=parse_set_resources(args.set_resources),
        default_resources=(parse_default_resources(args.default_resources)
                           if args.default_resources is not None else None),
        all_temp=args.all_temp, notemp=args.notemp, wrapper_prefix=args.wrapper_prefix,
        conda_prefix=args.conda_prefix,
        use_envmodules=args.use_envmodules or "env-modules" in sdm,
        cache=list(args.cache) if args.cache is not None else None,
        verbose=args.verbose, kill_on_failure=args.kill_on_failure,
        command_line=["sciflow", *sys.argv[1:]])


# ------------------------------------------------------------------------------ the command
def main(args: argparse.Namespace) -> int:
    from sciflow.engine import run

    notes = apply_profiles(args)
    quiet = set(args.quiet) if args.quiet is not None else None
    if notes and quiet is None:
        print("\n".join(notes), file=sys.stderr)
    if args.list_rules or args.list_target_rules:
        return _list_rules(args, only_targets=not args.list_rules)
    if args.dag or args.rulegraph:
        return _graph(args)
    if args.report:
        return _report(args)
    options = options_from_args(args)
    if args.summary or args.detailed_summary or args.list_changes:
        return _views(args, options)
    listeners, log_file = _progress_listeners(args, options, quiet)
    try:
        if options.json:
            # what the workflow prints while it loads (banners, print() in a Snakefile) goes
            # to stderr: stdout carries only the JSON plan, for the tools that read it
            with contextlib.redirect_stdout(sys.stderr):
                summary = run(options, listeners=listeners)
        else:
            summary = run(options, listeners=listeners)
    except RunFailedError as exc:
        if args.show_failed_logs:
            _show_failed_logs(exc, options)
        raise
    finally:
        if log_file is not None:
            log_file.close()
    if options.unlock:
        print(f"removed {summary.unlocked} lock(s)", file=sys.stderr)
        return 0
    if options.dry_run:
        if options.json:
            json.dump(summary.plan.to_json(), sys.stdout)
            sys.stdout.write("\n")
        elif quiet is None or "all" not in quiet:
            print_plan(summary.plan, jobs=quiet is None)
        _same_content_note(summary.plan, quiet)
        return 0
    _same_content_note(summary.plan, quiet)
    if quiet is not None and "all" in quiet:
        pass
    elif summary.touched:
        print(f"touched {summary.touched} output file(s)", file=sys.stderr)
    elif not summary.plan.jobs:
        print("Nothing to be done (all requested files are present and up to date).", file=sys.stderr)
    return 0 if summary.ok else 1


def _progress_listeners(args: argparse.Namespace, options: Any,
                        quiet: set[str] | None) -> tuple[list[Any], Any]:
    """The progress display (text) or the JSON event log, on stderr or ``--log-file``."""
    if options.dry_run or options.unlock:
        return [], None
    log_file = None
    if getattr(args, "log_file", None):
        log_file = open(args.log_file, "a", encoding="utf-8", buffering=1)
    if args.log_format == "json":
        from sciflow.jsonlog import JsonLog

        listeners: list[Any] = [JsonLog(log_file)]
        if log_file is None:  # stderr holds the JSON alone
            return listeners, None
    else:
        listeners = []
    if quiet is None or log_file is not None and args.log_format != "json":
        from rich.console import Console

        from sciflow.progress import ConsoleProgress, SafeStream

        stream = log_file if log_file is not None and args.log_format != "json" else sys.stderr
        listeners.append(ConsoleProgress(Console(file=SafeStream(stream)),
                                         printshellcmds=options.printshellcmds))
    return listeners, log_file


FAILED_LOG_MAX_LINES = 2000  # of each log file; the rest is in the file, whose path is shown


def _show_failed_logs(exc: Any, options: Any) -> None:
    """``--show-failed-logs`` (Snakemake's): every log file of each failed job, in full (up to
    FAILED_LOG_MAX_LINES lines each), after the run's summary: its declared ``log:`` files, then
    what sciflow captured of its stdout/stderr."""
    summary = getattr(exc, "summary", None)
    if summary is None or summary.plan is None:
        return
    workdir = os.path.abspath(options.directory or ".")
    jobs = {job.jobid: job for job in summary.plan.jobs}
    for jobid, result in sorted((summary.results or {}).items()):
        if result.ok or jobid not in jobs:
            continue
        paths = [str(p) for p in jobs[jobid].log]
        if result.stdout_log:
            paths.append(result.stdout_log)
        for path in paths:
            full = path if os.path.isabs(path) else os.path.join(workdir, path)
            try:
                with open(full, encoding="utf-8", errors="replace") as fh:
                    lines = fh.readlines()
            except OSError:
                continue
            print(f"\n==> log of job {jobid} ({jobs[jobid].rule.name}): {path} <==",
                  file=sys.stderr)
            sys.stderr.write("".join(lines[-FAILED_LOG_MAX_LINES:]))
            if len(lines) > FAILED_LOG_MAX_LINES:
                print(f"(last {FAILED_LOG_MAX_LINES} of {len(lines)} lines)", file=sys.stderr)


def _list_rules(args: argparse.Namespace, only_targets: bool = False) -> int:
    """``-l``: rule names, sorted, each with its docstring in parentheses (as Snakemake);
    ``--lt``: only rules whose outputs have no wildcards."""
    from sciflow.engine import find_workflow, in_directory
    from sciflow.parse import load_workflow

    options = options_from_args(args)
    workdir = os.path.abspath(options.directory or ".")
    if not os.path.isdir(workdir):
        raise UsageError(f"-d {options.directory}: no such directory")
    path = find_workflow(options, workdir)
    with in_directory(workdir):
        workflow = load_workflow(path, config_overrides=dict(options.config),
                                 configfiles=[os.path.abspath(f) for f in options.configfiles])
    for name in sorted(workflow.rules):
        if only_targets and _has_wildcards(workflow.rules[name]):
            continue
        doc = workflow.rules[name].docstring
        print(name + (f" ({doc.strip()})" if doc else ""))
    return 0


def _has_wildcards(rule: Any) -> bool:
    import re

    return any(isinstance(o, str) and re.search(r"(?<!\{)\{[^{}]+\}(?!\})", o)
               for o in rule.output)


def _graph(args: argparse.Namespace) -> int:
    """``--dag``/``--rulegraph``: exactly what ``sciflow dag`` prints."""
    from sciflow.cli.dag import render_graph

    fmt = args.dag or args.rulegraph
    text = render_graph(args.snakefile, args.directory, list(args.targets),
                        parse_key_values(args.config, "--config"), list(args.configfiles),
                        rulegraph=not args.dag, fmt="mermaid" if fmt == "mermaid-js" else fmt)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _report(args: argparse.Namespace) -> int:
    """``--report FILE``: exactly what ``sciflow report -o FILE`` writes."""
    from sciflow.cli import report

    return report.main(argparse.Namespace(output=args.report, directory=args.directory or ".",
                                          run_id=None))


def _views(args: argparse.Namespace, options: Any) -> int:
    """``-S``, ``-D``, ``--list-changes``: from a dry run's plan and the metadata."""
    from sciflow.cli.summary import list_changes, summary_lines
    from sciflow.engine import run

    options.dry_run = True
    options.json = False
    if args.summary or args.detailed_summary:
        options.rerun_incomplete = True  # as Snakemake's summary: incomplete files are shown
    plan = run(options).plan
    workdir = plan.options.workdir if plan.options else os.path.abspath(options.directory or ".")
    if args.list_changes:
        lines = list_changes(plan, workdir, args.list_changes)
    else:
        lines = list(summary_lines(plan, workdir, detailed=bool(args.detailed_summary)))
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _same_content_note(plan: Any, quiet: Any) -> None:
    """Say why a rewritten input did not make anything run (plan.py's content check)."""
    same = getattr(plan, "same_content", None)
    if not same or (quiet is not None and "all" in quiet):
        return
    for path in same:
        print(f"{path}: rewritten with the same content (HDF5/NetCDF content fingerprint): "
              "not a reason to run (--no-content-check to compare bytes)", file=sys.stderr)


def print_plan(plan: Any, out: Any = None, jobs: bool = True) -> None:
    """Each job with its reason, then Snakemake's "Job stats" table (only the table when
    ``jobs`` is false: ``-n -q``). Written one block of jobs at a time: few writes, yet no
    copy of the whole text in memory (200k jobs)."""
    out = out or sys.stdout
    if not plan.jobs:
        print("Nothing to be done (all requested files are present and up to date).", file=out)
        return
    lines: list[str] = []
    add = lines.append
    for n, job in enumerate(plan.jobs if jobs else (), 1):
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
    add("\nJob stats:" if jobs else "Job stats:")
    add(f"{'job':<{width}}  {'count':>{num}}")
    add(f"{'-' * width}  {'-' * num}")
    for rule, n in counts.items():
        add(f"{rule:<{width}}  {n:>{num}}")
    add(f"{'total':<{width}}  {total:>{num}}")
    if jobs:
        add("\nThis was a dry-run (flag -n). The order of jobs does not reflect the order of "
            "execution.")
    out.write("\n".join(lines) + "\n")
