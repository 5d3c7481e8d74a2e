"""Shared pieces of the compatibility instruments (benchmarks/compat.py, snakemake_suite.py).

Why a module of its own: both instruments check out trees from bare git mirrors, run the two
tools as command lines (sciflow as the installed CLI, Snakemake as the oracle) and sort every
failure into a *cause*, so that the report ranks what blocks most and names the module at fault.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent


def tool(name: str, override: str | None = None) -> list[str]:
    """The command line of a tool: an explicit override, the venv's script, or PATH's."""
    if override:
        return override.split()
    local = BIN / name
    if local.exists():
        return [str(local)]
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: pass --{name} COMMAND")
    return [found]


# ---------------------------------------------------------------- hiding the real Snakemake
# A sciflow user has no Snakemake installed, but the dev venv has it (it is the oracle). A
# sitecustomize on PYTHONPATH makes the *real* snakemake distribution unimportable in the
# sciflow process, while any other provider of the `snakemake` name (sciflow's own API layer,
# whichever mechanism it uses) still imports.
_HIDE = '''
import importlib.abc, importlib.machinery, os, sys
_REAL = os.environ.get("COMPAT_REAL_SNAKEMAKE", "")
class _HideRealSnakemake(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if not _REAL or (name != "snakemake" and not name.startswith("snakemake.")):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None:
                continue
            where = spec.origin or (list(spec.submodule_search_locations or [""])[0])
            if where and os.path.realpath(where).startswith(_REAL):
                continue          # the real one: let a later finder (sciflow's API) answer
            return spec
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _HideRealSnakemake())
'''


def hide_snakemake_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a sciflow subprocess in which the installed Snakemake is invisible."""
    env = dict(os.environ if base is None else base)
    real = subprocess.run(
        [str(BIN / "python"), "-c",
         "import importlib.util,os;s=importlib.util.find_spec('snakemake');"
         "print(os.path.realpath(os.path.dirname(s.origin)) if s else '')"],
        capture_output=True, text=True).stdout.strip()
    if not real:
        return env
    shim = Path(tempfile.gettempdir()) / "compat-hide-snakemake"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(_HIDE)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(shim), env.get("PYTHONPATH", "")] if p)
    env["COMPAT_REAL_SNAKEMAKE"] = real + os.sep
    return env


# ---------------------------------------------------------------- checkouts from bare mirrors
def git_dir(mirror: Path) -> Path:
    """The git directory of a fetched mirror (`.../repo` bare, or `.../repo/.git`)."""
    for cand in (mirror / "repo" / ".git", mirror / "repo", mirror):
        if (cand / "HEAD").exists() and (cand / "objects").exists():
            return cand
    raise FileNotFoundError(f"no git directory in {mirror}")


def head(gitdir: Path) -> str:
    return subprocess.run(["git", "--git-dir", str(gitdir), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()


def checkout(gitdir: Path, dest: Path, subdir: str = "", mirrors: Path | None = None,
             commit: str = "HEAD") -> list[str]:
    """Write the tree of ``commit`` (or its ``subdir``) into ``dest``.

    Blobs absent from the mirror (large test data) become empty files; submodules are filled
    from their own mirror under ``mirrors`` when one was fetched. Returns what was missing.
    """
    spec = f"{commit}:{subdir}" if subdir else commit
    ls = subprocess.run(["git", "--git-dir", str(gitdir), "ls-tree", "-r", "-z", "--full-tree",
                         spec], capture_output=True, check=True).stdout
    entries = []
    for item in ls.split(b"\0"):
        if not item:
            continue
        meta, path = item.split(b"\t", 1)
        mode, kind, sha = meta.decode().split()
        entries.append((mode, kind, sha, path.decode()))
    missing: list[str] = []
    blobs = [e for e in entries if e[1] == "blob"]
    proc = subprocess.Popen(["git", "--git-dir", str(gitdir), "cat-file", "--batch"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin and proc.stdout
    # one request at a time: the answers are read before the next request (no pipe deadlock)
    for mode, _kind, sha, path in blobs:
        proc.stdin.write(sha.encode() + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline().split()
        data = b""
        if len(header) == 3:
            data = proc.stdout.read(int(header[2]))
            proc.stdout.read(1)
        else:
            missing.append(path)
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "120000" and data:
            if target.is_symlink() or target.exists():
                target.unlink()
            os.symlink(data.decode(), target)
        else:
            target.write_bytes(data)
            if mode == "100755":
                target.chmod(0o755)
    proc.stdin.close()
    proc.wait()
    gitmodules = dest / ".gitmodules"
    for mode, kind, sha, path in entries:
        if kind != "commit":
            continue
        (dest / path).mkdir(parents=True, exist_ok=True)
        url = ""
        if gitmodules.exists():
            text = gitmodules.read_text()
            for block in re.split(r"\n(?=\[submodule)", text):
                if re.search(rf"path\s*=\s*{re.escape(path)}\s*$", block, re.M):
                    m = re.search(r"url\s*=\s*(\S+)", block)
                    url = m.group(1) if m else ""
        m = re.search(r"github\.com[:/]([^/]+)/([^/]+?)(?:\.git)?$", url)
        sub = mirrors / f"{m.group(1)}+{m.group(2)}" if (m and mirrors) else None
        if sub and sub.exists():
            sgit = git_dir(sub)
            have = subprocess.run(["git", "--git-dir", str(sgit), "cat-file", "-e", sha],
                                  capture_output=True).returncode == 0
            missing += checkout(sgit, dest / path, commit=sha if have else "HEAD")
        else:
            missing.append(f"{path}/ (submodule {url or '?'} not mirrored)")
    return missing


# ---------------------------------------------------------------- causes
@dataclass(frozen=True)
class Cause:
    """One reason sciflow differs from Snakemake, with the module (and helper) at fault."""

    key: str
    pattern: str          # regex over sciflow's stderr (or a synthetic detail)
    owner: str            # which helper/area fixes it
    module: str           # sciflow module at fault
    text: str


CAUSES: list[Cause] = [
    Cause("wheel-broken", r"MultiplexedPath|sciflow\.lark.*No such file", "wheel-api",
          "sciflow/resources.py", "installed wheel cannot find its grammar/data"),
    Cause("expand-flags", r"given to expand\(\) are invalid", "names",
          "sciflow/wildcards.py expand()", "expand() over `rules.X.output` items that carry "
          "flags (report/pipe/temp) is refused; Snakemake accepts it"),
    Cause("nested-input-list", r"returned list instead of a path", "dag",
          "sciflow/dag_index.py", "nested lists in `input:` (Snakemake flattens them)"),
    Cause("remote-provider", r"No module named 'snakemake\.remote|remote providers: use",
          "wheel-api/modules",
          "sciflow/compat (storage/remote)", "`snakemake.remote.*` providers (Snakemake 7 API)"),
    Cause("duplicate-directive", r"given twice in rule", "modules", "sciflow/compile.py",
          "a directive given twice in one rule (Snakemake accepts it, the last one wins)"),
    Cause("snakemake-api", r"No module named '?snakemake|object has no attribute 'modifier'", "wheel-api",
          "sciflow/compat/ (new)", "`import snakemake.*` (utils/io/shell/...) unavailable"),
    Cause("default-target-include", r"put a rule without wildcards \(e\.g\. 'rule all'",
          "modules", "sciflow/dag.py (default target)", "the first rule of an included file "
          "taken as the default target (Snakemake: the first rule of the main Snakefile)"),
    Cause("int-directive-value", r"must be an integer, got", "new", "sciflow/compile.py / dag.py",
          "threads/priority given as a float or a callable (Snakemake rounds / calls it)"),
    Cause("checkpoint-api", r"'str' object has no attribute 'open'|checkpoints\.\w+\.get",
          "new", "sciflow/dag.py (checkpoints)", "checkpoint `.get().output` items lack "
          "Snakemake's IOFile methods (`.open()`)"),
    Cause("input-function-args", r"missing \d+ required positional argument: '(groupid|"
          r"attempt|input|output|threads|resources)'", "new", "sciflow/dag_index.py",
          "input/params function arguments Snakemake fills (groupid, attempt, ...)"),
    Cause("template-engine", r"template_engine", "actions", "sciflow/execute/",
          "`template_engine:` rules"),
    Cause("lazy-resources", r"not evaluated in a lazy way", "new", "sciflow/dag.py",
          "resource functions evaluated at planning, not just before the job runs"),
    Cause("script-location", r"\.sciflow/scripts|not being written in the output directory",
          "wheel-api", "sciflow/execute/script.py", "`script:` run from a copy in "
          ".sciflow/scripts (Snakemake: the script's own dir semantics)"),
    Cause("onsuccess", r"onsuccess handler failed|onerror|onstart", "new", "sciflow/engine.py",
          "onstart/onsuccess/onerror handler semantics"),
    Cause("shell-globals", r"unknown name '\w+' in the shell command", "new",
          "sciflow/execute/shell.py + spec.py", "shell: {NAME} of a Snakefile global "
          "(Snakemake formats with the workflow's globals)"),
    Cause("pipe", r"flags \(pipe\)|pipe\(", "actions", "sciflow/helpers.py / execute",
          "`pipe()` outputs (expand over flagged patterns, pipe groups)"),
    Cause("protected", r"write-protected output", "new", "sciflow/execute/runner.py",
          "a symlink to a protected file as output is refused (Snakemake replaces the link)"),
    Cause("no-rules", r"defines no rules", "new", "sciflow/compile.py / dag.py",
          "a workflow with no rules is an error (Snakemake: nothing to be done)"),
    Cause("profile", r"profile .*unknown option", "cli", "sciflow/profile.py",
          "profile keys (default-resources, ...)"),
    Cause("cli-unknown-flag", r"unrecognized arguments|unknown option|invalid choice|"
          r"expected one argument|"
          r"sciflow(?: run)?: error: argument", "cli", "sciflow/cli/run.py",
          "Snakemake command-line flag not accepted"),
    Cause("modules", r"modules? (are|is) not supported|use rule|\bmodule\b", "modules",
          "sciflow/compile.py, sciflow/modules.py", "`module`/`use rule` not supported"),
    Cause("wrapper", r"wrapper", "actions", "sciflow/execute/wrapper.py",
          "`wrapper:` directive"),
    Cause("pep", r"pepfile|pepschema|peppy", "modules", "sciflow/compile.py",
          "`pepfile:`/`pepschema:`"),
    Cause("configfile-directive-absent", r"Paths in 'configfile:'|configfile:", "modules",
          "sciflow/compile.py", "`configfile:` file absent though --configfile supplies "
          "the config (Snakemake goes on)"),
    Cause("configfile", r"cannot read config file|config file .*(not found|does not exist)",
          "cli/modules", "sciflow/cli/run.py (or engine config loading)",
          "--configfile taken relative to -d (Snakemake: relative to the invocation dir)"),
    Cause("semantic-helpers", r"name '(lookup|branch|evaluate|collect|exists|parse_input|"
          r"extract_checksum|flatten|validate|min_version|workflow|storage|"
          r"update_config|available_cpu_count|ancient|directory|pipe|service|"
          r"report|temp|protected|touch|unpack|checkpoints|rules|scatter|gather|"
          r"get_wrapper_path|github|gitfile|gitlab|local|subpath)' is not defined",
          "wheel-api", "sciflow/helpers.py", "Snakemake helper name not defined"),
    Cause("name-not-defined", r"NameError: name '\w+' is not defined", "wheel-api",
          "sciflow/helpers.py", "a Snakemake name missing from the namespace"),
    Cause("storage", r"storage|remote provider", "modules", "sciflow/compile.py",
          "storage / remote providers"),
    Cause("workflow-object", r"'Workflow\w*' object has no attribute|workflow\.\w+", "wheel-api",
          "sciflow/model.py / compat", "`workflow.*` attribute missing"),
    Cause("report", r"\breport\b", "modules", "sciflow/helpers.py", "`report()` outputs"),
    Cause("scattergather", r"scatter|gather", "modules", "sciflow/compile.py",
          "`scattergather:`"),
    Cause("parse-error", r"syntax|unexpected|SyntaxError|expected", "hostile/modules",
          "grammar/sciflow.lark, sciflow/syntax.py", "Snakefile syntax not parsed"),
    Cause("missing-input", r"[Mm]issing input|no rule (makes|produces)|MissingInput",
          "new", "sciflow/dag.py", "DAG: input not produced (job planning differs)"),
    Cause("ambiguity", r"ambiguous|Ambiguous", "new", "sciflow/dag.py", "rule ambiguity"),
    Cause("traceback", r"Traceback \(most recent call last\)", "new", "?",
          "internal error (Python traceback)"),
]
OTHER = Cause("other", "", "new", "?", "unclassified")
DEFAULT_TARGET = Cause("default-target-include", "", "modules", "sciflow/dag.py (default target)",
                       "the first rule of an included file taken as the default target "
                       "(Snakemake: the first rule of the main Snakefile)")
MISMATCH = Cause("jobs-differ", "", "new", "sciflow/dag.py",
                 "plan made, but jobs per rule differ from Snakemake")


def classify(stderr: str) -> Cause:
    """The first cause whose pattern matches sciflow's error output."""
    for cause in CAUSES:
        if re.search(cause.pattern, stderr):
            return cause
    return OTHER


def first_error_line(text: str) -> str:
    """The most telling line of an error output (sciflow's `FILE:L:C: message` if any)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for ln in lines:      # sciflow's own "FILE:L:C: message" (not its "error in rule" header)
        if re.match(r"\S+:\d+:\d+: (?!error in rule)", ln):
            return ln[:300]
    lines = [ln for ln in lines if ln.strip("^ ")]
    for ln in lines:
        if re.search(r"error|Error|not supported|unrecognized|No module|not defined", ln):
            return ln[:300]
    return (lines[-1] if lines else "")[:300]


@dataclass
class Outcome:
    """What one tool did on one case."""

    ok: bool
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    stderr: str = ""


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command line, never raising on failure or timeout (rc 124 on timeout)."""
    try:
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return subprocess.CompletedProcess(cmd, 124, out, err + f"\ntimeout after {timeout}s")


# ---------------------------------------------------------------- wrappers, offline
_WRAPPER = re.compile(r"""wrapper:\s*(?:\n\s*)?["']([^"'\s]+)["']""")


def prepare_wrappers(tree: Path, mirrors: Path, into: Path) -> str | None:
    """A local wrapper prefix holding each wrapper the workflow names, at its version.

    Snakemake fetches wrappers (and, with conda, their environment files) from GitHub, even
    when dry-running with ``--sdm conda``; offline, a checkout of the snakemake-wrappers mirror
    at each tag the workflow names (``v7.6.0/bio/fastqc``) serves as ``--wrapper-prefix``.
    """
    mirror = mirrors / "snakemake+snakemake-wrappers"
    if not mirror.exists():
        return None
    gd = git_dir(mirror)
    wanted = set()
    for f in tree.rglob("*"):
        if f.is_file() and (f.suffix in (".smk", ".snakefile", ".py") or f.name == "Snakefile"):
            try:
                wanted.update(_WRAPPER.findall(f.read_text(errors="replace")))
            except OSError:
                continue
    for spec in sorted(wanted):
        if "://" in spec or spec.startswith("/"):
            continue
        version, _, path = spec.partition("/")
        dest = into / version / path
        if dest.exists() or not path:
            continue
        ref = version if subprocess.run(
            ["git", "--git-dir", str(gd), "rev-parse", "-q", "--verify", f"refs/tags/{version}"],
            capture_output=True).returncode == 0 else "HEAD"
        try:
            checkout(gd, dest, subdir=path, commit=ref)
        except subprocess.CalledProcessError:
            continue
    return into.resolve().as_uri() + "/"


# ---------------------------------------------------------------- a stand-in `snakemake` API
# Only to look *behind* the missing API (wheel-api's job): with it, a case that stops at
# `from snakemake.utils import validate` shows what stops it next. Not sciflow code; written
# into the scratch dir by the instruments and put on PYTHONPATH for that one attempt.
_STUB = {
    "__init__.py": "__version__ = \"9.0.0\"\n",
    "utils.py": '''
import inspect, json, os, sys
def min_version(version): pass
def available_cpu_count(): return os.cpu_count() or 1
def makedirs(path): os.makedirs(path, exist_ok=True)
def update_config(config, overwrite):
    for k, v in overwrite.items():
        if isinstance(v, dict) and isinstance(config.get(k), dict):
            update_config(config[k], v)
        else:
            config[k] = v
def _defaults(data, schema):
    for key, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        if "default" in sub and key not in data:
            data[key] = sub["default"]
        if isinstance(data.get(key), dict):
            _defaults(data[key], sub)
def validate(data, schema, set_default=True):
    import yaml
    base = os.path.dirname(inspect.stack()[1].filename)
    path = schema if os.path.isabs(schema) else os.path.join(base, schema)
    with open(path) as fh:
        spec = yaml.safe_load(fh)
    if set_default and isinstance(data, dict):
        _defaults(data, spec)
''',
    "io.py": "from sciflow.helpers import *  # noqa\n"
             "from sciflow.helpers import (temp, protected, directory, ancient, touch, pipe,"
             " unpack, report, local)  # noqa\n"
             "from sciflow.wildcards import *  # noqa\n"
             "from sciflow.wildcards import expand, glob_wildcards  # noqa\n",
    "shell.py": "import subprocess\n"
                "def shell(cmd, *a, **k):\n    return subprocess.run(cmd, shell=True, "
                "executable='/bin/bash', check=True)\n",
    "logging.py": "import logging as _l\nlogger = _l.getLogger('snakemake')\n",
    "exceptions.py": "class WorkflowError(Exception):\n    pass\n"
                     "class MissingInputException(Exception):\n    pass\n",
    "script.py": "snakemake = None\n",
    "remote/__init__.py": "",
    "remote/FTP.py": "class RemoteProvider:\n    def __init__(self, *a, **k):\n"
                     "        raise NotImplementedError('remote providers: use storage')\n",
    "remote/HTTP.py": "from snakemake.remote.FTP import RemoteProvider  # noqa\n",
}


def stub_snakemake_env(base: dict[str, str], into: Path) -> dict[str, str]:
    """``base`` plus a stand-in `snakemake` package (see _STUB) first on PYTHONPATH."""
    pkg = into / "snakemake"
    pkg.mkdir(parents=True, exist_ok=True)
    for name, text in _STUB.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    env = dict(base)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(into), env.get("PYTHONPATH", "")] if p)
    return env
