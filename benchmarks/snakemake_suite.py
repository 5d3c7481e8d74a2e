"""Replay Snakemake's own test cases under sciflow and compare with their expected results.

    .venv/bin/python benchmarks/snakemake_suite.py --mirror /work/.mirror/snakemake+snakemake
    .venv/bin/python benchmarks/snakemake_suite.py --only test01,test_ancient --no-control

Snakemake's ``tests/tests.py`` runs most cases as ``run(dpath("CASE"), targets=..., config=...,
shouldfail=..., ...)``: copy ``tests/CASE`` to a scratch directory, run the workflow, then check
that every file of ``expected-results/`` was produced there with the same bytes. This script
reads ``tests/tests.py`` with ``ast`` and keeps the *light* cases: a test whose body is that one
call, with literal options this replay can pass on a command line, and no network, conda,
container, cloud or cluster marker. Each light case runs

- under sciflow as a user without Snakemake has it (``sciflow run -c 3 TARGETS`` with the case's
  options; the real ``snakemake`` package unimportable in the process), and
- under the real Snakemake CLI, as a control: a case Snakemake itself fails here is excluded,
  with its reason.

A case passes when the run succeeds (or fails, for ``shouldfail`` cases) and every expected file
exists with the expected content. Failures are sorted into causes (``compat_common.CAUSES``);
results go to ``--jsonl`` one line per case, so that a long replay can be resumed (``--resume``).
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from compat_common import (  # noqa: E402
    BIN, checkout, classify, first_error_line, git_dir, head, hide_snakemake_env, run,
    stub_snakemake_env, tool,
)

# run() options this replay passes on to both command lines (anything else: not light)
_OPTIONS = {"targets", "config", "configfiles", "shouldfail", "cores", "snakefile",
            "check_md5", "check_results", "forcerun", "until", "printshellcmds", "all_temp",
            "forceall", "shellcmd", "cleanup", "no_tmpdir"}
_OK_DECORATORS = {"skip_on_windows", "skip_on_macos", "only_on_linux"}
_HEAVY_WORDS = ("conda", "apptainer", "singularity", "docker", "container", "gcloud", "google",
                "azure", "s3", "http", "ftp", "zenodo", "slurm", "kubernetes", "cluster",
                "storage", "github", "sigint", "wrapper")


# Causes found by reading a case whose failure shows no telling message (files differ, or a
# run that should fail succeeds): test name -> (cause key, why). Checked by hand against main.
# Causes found by reading the case (measured on `lead` at ea31c7e), and the lane that fixes it:
# names (namespace: sciflow/compat, helpers.py), compile (compile.py, syntax.py, model.py),
# dag (dag*.py, plan.py), exec (execute/*), cli (sciflow/cli/*: nobody's this wave),
# modules (sciflow/modules.py: nobody's this wave).
LANES = {
    "cli-unknown-flag": "cli — sciflow/cli/run.py",
    "modules-anonymous": "modules — sciflow/modules.py + grammar (compile)",
    "modules-use-with": "modules — sciflow/modules.py",
    "modules-namespace": "modules — sciflow/modules.py (names)",
    "modules-prefix": "modules — sciflow/modules.py",
    "modules-config": "modules — sciflow/modules.py",
    "modules-checkpoint": "modules — sciflow/modules.py + dag/checkpoints.py",
    "temp-of-target": "exec — sciflow/execute/scheduler.py (target_files)",
    "pathvars": "compile — sciflow/compile.py (Snakemake 9 `pathvars:`)",
    "semantic-helpers": "names — sciflow/helpers.py",
    "before-update": "names — sciflow/helpers.py",
    "from-queue": "names — sciflow/helpers.py (+ dag)",
    "workflow-object": "names — sciflow/helpers.py `WorkflowContext`",
    "expand-flags": "names — sciflow/wildcards.py expand() / helpers.py",
    "int-directive-value": "compile — sciflow/compile.py / model.py",
    "params-list-item": "compile — sciflow/compile.py / model.py",
    "dup-output": "compile — sciflow/model.py / dag_index.py",
    "threads-zero": "compile — sciflow/model.py",
    "resource-units": "compile — sciflow/model.py (resources)",
    "config-yte": "compile — sciflow/configload.py",
    "no-rules": "compile — sciflow/compile.py / engine",
    "log-as-input": "dag — sciflow/plan.py",
    "rule-reference-input": "dag — sciflow/dag_index.py",
    "pipe": "dag — sciflow/plan.py (pipe groups)",
    "checkpoint-api": "dag — sciflow/dag_checkpoints.py",
    "input-function-args": "dag — sciflow/dag_index.py",
    "lazy-resources": "dag — sciflow/dag.py (+ exec for retries)",
    "default-resources": "dag — sciflow/dag.py / resources_config.py",
    "shell-globals": "exec — sciflow/execute/shell.py + spec.py",
    "shadow": "exec — sciflow/execute/ (shadow)",
    "ensure": "exec — sciflow/execute/runner.py",
    "output-prep": "exec — sciflow/execute/runner.py",
    "protected": "exec — sciflow/execute/runner.py",
    "script-location": "exec — sciflow/execute/script.py",
    "template-engine": "exec — sciflow/execute/",
    "long-shell": "exec — sciflow/execute/shell.py",
    "service": "exec — sciflow/execute/ (service jobs)",
    "onsuccess": "engine — sciflow/engine.py (shared)",
}

DIAGNOSED = {
    "test_wildcard_keyword": ("log-as-input", "an input that is another rule's log: file: the "
                              "DAG has the producing job, the plan drops it"),
    "test_log_input": ("log-as-input", "as test_wildcard_keyword"),
    "test_format_params": ("params-list-item", "params: [1, 2, 3] is one item in Snakemake "
                           "({params[0]} is '1 2 3'); sciflow spreads it into three"),
    "test_shadowed_log": ("shadow", "shadow: with log: (the log is not brought back)"),
    "test_shadow_copy": ("shadow", "shadow: copy-minimal semantics"),
    "test_shadow": ("shadow", "shadow: full/shallow/minimal: an absolute symlink output is "
                    "not brought back"),
    "test_dup_out_patterns": ("dup-output", "the same output pattern twice in a rule must be an "
                              "error (Snakemake refuses it)"),
    "test_ensure_checksum_fail": ("ensure", "ensure(sha256=...) not checked after the job"),
    "test_ensure_nonempty_fail": ("ensure", "ensure(non_empty=True) not checked after the job"),
    "test_pipe_depend": ("pipe", "pipe() group errors not raised"),
    "test_pipe_depend_target_file": ("pipe", "pipe() output as a target must be an error"),
    "test_pipes_multiple": ("pipe", "expand(rules.b.output, ...) over pipe()-flagged "
                            "outputs is refused; Snakemake accepts it"),
    "test_modules_all": ("expand-flags", "expand(rules.a.output, ...) over a flagged output "
                         "is refused; Snakemake accepts it"),
    "test_long_shell": ("long-shell", "a 256 KB shell command fails (argv too long); "
                        "Snakemake runs it"),
    "test_ruledeps": ("rule-reference-input", "input: rules.b.output must bind the producer to "
                      "rule b (no ambiguity with rule c); sciflow reports an ambiguity"),
    "test_threads0": ("threads-zero", "threads: 0 must stay 0 in {threads} (Snakemake writes 0)"),
    "test_config_yte": ("config-yte", "a configfile that is a YTE template is not rendered"),
    "test_inferred_resources": ("default-resources", "{resources.mem_mb}/{disk_mb}/{runtime}: "
                                "Snakemake infers default resources, sciflow has none"),
    "test_delete_output": ("output-prep", "old outputs of a job are not removed before it runs"),
    "test_ioutils": ("resource-units", "resources: mem=\"1GB\" must read back as \"1 GB\" "
                     "(Snakemake parses and normalises size units)"),
    "test_threads_overwrite": ("cli-unknown-flag", "--set-threads a=10*2: Snakemake evaluates "
                               "the expression; sciflow wants a whole number"),
    "test_modules_name": ("modules-anonymous", "`module:` with `name:` inside it (anonymous "
                          "module block) is not parsed"),
    "test_modules_dynamic": ("modules-anonymous", "`module:` + `name:` in a for loop"),
    "test_modules_dynamic_module_as_alias": ("modules-anonymous", "as test_modules_dynamic"),
    "test_modules_semi_dynamic": ("modules-anonymous", "as test_modules_dynamic"),
    "test_modules_dynamic_import_rules": ("modules-anonymous", "as test_modules_dynamic"),
    "test_modules_dynamic_no_as": ("modules-anonymous", "as test_modules_dynamic"),
    "test_modules_specific": ("modules-use-with", "`use rule a from m as m_* with:` (a "
                              "pattern name with `with:`) refused"),
    "test_module_no_prefixing_modified_paths": ("modules-use-with", "as test_modules_specific"),
    "test_modules_all_exclude_2": ("modules-namespace", "the module's name is not bound to "
                                   "its namespace (`m.some_function`)"),
    "test_modules_prefix_local": ("modules-prefix", "prefix: must not apply to input files "
                                  "that exist locally in the module"),
    "test_module_checkpoint": ("modules-checkpoint", "checkpoints in two copies of one module "
                               "(config: lists, prefixes a/b): a/post/a.txt missing, somestep "
                               "outputs differ (not diagnosed further)"),
    "test_issue894": ("temp-of-target", "the default target rule's own temp() output is kept "
                      "(sciflow keeps every output of a target job; Snakemake only files named "
                      "as targets: DAG.derived_targetfiles), the onsuccess: asserts it is gone"),
    "test_issue916": ("script-location", "the script checks that it runs from a copy under "
                      ".snakemake/scripts/ (Snakemake's own layout)"),
    "test_pathvars": ("pathvars", "Snakemake 9 `pathvars` (<results>/...) not supported"),
    "test_pathvars_modules": ("pathvars", "as test_pathvars, in a module"),
    "test_update_flag": ("before-update", "`before_update()` missing"),
    "test_cyclic_dependency_split": ("before-update", "as test_update_flag"),
    "test_cyclic_dependency_single": ("before-update", "as test_update_flag"),
    "test_queue_input": ("from-queue", "`from_queue()` missing"),
    "test_queue_input_forceall": ("from-queue", "as test_queue_input"),
    "test_service_jobs": ("service", "service() jobs: the run hangs (timeout)"),
}


@dataclass
class SuiteCase:
    test: str                     # the test function's name in tests/tests.py
    folder: str                   # tests/<folder>
    options: dict = field(default_factory=dict)
    skip: str = ""                # why it is not light ("" = light)


def _literal(node: ast.AST):
    if isinstance(node, ast.Name):        # shouldfail=SomeException
        return True if node.id not in ("True", "False", "None") else ast.literal_eval(node)
    if isinstance(node, ast.Attribute):   # shouldfail=exceptions.X
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
            "set", "frozenset", "list") and not node.args:
        return []
    return ast.literal_eval(node)


def discover(tests_py: str) -> list[SuiteCase]:
    """Every `def test*` of tests.py, light or not (with the reason it is not)."""
    cases = []
    for fn in ast.parse(tests_py).body:
        if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith("test"):
            continue
        body = [s for s in fn.body if not (isinstance(s, ast.Expr)
                                           and isinstance(s.value, ast.Constant))]
        call = body[0].value if len(body) == 1 and isinstance(body[0], ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == "run" and call.args
                and isinstance(call.args[0], ast.Call)
                and getattr(call.args[0].func, "id", "") == "dpath"
                and isinstance(call.args[0].args[0], ast.Constant)):
            folder = ""
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dpath" \
                        and node.args and isinstance(node.args[0], ast.Constant):
                    folder = node.args[0].value
                    break
            cases.append(SuiteCase(fn.name, folder, skip="test body is more than one run()"))
            continue
        folder = call.args[0].args[0].value
        case = SuiteCase(fn.name, folder)
        decos = [ast.unparse(d) for d in fn.decorator_list]
        bad = [d for d in decos if d not in _OK_DECORATORS]
        if bad:
            case.skip = f"decorator {bad[0]}"
        for kw in call.keywords:
            if case.skip:
                break
            if kw.arg not in _OPTIONS:
                case.skip = f"option {kw.arg}="
                break
            try:
                case.options[kw.arg] = _literal(kw.value)
            except (ValueError, TypeError, SyntaxError):
                case.skip = f"non-literal {kw.arg}="
        if not case.skip:
            text = (folder + " " + json.dumps(case.options, default=str)).lower()
            word = next((w for w in _HEAVY_WORDS if w in text), None)
            if word:
                case.skip = f"needs {word}"
        cases.append(case)
    return cases


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def expected_files(case_dir: Path) -> list[str]:
    results = case_dir / "expected-results"
    if not results.is_dir():
        return []
    return sorted(str(p.relative_to(results)) for p in results.rglob("*")
                  if p.is_file() and p.name not in (".gitignore", ".gitkeep")
                  and not p.name.endswith("_WIN"))


def compare(case_dir: Path, workdir: Path) -> list[str]:
    """Differences between expected-results/ and what the run left in workdir."""
    diffs = []
    for rel in expected_files(case_dir):
        got = workdir / rel
        if not got.is_file():
            diffs.append(f"missing {rel}")
        elif md5(got) != md5(case_dir / "expected-results" / rel):
            diffs.append(f"content differs: {rel}")
    return diffs


def _config_args(case: SuiteCase, workdir: Path) -> list[str]:
    args: list[str] = []
    files = [str(f) for f in case.options.get("configfiles", [])]
    if case.options.get("config"):
        cfg = workdir / ".replay-config.yaml"
        cfg.write_text(yaml.safe_dump(case.options["config"]))
        files.append(str(cfg))
    if files:
        args += ["--configfile", *files]
    return args


def command(case: SuiteCase, workdir: Path, which: str) -> list[str]:
    """The case as a command line of ``which`` ('sciflow' or 'snakemake'), after the exe."""
    o = case.options
    if "shellcmd" in o:
        words = shlex.split(o["shellcmd"])[1:]      # drop the leading "snakemake"
        return (["run"] if which == "sciflow" else []) + words
    args = ["run"] if which == "sciflow" else []
    # the cores Snakemake's harness gives (3 unless the test says): some cases check {threads}
    args += ["-c", str(o.get("cores", 3))]
    if o.get("snakefile", "Snakefile") != "Snakefile":
        args += ["-s", str(o["snakefile"])]
    for flag, key in (("--forceall", "forceall"), ("-p", "printshellcmds"),
                      ("--all-temp", "all_temp")):
        if o.get(key):
            args.append(flag)
    for flag, key in (("--forcerun", "forcerun"), ("--until", "until")):
        if o.get(key):
            args += [flag, *sorted(o[key])]
    targets = sorted(o.get("targets") or [])
    cfg = _config_args(case, workdir)
    # targets first, so that they are not taken as values of --configfile/--forcerun
    return args[:1] + targets + args[1:] + cfg if which == "sciflow" else targets + args + cfg


@dataclass
class Replay:
    test: str
    folder: str
    status: str                    # pass | fail | excluded | skipped
    reason: str = ""
    cause: str = ""
    detail: str = ""
    control: str = ""
    tail: str = ""                 # the end of sciflow's output, to re-sort causes later


def replay(case: SuiteCase, src: Path, work: Path, exe: list[str], which: str, env: dict,
           timeout: float) -> tuple[bool, str, str]:
    """Run one tool on a fresh copy of the case: (ok, detail, stderr)."""
    workdir = work / which
    if workdir.exists():
        shutil.rmtree(workdir)
    shutil.copytree(src / case.folder, workdir, symlinks=True)
    proc = run([*exe, *command(case, workdir, which)], workdir, env=env, timeout=timeout)
    output = proc.stderr + "\n" + proc.stdout
    should_fail = bool(case.options.get("shouldfail"))
    if should_fail:
        if proc.returncode == 0:
            return False, "expected the run to fail, it succeeded", output
        return True, "", output
    if proc.returncode != 0:
        return False, first_error_line(output), output
    if case.options.get("check_results") is False:
        return True, "", output
    diffs = compare(src / case.folder, workdir)
    if not diffs:
        return True, "", output
    # content differences only matter if md5 is checked, as in Snakemake's own harness
    if case.options.get("check_md5") is False:
        diffs = [d for d in diffs if d.startswith("missing")]
        if not diffs:
            return True, "", output
    return False, "; ".join(diffs[:4]) + (" ..." if len(diffs) > 4 else ""), output


def replay_case(case: SuiteCase, tests: Path, opts: argparse.Namespace, sci: list[str],
                smk: list[str], path_env: dict, hidden: dict) -> Replay:
    """One case: the Snakemake control, then sciflow; the cause of a sciflow failure."""
    work = opts.work / "runs" / case.test
    res = Replay(case.test, case.folder, "fail")
    known = getattr(opts, "controls", {}).get(case.test)
    if known is not None:
        # Snakemake's verdict from an earlier --jsonl of the same tests (same Snakemake)
        if known["status"] == "excluded":
            res.status, res.reason = "excluded", known["reason"]
    elif not opts.no_control:
        ok, detail, _ = replay(case, tests, work, smk, "snakemake", path_env, opts.timeout)
        if not ok:
            res.status, res.reason = "excluded", f"Snakemake fails here: {detail}"
    if res.status != "excluded":
        ok, detail, output = replay(case, tests, work, sci, "sciflow", hidden, opts.timeout)
        if ok:
            res.status = "pass"
        else:
            res.detail = detail
            res.tail = output[-2500:]
            cause = classify(output)
            if cause.key == "snakemake-api":
                # the case behind the missing API: what else differs?
                ok2, detail2, out2 = replay(case, tests, work, sci, "sciflow",
                                            stub_snakemake_env(hidden, opts.work / "stub-api"),
                                            opts.timeout)
                res.reason = "with a stand-in snakemake API: " + (
                    "passes" if ok2 else f"[{classify(out2).key}] {detail2}")
            res.cause = cause.key
            if detail.startswith(("missing ", "content differs", "expected the run")):
                res.cause = "output-differs" if not detail.startswith("expected") \
                    else "should-have-failed"
    shutil.rmtree(work, ignore_errors=True)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, default=Path("/work/.mirror/snakemake+snakemake"),
                    help="bare git mirror of github.com/snakemake/snakemake")
    ap.add_argument("--tests", type=Path, help="a tests/ folder to use instead of a mirror")
    ap.add_argument("--work", type=Path, default=Path("/work/compat-work/suite"))
    ap.add_argument("--only", default="", help="comma-separated test names or folders")
    ap.add_argument("--sciflow", help="sciflow command (default: this venv's sciflow)")
    ap.add_argument("--snakemake", help="snakemake command (default: this venv's snakemake)")
    ap.add_argument("--no-control", action="store_true", help="do not run Snakemake")
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("-j", "--jobs", type=int, default=3, help="cases replayed at once")
    ap.add_argument("--jsonl", type=Path, help="append one JSON line per case here")
    ap.add_argument("--resume", action="store_true", help="skip cases already in --jsonl")
    ap.add_argument("--list", action="store_true", help="only list the light cases")
    ap.add_argument("--differences", type=Path,
                    help="write the cases that still differ, with causes, as Markdown here")
    ap.add_argument("--label", default="", help="which sciflow build, for --differences")
    ap.add_argument("--control-from", type=Path,
                    help="reuse Snakemake's verdicts (the control) from an earlier --jsonl")
    opts = ap.parse_args(argv)
    opts.controls = {}
    if opts.control_from:
        for ln in opts.control_from.read_text().splitlines():
            if ln.strip():
                row = json.loads(ln)
                opts.controls[row["test"]] = row

    if opts.tests:
        tests = opts.tests
    else:
        gd = git_dir(opts.mirror)
        tests = opts.work / f"snakemake@{head(gd)[:10]}" / "tests"
        if not (tests / "tests.py").exists():
            checkout(gd, tests, subdir="tests")
    cases = discover((tests / "tests.py").read_text())
    for c in cases:
        snakefile = tests / c.folder / str(c.options.get("snakefile", "Snakefile"))
        if c.skip:
            continue
        if not snakefile.is_file():
            c.skip = "no Snakefile"
        elif re.search(r"-m snakemake|(^|[\s\"'])snakemake\s+-", snakefile.read_text(
                errors="replace"), re.M):
            c.skip = "a job of the case runs the snakemake CLI itself"
    all_light = [c for c in cases if not c.skip]
    light = all_light
    if opts.only:
        keys = set(opts.only.split(","))
        light = [c for c in light if c.test in keys or c.folder in keys]
    if opts.list:
        for c in light:
            print(c.test, c.folder, json.dumps(c.options, default=str))
        print(f"{len(light)} light of {len(cases)}")
        return 0
    done = set()
    if opts.resume and opts.jsonl and opts.jsonl.exists() and not opts.only:
        done = {json.loads(ln)["test"] for ln in opts.jsonl.read_text().splitlines() if ln}
    sci, smk = tool("sciflow", opts.sciflow), tool("snakemake", opts.snakemake)
    # the venv's bin first on PATH, as in Snakemake's own test environment (`python -m ...`)
    path_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    hidden = hide_snakemake_env(path_env)
    todo = [c for c in light if c.test not in done]
    lock = threading.Lock()

    def one(case: SuiteCase) -> None:
        res = replay_case(case, tests, opts, sci, smk, path_env, hidden)
        with lock:
            print(f"{res.status:8} {case.test:45} {res.cause:18} {res.detail or res.reason}"
                  [:400], flush=True)
            if opts.jsonl:
                with opts.jsonl.open("a") as fh:
                    fh.write(json.dumps(asdict(res)) + "\n")
            results.append(res)

    results: list[Replay] = []
    with ThreadPoolExecutor(max_workers=opts.jobs) as pool:
        list(pool.map(one, todo))
    if opts.jsonl and opts.jsonl.exists():
        # the latest line per case, of the cases light today, causes re-sorted with today's list
        latest = {}
        for ln in opts.jsonl.read_text().splitlines():
            if ln:
                row = Replay(**json.loads(ln))
                latest[row.test] = row
        names = {c.test for c in all_light}
        results = [r for r in latest.values() if r.test in names]
        for r in results:
            if r.status == "fail" and r.tail and r.cause not in ("output-differs",
                                                                  "should-have-failed"):
                r.cause = classify(r.tail).key
                r.detail = first_error_line(r.tail)
            if r.status == "fail" and r.test in DIAGNOSED:
                r.cause, why = DIAGNOSED[r.test]
                r.reason = why + (f" ({r.reason})" if r.reason else "")
    counted = [r for r in results if r.status in ("pass", "fail")]
    passed = [r for r in counted if r.status == "pass"]
    print(f"\nlight cases: {len(all_light)} of {len(cases)} tests; Snakemake passes "
          f"{len(counted)}; sciflow passes {len(passed)}/{len(counted)} = "
          f"{100 * len(passed) / max(1, len(counted)):.0f}%")
    if opts.differences:
        opts.differences.write_text(differences_md(results, all_light, cases, opts.label))
    return 0


def differences_md(results: list[Replay], light: list[SuiteCase], cases: list[SuiteCase],
                   label: str = "") -> str:
    """The cases that still differ, grouped by cause (most first), and those left out."""
    from collections import defaultdict
    counted = [r for r in results if r.status in ("pass", "fail")]
    passed = sum(r.status == "pass" for r in counted)
    by_cause: dict[str, list[Replay]] = defaultdict(list)
    for r in results:
        if r.status == "fail":
            by_cause[r.cause or "other"].append(r)
    out = ["# Snakemake's own test cases under sciflow: what still differs", "",
           "Written by `benchmarks/snakemake_suite.py --differences` (rerun it to refresh).",
           f"Light cases: {len(light)} of {len(cases)} tests in Snakemake's tests/tests.py; "
           f"Snakemake itself passes {len(counted)} of them here; sciflow passes "
           f"{passed}/{len(counted)} ({100 * passed / max(1, len(counted)):.0f}%)"
           + (f", measured on {label}." if label else "."), "",
           "Each cause names the lane whose files it is in (`LANES` in the script): names, "
           "compile, dag, exec; cli and modules are nobody's lane this wave. The detail is "
           "sciflow's own first error line; after the dash, the cause as read in the case.", ""]
    for cause, rows in sorted(by_cause.items(), key=lambda kv: -len(kv[1])):
        lane = LANES.get(cause, "")
        out += [f"## {cause} ({len(rows)})" + (f" — {lane}" if lane else ""), ""]
        for r in sorted(rows, key=lambda r: r.test):
            why = re.sub(r"/\S*/runs/[^/]+/(?:sciflow|snakemake)/", "", r.detail)
            why = why.replace("|", "\\|")
            extra = f" — {r.reason}" if r.reason else ""
            out.append(f"- `{r.test}` (tests/{r.folder}): {why}{extra}")
        out.append("")
    excluded = [r for r in results if r.status == "excluded"]
    if excluded:
        out += [f"## Excluded: Snakemake itself fails them here ({len(excluded)})", ""]
        out += [f"- `{r.test}`: {r.reason}" for r in sorted(excluded, key=lambda r: r.test)]
        out.append("")
    skipped: dict[str, int] = defaultdict(int)
    for c in cases:
        if c.skip:
            skipped[c.skip.split(" ")[0] + " " + " ".join(c.skip.split(" ")[1:2])] += 1
    out += ["## Not replayed (not light)", ""]
    out += [f"- {why}: {n}" for why, n in sorted(skipped.items(), key=lambda kv: -kv[1])]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
