"""What shaped a job, found from the workflow's text alone (so the answer is the same for
every job of a rule, whichever worker ran it and whatever that worker imported before):

- ``param_config_keys``: which config keys each parameter reads (``config["a"]["b"]``,
  ``config.get("a")``, also inside ``lambda wildcards: ...``), from the ``params:`` source;
- ``code_modules``: the top-level modules a ``run:`` block or a Python script imports
  (``import x``, ``from x import y``, also inside functions), resolved to distributions with
  their versions by ``python_software``;
- ``shell_programs``: the programs a shell command runs (the first word of every simple
  command, pipelines, ``$(...)``, ``&&``/``;`` lists), resolved on ``PATH`` by ``executable``
  with path, sha256 and, for programs outside the working directory, the first line of
  ``--version`` (cached per path, size and mtime; a tool that does not answer in 2 s has none);
- ``native_libraries``: the HDF5 and NetCDF C library versions, for jobs touching such files;
- ``operating_system``: the OS name and release.
"""
from __future__ import annotations

import ast
import functools
import os
import platform
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from sciflow.execute.script import versions
from sciflow.hashing import sha256_file

# --------------------------------------------------------------------------- config keys


def _source_of(rule: Any, directive: str) -> str | None:
    """The text of one directive of a rule: from its position to the next directive's (or
    the rule's end), as written."""
    loc = rule.locs.get(directive)
    if loc is None or not loc.path or not os.path.isfile(str(loc.path)):
        return None
    lines = _read_lines(str(loc.path))
    after = [l.line for name, l in rule.locs.items()
             if name != directive and str(l.path) == str(loc.path) and l.line > loc.line]
    end = min(after) - 1 if after else min(len(lines), loc.line + 200)
    text = "".join(lines[loc.line - 1:end])
    head = text.split(":", 1)
    return head[1] if len(head) == 2 else None


@functools.lru_cache(maxsize=64)
def _read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.readlines()


def _parse_call_args(text: str) -> ast.Call | None:
    """``text`` as the arguments of a call; trailing lines that belong to something else
    (the rule's end) are dropped until it parses."""
    lines = text.splitlines()
    while lines:
        try:
            tree = ast.parse("_f(\n" + "\n".join(lines) + "\n)", mode="eval")
            return tree.body if isinstance(tree.body, ast.Call) else None
        except SyntaxError:
            lines.pop()
    return None


def config_keys(node: ast.AST) -> list[str]:
    """Dotted config keys read under ``node``: ``config["a"]["b"]`` → ``a.b``,
    ``config.get("a")`` → ``a``, ``config["a"].get("b")`` → ``a.b``."""
    found: list[str] = []

    def key_path(n: ast.AST) -> list[str] | None:
        if isinstance(n, ast.Name) and n.id == "config":
            return []
        if isinstance(n, ast.Subscript):
            base = key_path(n.value)
            sl = n.slice
            if base is not None and isinstance(sl, ast.Constant) and isinstance(sl.value, (str, int)):
                return base + [str(sl.value)]
        if (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "get"
                and n.args and isinstance(n.args[0], ast.Constant)):
            base = key_path(n.func.value)
            if base is not None:
                return base + [str(n.args[0].value)]
        return None

    for sub in ast.walk(node):
        path = key_path(sub)
        if path:
            found.append(".".join(path))
    # keep the longest path of each chain (config["a"]["b"] also walks config["a"])
    keep = [k for k in found if not any(o != k and o.startswith(k + ".") for o in found)]
    return list(dict.fromkeys(keep))


def param_config_keys(rule: Any) -> dict[str, list[str]]:
    """``{param name or position: [config keys]}`` for the params of ``rule`` that read
    config; names follow ``record.param_items`` (unnamed params by their position)."""
    text = _source_of(rule, "params")
    if text is None:
        return {}
    call = _parse_call_args(text)
    if call is None:
        return {}
    out: dict[str, list[str]] = {}
    for i, arg in enumerate(call.args):
        keys = config_keys(arg)
        if keys:
            out[str(i)] = keys
    for kw in call.keywords:
        if kw.arg is not None:
            keys = config_keys(kw.value)
            if keys:
                out[kw.arg] = keys
    return out


def lookup(config: Any, dotted: str) -> tuple[bool, Any]:
    """(found, value) of a dotted key in the merged config."""
    value = config
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


# --------------------------------------------------------------------------- python code
def code_modules(source: str) -> set[str]:
    """Top-level names of the modules ``source`` imports anywhere (static: the same for
    every job, not what a worker happened to have imported)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    mods: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            mods.add(node.module.split(".")[0])
    return mods


def python_software(modules: set[str]) -> dict[str, str]:
    """``{distribution: version}`` for the modules, plus ``python``; modules of the standard
    library, sciflow's own, and those not installed (local modules) are left out. The lookup
    is the worker's (``execute.script.versions``), so both sides name distributions alike."""
    found = versions(m for m in modules if m != "sciflow")
    found["python"] = platform.python_version()
    return found


# --------------------------------------------------------------------------- shell programs
_BUILTINS = frozenset("""
. : [ [[ alias bg bind break builtin caller case cd command compgen complete continue declare
dirs disown do done echo elif else enable esac eval exec exit export false fc fg fi for function
getopts hash help history if in jobs kill let local logout mapfile popd printf pushd pwd read
readarray readonly return select set shift shopt source suspend test then time times trap true
type typeset ulimit umask unalias unset until wait while { } ! ]] ((
""".split())
_SEPARATORS = re.compile(r"\|\||&&|[|;&\n(){}`]|\$\(")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def shell_programs(command: str) -> list[str]:
    """The programs a shell command runs, in order of first appearance: the first word of
    each simple command (after variable assignments and ``env``/``exec``/``xargs``-like
    wrappers are not unwrapped); builtins and words with ``$`` are left out."""
    found: list[str] = []
    for part in _SEPARATORS.split(command):
        try:
            words = shlex.split(part, comments=True)
        except ValueError:
            words = part.split()
        while words and (_ASSIGNMENT.match(words[0]) or words[0] in ("then", "do", "else",
                                                                   "elif", "if", "while", "until",
                                                                   "!", "time", "exec", "command")):
            words = words[1:]
        if not words:
            continue
        word = words[0]
        if word in _BUILTINS or "$" in word or word.startswith(("<", ">", "-")) or "=" in word:
            continue
        if re.match(r"^\d*[<>]", word):
            continue
        if word not in found:
            found.append(word)
    return found


@dataclass(frozen=True, slots=True)
class Executable:
    name: str
    path: str
    sha256: str
    version: str | None


_EXEC_CACHE: dict[tuple, Executable | None] = {}


def executable(name: str, workdir: str, path_env: str | None = None) -> Executable | None:
    """``name`` resolved as the shell would (``PATH``, or relative to ``workdir`` for a path),
    with its sha256 and version; None when not found. ``--version`` is asked only of programs
    outside the working directory (a program the workflow built may do anything with it)."""
    if "/" in name:
        full = name if os.path.isabs(name) else os.path.join(workdir, name)
        full = full if os.path.isfile(full) and os.access(full, os.X_OK) else None
    else:
        full = shutil.which(name, path=path_env)
    if full is None:
        return None
    real = os.path.realpath(full)
    try:
        st = os.stat(real)
    except OSError:
        return None
    key = (name, full, real, st.st_size, st.st_mtime_ns)
    if key in _EXEC_CACHE:
        return _EXEC_CACHE[key]
    inside = os.path.realpath(workdir) + os.sep
    version = None if real.startswith(inside) else _version(full)
    found = Executable(name, full, sha256_file(real), version)
    _EXEC_CACHE[key] = found
    return found


def _version(path: str) -> str | None:
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, timeout=2,
                              stdin=subprocess.DEVNULL, cwd=os.path.dirname(path) or "/")
    except (OSError, subprocess.SubprocessError):
        return None
    text = (proc.stdout or proc.stderr or b"").decode("utf-8", "replace").strip()
    if proc.returncode != 0 or not text:
        return None
    return text.splitlines()[0].strip()[:200]


# --------------------------------------------------------------------------- system
@functools.lru_cache(maxsize=1)
def operating_system() -> tuple[str, str]:
    """(name, version): the distribution from /etc/os-release where there is one (e.g.
    ``Debian GNU/Linux``, ``12``), else the kernel; the kernel release is added to the
    version (``12; Linux 6.1.0``)."""
    kernel = f"{platform.system()} {platform.release()}"
    try:
        info = platform.freedesktop_os_release()
        return info.get("NAME", platform.system()), f"{info.get('VERSION_ID', '')}; {kernel}".lstrip("; ")
    except OSError:
        return platform.system(), platform.release()


@functools.lru_cache(maxsize=1)
def native_libraries() -> dict[str, str]:
    """The HDF5 and NetCDF C libraries of this environment's Python bindings: ``libhdf5``
    (h5py's), ``libnetcdf`` (netCDF4's) and, when netCDF4 links another HDF5 than h5py,
    ``libhdf5 (netCDF4)``; what is not installed is left out."""
    found: dict[str, str] = {}
    try:
        import h5py

        found["libhdf5"] = str(h5py.version.hdf5_version)
    except Exception:  # noqa: BLE001 - not installed, or a broken build: nothing to record
        pass
    try:
        import netCDF4

        found["libnetcdf"] = str(netCDF4.__netcdf4libversion__).split()[0]
        hdf5 = str(netCDF4.__hdf5libversion__)
        if found.setdefault("libhdf5", hdf5) != hdf5:
            found["libhdf5 (netCDF4)"] = hdf5
    except Exception:  # noqa: BLE001
        pass
    return found


# --------------------------------------------------------------------------- per rule
@dataclass(frozen=True, slots=True)
class Software:
    """One piece of software a job ran with: ``kind`` is ``python`` (the interpreter),
    ``python-package``, ``program`` (with ``path`` and ``sha256``), ``library`` or ``os``."""

    name: str
    version: str
    kind: str
    path: str | None = None
    sha256: str | None = None


def shell_literals(source: str) -> list[str]:
    """The command strings of the ``shell("...")`` calls in ``run:`` code (constant ones)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "shell"
                and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            found.append(node.args[0].value)
    return found


def notebook_code(path: str) -> str:
    """The code cells of a Jupyter notebook, joined (magics left out)."""
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            nb = json.load(fh)
    except (OSError, ValueError):
        return ""
    cells = []
    for cell in nb.get("cells", ()):
        if cell.get("cell_type") == "code":
            text = "".join(cell.get("source", ()))
            cells.append("\n".join(l for l in text.splitlines() if not l.lstrip().startswith(("%", "!"))))
    return "\n".join(cells)


def action_software(kind: str, source: str, script: str | None, workdir: str,
                    path_env: str | None = None) -> list[Software]:
    """The software of a rule's action, found from its text: the imports of ``run:`` code or
    of the script/notebook, the programs of its shell command (or of its ``shell()`` calls),
    and the operating system. Deterministic: the same for every job of the rule."""
    modules: set[str] = set()
    commands: list[str] = []
    if kind == "run":
        modules = code_modules(source)
        commands = shell_literals(source)
    elif kind == "shell":
        commands = [source]
    elif kind == "script" and script and script.endswith(".py") and os.path.isfile(script):
        with open(script, encoding="utf-8", errors="replace") as fh:
            modules = code_modules(fh.read())
    elif kind == "notebook" and script:
        modules = code_modules(notebook_code(script))
    out = [Software(name, version, "python" if name == "python" else "python-package")
           for name, version in python_software(modules).items()]
    programs: list[str] = []
    for command in commands:
        programs += [p for p in shell_programs(command) if p not in programs]
    for name in programs:
        exe = executable(name, workdir, path_env)
        if exe is not None:
            out.append(Software(name, exe.version or "unknown", "program", exe.path, exe.sha256))
    os_name, os_version = operating_system()
    out.append(Software(os_name, os_version, "os"))
    return out
