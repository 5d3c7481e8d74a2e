"""Do published Snakemake pipelines plan under sciflow as they plan under Snakemake?

    .venv/bin/python benchmarks/compat.py --mirrors /work/.mirror
    .venv/bin/python benchmarks/compat.py --mirrors /work/.mirror --only rna-seq-star-deseq2
    .venv/bin/python benchmarks/compat.py --sciflow /tmp/wheelvenv/bin/sciflow ...

Each case of ``benchmarks/compat-pipelines.txt`` names a repository (a bare git mirror under
``--mirrors``, as the search tool's ``fetch`` leaves them: ``owner+name/repo``) and the way the
pipeline's own CI invokes Snakemake (directory, snakefile, args). The tree is checked out into
``--work`` (absent large blobs become empty files, submodules come from their own mirror if
fetched) and dry-run by both tools from the repository root, as the CI does:

- Snakemake (the oracle): ``snakemake -s S -d D <args> -n``; jobs per rule from "Job stats".
- sciflow, as a user without Snakemake gets it (the real ``snakemake`` package is made
  unimportable in its process): ``sciflow run -n --json -s S -d D <args>``.

A case *matches* when both plan and the jobs per rule are equal. A case Snakemake itself cannot
plan here (offline, no conda, ...) is counted apart, with its reason. When sciflow fails, the
failure is sorted into a cause (``compat_common.CAUSES``), and the case is retried with the
blocker stepped over (only the flags sciflow knows: targets/--configfile/--config; then with
the real Snakemake importable) to find the next cause behind it; every cause met is reported.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from compat_common import (  # noqa: E402
    DEFAULT_TARGET, MISMATCH, Cause, Outcome, checkout, classify, first_error_line, git_dir, head,
    hide_snakemake_env, prepare_wrappers, run, stub_snakemake_env, tool,
)

HERE = Path(__file__).parent

# Snakemake options that take a value (so the word after them is no target)
_VALUED = {
    "--cores", "-c", "-j", "--jobs", "--sdm", "--software-deployment-method",
    "--conda-cleanup-pkgs", "--conda-frontend", "--workflow-profile", "--profile",
    "--configfile", "--configfiles", "--config", "-C", "--report", "--directory", "-d",
    "--snakefile", "-s", "--conda-prefix", "--wrapper-prefix", "--resources", "--set-threads",
    "--set-resources", "--default-resources", "--latency-wait", "--retries",
}
_MULTI = {"--configfile", "--configfiles", "--config", "-C"}


@dataclass
class Case:
    id: str
    repo: str
    directory: str
    snakefile: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)


def load_cases(path: Path) -> list[Case]:
    cases = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = [c.strip() for c in line.split("|")]
        env = dict(kv.split("=", 1) for kv in shlex.split(cols[5])) if len(cols) > 5 else {}
        cases.append(Case(cols[0], cols[1], cols[2], cols[3], shlex.split(cols[4]), env))
    return cases


def core_args(args: list[str]) -> list[str]:
    """Only targets, --configfile and --config: what every sciflow version understands."""
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in _MULTI:
            vals = []
            i += 1
            while i < len(args) and not args[i].startswith("-"):
                vals.append(args[i])
                i += 1
            out += [a if a != "-C" else "--config", *vals]
            continue
        if a.startswith("-"):
            i += 2 if (a in _VALUED and "=" not in a and a != "--conda-cleanup-pkgs") else 1
            if a == "--conda-cleanup-pkgs" and i < len(args) and args[i] in ("cache", "tarballs"):
                i += 1
            continue
        out.append(a)
        i += 1
    # targets first: argparse would otherwise take them as more --configfile values
    targets = [a for a in out if not a.startswith("-") and not _after_multi(out, a)]
    rest = [a for a in out if a not in targets]
    return targets + rest


_DEPLOY_VALUES = ("conda", "apptainer", "env-modules")


def drop_flag(args: list[str], flag: str) -> list[str]:
    """The args without one option (and its value): the one sciflow reported as unknown."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a.split("=", 1)[0] != flag:
            out.append(a)
            i += 1
            continue
        i += 1
        if "=" in a:
            continue
        if flag in ("--sdm", "--software-deployment-method"):
            while i < len(args) and args[i] in _DEPLOY_VALUES:
                i += 1
        elif flag == "--conda-cleanup-pkgs":
            i += 1 if i < len(args) and args[i] in ("cache", "tarballs") else 0
        elif flag in _VALUED and i < len(args):
            i += 1
    return out


def absolute_configfiles(args: list[str], root: Path) -> list[str]:
    """--configfile values as absolute paths (the same file under either resolution)."""
    out, in_cfg = [], False
    for a in args:
        if a.startswith("-"):
            in_cfg = a in ("--configfile", "--configfiles")
            out.append(a)
        elif in_cfg and not Path(a).is_absolute():
            out.append(str((root / a).resolve()))
        else:
            out.append(a)
    return out


def _after_multi(out: list[str], word: str) -> bool:
    idx = out.index(word)
    for j in range(idx - 1, -1, -1):
        if out[j].startswith("-"):
            return out[j] in _MULTI
    return False


def snakemake_counts(text: str) -> dict[str, int] | None:
    """Jobs per rule from Snakemake's dry-run "Job stats" table ({} if nothing to do)."""
    if "Nothing to be done" in text and "Job stats" not in text:
        return {}
    m = re.search(r"Job stats:\n(.*?)(?:\n\s*\n|\Z)", text, re.S)
    if not m:
        return None
    counts = {}
    for ln in m.group(1).splitlines():
        parts = ln.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total",):
            counts[parts[0]] = int(parts[1])
    return counts


def fresh_copy(src: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, symlinks=True)
    return dest


def without_conda(args: list[str]) -> list[str]:
    """The args minus conda deployment (which changes how jobs run, not which jobs)."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a in ("--use-conda", "--use-singularity", "--use-apptainer"):
            i += 1
        elif a in ("--sdm", "--software-deployment-method", "--conda-frontend",
                   "--conda-prefix"):
            i += 2
            while a in ("--sdm", "--software-deployment-method") and i < len(args) \
                    and args[i] in ("conda", "apptainer", "env-modules"):
                i += 1
        elif a == "--conda-cleanup-pkgs":
            i += 2 if i + 1 < len(args) and args[i + 1] in ("cache", "tarballs") else 1
        else:
            out.append(a)
            i += 1
    return out


def run_snakemake(case: Case, tree: Path, smk: list[str], timeout: float,
                  extra: list[str]) -> Outcome:
    env = {**__import__("os").environ, **case.env}
    note = ""
    for args in (case.args, without_conda(case.args)):
        cmd = [*smk, "-s", case.snakefile, "-d", case.directory, *args, *extra, "-n"]
        proc = run(cmd, tree, env=env, timeout=timeout)
        text = proc.stdout + "\n" + proc.stderr
        counts = snakemake_counts(text) if proc.returncode == 0 else None
        if counts is not None:
            return Outcome(True, note, counts)
        reason = _snakemake_reason(text)
        if reason != "needs conda" or args != case.args:
            break
        note = "conda flags dropped for Snakemake (no conda on this machine)"
    return Outcome(False, (note + "; " if note else "") + reason, stderr=text[-4000:])


def _snakemake_reason(text: str) -> str:
    for pat, why in [
        (r"Missing input files", "missing input (test data not in mirror / needs download)"),
        (r"conda info|conda: command not found|Conda environment|"
         r"No such file or directory: 'conda'", "needs conda"), (r"[Cc]onnection|resolve host|HTTP|URLError|Max retries",
                                     "needs network"),
        (r"No module named '([\w.]+)'", "Python package missing: {0}"),
        (r"SyntaxError", "SyntaxError under this Python (f-string quotes need Python 3.12?)"),
    ]:
        m = re.search(pat, text)
        if m:
            return why.format(*m.groups())
    return first_error_line(text)


def run_sciflow(case: Case, tree: Path, sci: list[str], args: list[str], stub: Path | None,
                timeout: float) -> Outcome:
    cmd = [*sci, "run", "-n", "--json", "-s", case.snakefile, "-d", case.directory, *args]
    env = hide_snakemake_env()
    if stub is not None:
        env = stub_snakemake_env(env, stub)
    env.update(case.env)
    proc = run(cmd, tree, env=env, timeout=timeout)
    if proc.returncode == 0:
        try:
            jobs = json.loads(proc.stdout)["jobs"]
            return Outcome(True, "", dict(Counter(j["rule"] for j in jobs)))
        except (ValueError, KeyError) as exc:
            return Outcome(False, f"no JSON plan on stdout: {exc}", stderr=proc.stderr[-4000:])
    return Outcome(False, first_error_line(proc.stderr or proc.stdout),
                   stderr=(proc.stderr or proc.stdout)[-4000:])


@dataclass
class Result:
    case: str
    repo: str
    commit: str
    snakemake: Outcome
    sciflow: Outcome | None = None          # as the CI runs it, no Snakemake importable
    attempts: list[dict] = field(default_factory=list)   # [{mode, ok, cause, detail}]
    causes: list[str] = field(default_factory=list)
    match: bool = False
    missing_blobs: int = 0


def compare(a: dict[str, int], b: dict[str, int]) -> bool:
    return a == b


def run_case(case: Case, mirrors: Path, work: Path, smk: list[str], sci: list[str],
             timeout: float, reuse: dict | None = None) -> Result:
    owner, name = case.repo.split("/")
    gd = git_dir(mirrors / f"{owner}+{name}")
    sha = head(gd)
    src = work / "src" / f"{owner}+{name}@{sha[:10]}"
    marker = src.parent / (src.name + ".missing.json")
    if not marker.exists():
        if src.exists():
            shutil.rmtree(src)
        src.mkdir(parents=True)
        missing = checkout(gd, src, mirrors=mirrors)
        marker.write_text(json.dumps(missing))
    missing = json.loads(marker.read_text())
    slug = re.sub(r"[^\w.-]+", "_", case.id)
    res = Result(case.id, case.repo, sha[:10], Outcome(False), missing_blobs=len(missing))
    smk_tree = fresh_copy(src, work / "runs" / slug / "snakemake")
    prefix = prepare_wrappers(smk_tree, mirrors, work / "wrappers")
    extra = ["--wrapper-prefix", prefix] if prefix else []
    if reuse and case.id in reuse:
        res.snakemake = Outcome(**reuse[case.id])      # the oracle's answer of an earlier run
    else:
        res.snakemake = run_snakemake(case, smk_tree, smk, timeout, extra)
    # Each blocker sciflow meets is stepped over by one workaround (accumulating), so that the
    # causes behind it show too: unknown flags -> only the flags sciflow knows; --configfile
    # resolved against -d -> absolute paths; no `snakemake` API -> a stand-in (compat_common).
    args, stub, applied = case.args + extra, None, ["ci-flags"]
    workarounds = {"cli-unknown-flag": "known-flags", "configfile": "absolute-configfile",
                   "snakemake-api": "stub-snakemake-api",
                   "configfile-directive-absent": "configfile-directive-present"}
    plant: dict[str, str] = {}     # files written into the tree before a run (workarounds)
    for _ in range(16):
        tree = fresh_copy(src, work / "runs" / slug / "sciflow")
        for rel, text in plant.items():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel).write_text(text)
        out = run_sciflow(case, tree, sci, args, stub, timeout)
        mode = "+".join(applied)
        if res.sciflow is None:
            res.sciflow = out
        if out.ok:
            same = res.snakemake.ok and compare(res.snakemake.counts, out.counts)
            cause = None if same or not res.snakemake.ok else MISMATCH
            if cause and "all" in res.snakemake.counts and "all" not in out.counts:
                cause = DEFAULT_TARGET
            res.attempts.append({"mode": mode, "ok": True, "same_jobs": same,
                                 "cause": cause.key if cause else "", "counts": out.counts})
            if cause:
                res.causes.append(cause.key)
            break
        cause = classify(out.stderr)
        res.attempts.append({"mode": mode, "ok": False, "cause": cause.key,
                             "detail": out.detail})
        res.causes.append(cause.key)
        step = workarounds.get(cause.key)
        unknown = re.search(r"unknown option (--?[\w-]+)", out.stderr)
        if cause.key == "cli-unknown-flag" and unknown and unknown.group(1) in args:
            # step over exactly the flag sciflow rejects (it names one at a time)
            args = drop_flag(args, unknown.group(1))
            applied.append("drop " + unknown.group(1))
            continue
        if step is None or step in applied:
            break
        applied.append(step)
        if step == "known-flags":
            args = core_args(args)
        elif step == "absolute-configfile":
            args = absolute_configfiles(args, tree)
        elif step == "configfile-directive-present":
            # Snakemake goes on without an absent `configfile:` when --configfile gives the
            # config; the same config under the directive's name gives sciflow that config too
            m = re.search(r"config file '([^']+)' not found", out.stderr)
            given = [a for a in absolute_configfiles(args, tree) if a.endswith((".yaml", ".yml",
                                                                                ".json"))]
            if not (m and given and Path(given[0]).exists()):
                break
            plant[str(Path(case.directory) / m.group(1))] = Path(given[0]).read_text()
        else:
            stub = work / "stub-api"
    res.match = bool(res.snakemake.ok and res.sciflow and res.sciflow.ok
                     and compare(res.snakemake.counts, res.sciflow.counts))
    return res


def side_by_side(res: Result) -> str:
    smk = res.snakemake.counts if res.snakemake.ok else {}
    sci_counts = next((a["counts"] for a in res.attempts if a.get("ok")), None)
    rules = sorted(set(smk) | set(sci_counts or {}))
    lines = [f"  {'rule':40} {'snakemake':>9} {'sciflow':>9}"]
    for r in rules:
        a = smk.get(r, 0) if res.snakemake.ok else "-"
        b = (sci_counts or {}).get(r, 0) if sci_counts is not None else "-"
        flag = "" if a == b else "   <-- differs"
        lines.append(f"  {r:40} {a!s:>9} {b!s:>9}{flag}")
    return "\n".join(lines)


def markdown(results: list[Result]) -> str:
    """One row a case: Snakemake's plan, sciflow's verdict, the causes met in order."""
    rows = ["| case | commit | Snakemake jobs | sciflow as CI runs it | causes met, in order |",
            "|---|---|---|---|---|"]
    for r in results:
        smk = (str(sum(r.snakemake.counts.values())) if r.snakemake.ok
               else f"cannot plan: {r.snakemake.detail}")
        verdict = ("same jobs per rule" if r.match else
                   "n/a" if not r.snakemake.ok else
                   "plans, jobs differ" if r.sciflow and r.sciflow.ok else "fails")
        deeper = next((a for a in r.attempts if a.get("ok")), None)
        tail = ""
        if deeper and not r.match:
            tail = (" → then same jobs per rule" if deeper.get("same_jobs")
                    else " → then plans, jobs differ" if r.snakemake.ok else " → then plans")
        causes = " → ".join(dict.fromkeys(r.causes)) + tail
        rows.append(f"| {r.case} | {r.commit[:7]} | {smk} | {verdict} | {causes} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    ap.add_argument("--list", type=Path, default=HERE / "compat-pipelines.txt")
    ap.add_argument("--work", type=Path, default=Path("/work/compat-work/pipelines"))
    ap.add_argument("--only", default="", help="comma-separated substrings of case ids")
    ap.add_argument("--sciflow", help="sciflow command (default: this venv's sciflow)")
    ap.add_argument("--snakemake", help="snakemake command (default: this venv's snakemake)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", type=Path, help="write the results as JSON here")
    ap.add_argument("-q", "--quiet", action="store_true", help="no per-rule tables")
    ap.add_argument("--markdown", type=Path, help="write the per-case table as Markdown here")
    ap.add_argument("--snakemake-from", type=Path,
                    help="reuse Snakemake's plans from an earlier --json (same commits)")
    opts = ap.parse_args(argv)
    sci, smk = tool("sciflow", opts.sciflow), tool("snakemake", opts.snakemake)
    cases = load_cases(opts.list)
    if opts.only:
        keys = opts.only.split(",")
        cases = [c for c in cases if any(k in c.id for k in keys)]
    reuse = {}
    if opts.snakemake_from:
        reuse = {r["case"]: r["snakemake"] for r in json.loads(opts.snakemake_from.read_text())}
    results: list[Result] = []
    for case in cases:
        gd = opts.mirrors / case.repo.replace("/", "+")
        if not gd.exists():
            print(f"### {case.id}: no mirror at {gd} (fetch github:{case.repo})", flush=True)
            continue
        res = run_case(case, opts.mirrors, opts.work, smk, sci, opts.timeout, reuse)
        results.append(res)
        status = ("MATCH" if res.match else
                  "snakemake-cannot-plan" if not res.snakemake.ok else "DIFFERS")
        print(f"### {case.id} [{case.repo}@{res.commit}] {status}", flush=True)
        if res.snakemake.detail:
            print(f"  snakemake: {res.snakemake.detail}")
        for a in res.attempts:
            print(f"  sciflow ({a['mode']}): " +
                  ("plan" + (" = snakemake" if a.get("same_jobs") else "")
                   if a["ok"] else f"[{a['cause']}] {a['detail']}"))
        if not opts.quiet and (res.snakemake.ok or any(a.get("ok") for a in res.attempts)):
            print(side_by_side(res))
    plannable = [r for r in results if r.snakemake.ok]
    matched = [r for r in plannable if r.match]
    print()
    print(f"pipelines (cases): {len(results)}; Snakemake plans {len(plannable)}; "
          f"sciflow same jobs per rule: {len(matched)}/{len(plannable)} "
          f"= {100 * len(matched) / max(1, len(plannable)):.0f}%")
    deeper = [r for r in plannable if any(a.get("same_jobs") for a in r.attempts)]
    print(f"  with blockers stepped over (known flags, real snakemake API): "
          f"{len(deeper)}/{len(plannable)}")
    for r in results:
        if not r.snakemake.ok:
            print(f"  not plannable by Snakemake here: {r.case}: {r.snakemake.detail}")
    ranking = Counter(c for r in plannable for c in dict.fromkeys(r.causes))
    if ranking:
        print("causes (cases of plannable pipelines each blocks):")
        for key, n in ranking.most_common():
            print(f"  {n:3}  {key}")
    if opts.json:
        opts.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    if opts.markdown:
        opts.markdown.write_text(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
