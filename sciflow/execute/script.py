"""The ``snakemake`` object that ``script:`` and ``notebook:`` code receives, and the
software (distributions and versions) a script or ``run:`` block used.

Snakemake runs a Python script by prepending a one-line preamble that unpickles a
``Snakemake`` object (``snakemake.input``, ``.output``, ``.params``, ``.wildcards``,
``.threads``, ``.resources``, ``.log``, ``.config``, ``.rule``...). We do the same, with our
own picklable class offering the same attributes and methods, so existing scripts run
unchanged. ``import snakemake...`` in the script (``from snakemake.script import snakemake``,
``from snakemake.shell import shell``) is answered by sciflow's own API, for the script's
code only (:mod:`sciflow.compat`). The preamble also records, at exit, which top-level
modules the script imported (the job's software, for provenance).
"""
from __future__ import annotations

import functools
import os
import pickle
import sys
import types
from typing import Any, Callable

from sciflow.model import NamedList, Wildcards

PREAMBLE_START = "######## sciflow preamble start (automatically inserted, do not edit) ########"
PREAMBLE_END = "######## sciflow preamble end #########"
MODULES_ENV = "SCIFLOW_MODULES_FILE"


class ResourceList(NamedList):
    """``resources`` of a job: a NamedList that also answers Snakemake's private names
    (``resources._cores``, ``resources._nodes``), which a plain NamedList refuses as attributes
    (its ``_`` names are internals)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") and not name.startswith("__") and name != "_names":
            try:
                names = object.__getattribute__(self, "_names")
            except AttributeError:
                raise AttributeError(name) from None
            if name in names:
                return self._get(name)
        return super().__getattr__(name)


def job_resources(threads: int, resources: Any) -> ResourceList:
    """A job's resources as Snakemake's actions see them: ``_cores`` (the job's threads),
    ``_nodes``, ``tmpdir`` and the rule's own, sized ones expanded (see ``expand_sized``)."""
    return ResourceList((), {"_cores": threads, "_nodes": 1,
                             "tmpdir": os.environ.get("TMPDIR", "/tmp"),
                             **expand_sized(dict(resources))},
                        flatten=False)


_MIB_PER_MB = 0.95367431640625


def expand_sized(resources: dict[str, Any]) -> dict[str, Any]:
    """Snakemake's view of sized resources: ``mem``/``disk`` in any unit (``"5GB"``) or as
    ``*_mb``/``*_mib`` give all three names (``mem_mb=5000``, ``mem_mib=4769``,
    ``mem="5 GB"``), and a ``runtime`` string (``"1h"``) becomes minutes (60)."""
    import math

    from sciflow.resources_config import size_mb
    out = dict(resources)
    for base in ("mem", "disk"):
        mb: Any = out.get(f"{base}_mb")
        if mb is None and isinstance(out.get(f"{base}_mib"), (int, float)):
            mb = math.floor(out[f"{base}_mib"] / _MIB_PER_MB)
        if mb is None and base in out:
            mb = size_mb(base, out[base]) if isinstance(out[base], str) else out[base]
        if isinstance(mb, (int, float)) and not isinstance(mb, bool):
            out[f"{base}_mb"] = mb
            out[base] = _human_size(mb * 10**6)
            out.setdefault(f"{base}_mib", math.ceil(mb * _MIB_PER_MB))
    runtime = out.get("runtime")
    if isinstance(runtime, str):
        from sciflow.execute.spec import runtime_seconds
        seconds = runtime_seconds(runtime)
        if seconds is not None:
            out["runtime"] = round(seconds / 60)
    return out


def _human_size(size: float) -> str:
    """Bytes in decimal units as Snakemake prints them (``"5 GB"``, ``"4.5 MB"``)."""
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{round(size / scale, 2):.2f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{int(size)} bytes"


class Snakemake:
    """What ``snakemake.<name>`` gives inside a script, as in Snakemake's ``iocontainers``."""

    def __init__(self, input: NamedList, output: NamedList, params: NamedList,
                 wildcards: Wildcards, threads: int, resources: NamedList, log: NamedList,
                 config: dict, rule: str, bench_iteration: int | None = None,
                 scriptdir: str | None = None) -> None:
        self.input = input
        self.output = output
        self.params = params
        self.wildcards = wildcards
        self.threads = threads
        self.resources = resources
        self.log = log
        self.config = config
        self.rule = rule
        self.bench_iteration = bench_iteration
        self.scriptdir = scriptdir

    def log_fmt_shell(self, stdout: bool = True, stderr: bool = True, append: bool = False) -> str:
        """A shell redirection to the rule's log ("" without a log), as Snakemake's."""
        log = str(self.log)
        if not log:
            return ""
        redirect = {
            (True, True, True): " >> {0} 2>&1", (True, False, True): " >> {0}",
            (False, True, True): " 2>> {0}", (True, True, False): " > {0} 2>&1",
            (True, False, False): " > {0}", (False, True, False): " 2> {0}",
        }
        return redirect[(stdout, stderr, append)].format(log)


def preamble(obj: Snakemake, script_path: str) -> str:
    """One line of Python that defines ``snakemake`` (and ``__file__`` as the real script)."""
    import sciflow

    package_root = os.path.dirname(os.path.dirname(os.path.abspath(sciflow.__file__)))
    data = pickle.dumps(obj, protocol=4)
    lines = [
        "import sys, pickle; ",
        f"sys.path.append({package_root!r}); ",
        f"sys.path.append({os.path.dirname(script_path)!r}); ",
        f"snakemake = pickle.loads({data!r}); ",
        "import sciflow.compat as __sciflow_compat; __sciflow_compat.activate(globals(), snakemake); ",
        f"__real_file__ = __file__; __file__ = {script_path!r}; ",
        "import sciflow.execute.script as __sciflow_script; __sciflow_script.record_modules_at_exit(); ",
    ]
    return "\n".join([PREAMBLE_START, "".join(lines), PREAMBLE_END, ""])


def script_source(obj: Snakemake, script_path: str) -> str:
    """The script as it runs: the preamble, after any ``from __future__`` imports."""
    with open(script_path, encoding="utf-8") as fh:
        source = fh.read()
    head, body = _split_future_imports(source)
    return head + preamble(obj, script_path) + body


def _split_future_imports(source: str) -> tuple[str, str]:
    """``from __future__`` imports must stay first; keep them (and the docstring) before us."""
    if "from __future__" not in source:
        return "", source
    lines = source.splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if line.lstrip().startswith("from __future__"))
    return "".join(lines[: last + 1]), "".join(lines[last + 1:])


def record_modules_at_exit() -> None:
    """At interpreter exit, write the top-level modules the script imported (one a line)."""
    target = os.environ.get(MODULES_ENV)
    if not target:
        return
    before = set(sys.modules)

    def _write() -> None:
        names = sorted({m.split(".")[0] for m in set(sys.modules) - before} - {"__sciflow_script"})
        try:
            with open(target, "w", encoding="utf-8") as fh:
                fh.write("\n".join(names))
        except OSError:
            pass

    import atexit
    atexit.register(_write)


def make_snakemake(spec: Any, output: NamedList, scriptdir: str | None) -> Snakemake:
    """The object for one job attempt (``output`` already mapped to temp paths)."""
    resources = job_resources(spec.threads, spec.resources)
    return Snakemake(
        input=spec.input if spec.input is not None else NamedList(),
        output=output, params=spec.params if spec.params is not None else NamedList(),
        wildcards=Wildcards(spec.wildcards), threads=spec.threads, resources=resources,
        log=spec.log if spec.log is not None else NamedList(), config=spec.config,
        rule=spec.rule, scriptdir=scriptdir,
    )


def notebook_preamble(obj: Snakemake, notebook_path: str) -> str:
    """The first cell injected into a ``notebook:``: defines ``snakemake`` in the kernel."""
    import sciflow

    package_root = os.path.dirname(os.path.dirname(os.path.abspath(sciflow.__file__)))
    data = pickle.dumps(obj, protocol=4)
    return (f"# {PREAMBLE_START}\nimport sys, pickle\nsys.path.append({package_root!r})\n"
            f"snakemake = pickle.loads({data!r})\n"
            "import sciflow.compat as __sciflow_compat\n"
            "__sciflow_compat.activate(globals(), snakemake)\n"
            f"# {PREAMBLE_END}\n")


# --------------------------------------------------------------------------- software
@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    import importlib.metadata  # 30-60 ms with its email parser: only when versions are asked

    return importlib.metadata.packages_distributions()


@functools.lru_cache(maxsize=4096)
def _dist_version(dist: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions(modules: Any) -> dict[str, str]:
    """``{distribution: version}`` for top-level module names, plus ``python``."""
    found = {"python": ".".join(map(str, sys.version_info[:3]))}
    stdlib = sys.stdlib_module_names
    for name in sorted({m.split(".")[0] for m in modules}):
        if not name or name in stdlib or name.startswith("_"):
            continue
        for dist in _distributions().get(name, ()):
            version = _dist_version(dist)
            if version:
                found[dist] = version
    return found


_SEEN_MODULES: dict[Any, frozenset[str]] = {}


def call_recording_software(func: Callable[..., Any], args: tuple) -> dict[str, str]:
    """Call a ``run:`` function; return the distributions it used.

    Modules imported during the call (the ``sys.modules`` diff, remembered per function since
    a second call in the same process imports nothing new) plus modules the function's code
    names from the workflow namespace (``pd.read_csv`` → pandas)."""
    before = set(sys.modules.copy())  # (copy: atomic, other threads may be importing)
    func(*args)
    code = getattr(func, "__code__", None)
    new = frozenset(m.split(".")[0] for m in set(sys.modules.copy()) - before)
    seen = _SEEN_MODULES.get(code, frozenset()) | new
    _SEEN_MODULES[code] = seen
    return versions(seen | _referenced_modules(func))


def _referenced_modules(func: Callable[..., Any]) -> set[str]:
    names: set[str] = set()
    code = getattr(func, "__code__", None)
    scope = getattr(func, "__globals__", {})
    stack = [code] if code is not None else []
    while stack:
        co = stack.pop()
        names.update(co.co_names)
        stack.extend(c for c in co.co_consts if isinstance(c, types.CodeType))
    found = set()
    for name in names:
        value = scope.get(name)
        if isinstance(value, types.ModuleType):
            found.add(value.__name__.split(".")[0])
        elif value is not None and getattr(value, "__module__", None):
            found.add(str(value.__module__).split(".")[0])
    return found
