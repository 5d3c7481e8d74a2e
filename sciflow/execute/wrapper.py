"""``wrapper: "v3.0.0/bio/samtools/sort"``: find a snakemake-wrappers wrapper and run it as a
``script:``.

A wrapper is a directory of the snakemake-wrappers repository holding ``wrapper.py`` (the code,
which receives the ``snakemake`` object exactly as a ``script:`` does) and ``environment.yaml``
(the conda environment it needs, used with ``--use-conda`` when the rule names none). Snakemake
finds the directory by gluing ``--wrapper-prefix`` and the rule's value together; the value's
first path component is a git ref (``v3.0.0``, ``master``) and the rest the wrapper's path.

Why resolution happens on the client, before any job runs: the workers may be offline, and a
wrapper that cannot be found is a mistake of the workflow (or of ``--wrapper-prefix``), to be
reported once with the rule's line, not once per job. Remote wrappers are downloaded once into
``.sciflow/wrappers/`` (a cache keyed by the full URL).

Where a prefix can point (``--wrapper-prefix``):

* a URL (``https://…/raw/``, the default) — ``<prefix><ref>/<path>/wrapper.py``;
* ``file://DIR`` or a plain directory — tried as ``DIR/<ref>/<path>`` (a tree with one directory
  per version), then, if ``DIR`` is a git repository (a clone or a bare mirror), the file at
  ``<ref>`` read with ``git show``, then ``DIR/<path>`` (a checkout of one version);
* a rule value that is itself a URL (``https://…``, ``file:…``) is used as it is.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from sciflow.errors import DeploymentError
from sciflow.model import SourceLoc

DEFAULT_WRAPPER_PREFIX = "https://github.com/snakemake/snakemake-wrappers/raw/"
SCRIPT_NAMES = ("wrapper.py", "wrapper.R", "wrapper.Rmd", "wrapper.jl")
DOWNLOAD_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class ResolvedWrapper:
    """A wrapper found on this machine: its script and (if any) its conda environment file."""

    script: str
    environment: str | None


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "file:", "git+file:"))


def _local_dir(prefix: str) -> str | None:
    """The directory a ``file://`` or plain-path prefix names (None for remote URLs)."""
    if prefix.startswith("git+file:"):
        prefix = prefix[len("git+"):]
    if prefix.startswith("file:"):
        return urllib.parse.unquote(urllib.parse.urlparse(prefix).path)
    if _is_url(prefix):
        return None
    return os.path.abspath(os.path.expanduser(prefix))


def _split_ref(value: str) -> tuple[str, str]:
    """``"v3.0.0/bio/samtools/sort"`` -> ``("v3.0.0", "bio/samtools/sort")``."""
    value = value.strip().strip("/")
    if "/" not in value:
        return "", value
    ref, tail = value.split("/", 1)
    return ref, tail


def _strip_script(path: str) -> str:
    """A value may name the script itself (``.../wrapper.py``): keep its directory."""
    for name in SCRIPT_NAMES:
        if path.endswith("/" + name) or path == name:
            return path[: -len(name)].rstrip("/")
    return path


def resolve(value: str, prefix: str | None, cache_dir: str, loc: SourceLoc | None = None,
            rule: str = "") -> ResolvedWrapper:
    """Find (fetching if remote) the wrapper ``value``; raise ``DeploymentError`` naming
    ``--wrapper-prefix`` when it cannot be found."""
    value = _strip_script(value.strip())
    prefix = prefix or DEFAULT_WRAPPER_PREFIX
    if _is_url(value):
        local = _local_dir(value)
        if local is not None:
            return _from_directory(local, value, loc, rule)
        return _from_url(value.rstrip("/") + "/", value, cache_dir, loc, rule)
    local = _local_dir(prefix)
    if local is not None:
        return _from_local_prefix(local, value, cache_dir, loc, rule)
    base = prefix if prefix.endswith("/") else prefix + "/"
    return _from_url(base + value.strip("/") + "/", value, cache_dir, loc, rule)


def _from_directory(directory: str, value: str, loc: SourceLoc | None,
                    rule: str) -> ResolvedWrapper:
    found = _scan(directory)
    if found is None:
        raise DeploymentError(
            f"rule {rule!r}: wrapper {value!r} not found: {directory} has no "
            f"{' / '.join(SCRIPT_NAMES[:2])}", loc,
            hint="Check the wrapper's path and --wrapper-prefix.")
    return found


def _scan(directory: str) -> ResolvedWrapper | None:
    if not os.path.isdir(directory):
        return None
    env = os.path.join(directory, "environment.yaml")
    for name in SCRIPT_NAMES:
        script = os.path.join(directory, name)
        if os.path.isfile(script):
            return ResolvedWrapper(script, env if os.path.isfile(env) else None)
    return None


def _from_local_prefix(root: str, value: str, cache_dir: str, loc: SourceLoc | None,
                       rule: str) -> ResolvedWrapper:
    ref, tail = _split_ref(value)
    tried = [os.path.join(root, value.strip("/"))]
    found = _scan(tried[0])
    if found is None and ref and _is_git(root):
        found = _from_git(root, ref, tail, cache_dir)
        tried.append(f"{ref}:{tail} in the git repository {root}")
    if found is None and tail:
        tried.append(os.path.join(root, tail))
        found = _scan(tried[-1])
    if found is None:
        raise DeploymentError(
            f"rule {rule!r}: wrapper {value!r} not found under --wrapper-prefix {root} "
            f"(tried {'; '.join(tried)})", loc,
            hint="Point --wrapper-prefix at a copy of the snakemake-wrappers repository "
                 "(a checkout, a git mirror, or a directory with one folder per version).")
    return found


def _is_git(root: str) -> bool:
    return (os.path.isdir(os.path.join(root, ".git"))
            or (os.path.isfile(os.path.join(root, "HEAD"))
                and os.path.isdir(os.path.join(root, "objects"))))


def _git_show(root: str, ref: str, path: str) -> bytes | None:
    git = shutil.which("git")
    if git is None:
        return None
    proc = subprocess.run([git, "-C", root, "show", f"{ref}:{path}"], capture_output=True)
    return proc.stdout if proc.returncode == 0 else None


def _from_git(root: str, ref: str, tail: str, cache_dir: str) -> ResolvedWrapper | None:
    """Read the wrapper at ``ref`` out of a git repository into the cache."""
    digest = hashlib.sha256(f"{os.path.abspath(root)}\0{ref}\0{tail}".encode()).hexdigest()[:16]
    target = os.path.join(cache_dir, digest)
    found = _scan(target)
    if found is not None:
        return found
    for name in SCRIPT_NAMES:
        data = _git_show(root, ref, f"{tail}/{name}")
        if data is None:
            continue
        os.makedirs(target, exist_ok=True)
        env = _git_show(root, ref, f"{tail}/environment.yaml")
        if env is not None:
            _write_atomic(os.path.join(target, "environment.yaml"), env)
        _write_atomic(os.path.join(target, name), data)
        return _scan(target)
    return None


def _from_url(base: str, value: str, cache_dir: str, loc: SourceLoc | None,
              rule: str) -> ResolvedWrapper:
    """Download ``wrapper.py`` (and ``environment.yaml``) from ``base`` once, into the cache."""
    target = os.path.join(cache_dir, hashlib.sha256(base.encode()).hexdigest()[:16])
    found = _scan(target)
    if found is not None:
        return found
    reasons = []
    for name in SCRIPT_NAMES[:2]:
        try:
            data = _download(base + name)
        except urllib.error.HTTPError as err:
            reasons.append(f"{base}{name}: HTTP {err.code}")
            if err.code == 404:
                continue
            break
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            reasons.append(f"{base}{name}: {reason}")
            break
        os.makedirs(target, exist_ok=True)
        try:
            _write_atomic(os.path.join(target, "environment.yaml"),
                          _download(base + "environment.yaml"))
        except (urllib.error.URLError, OSError, ValueError):
            pass  # a wrapper without an environment file
        _write_atomic(os.path.join(target, name), data)
        return _scan(target)  # type: ignore[return-value]
    raise DeploymentError(
        f"rule {rule!r}: cannot fetch wrapper {value!r} ({'; '.join(reasons)})", loc,
        hint="Without network access, clone https://github.com/snakemake/snakemake-wrappers "
             "and pass --wrapper-prefix file:///path/to/snakemake-wrappers/ (or a plain path).")


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310
        return response.read()


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def check_runnable(found: ResolvedWrapper, value: str, loc: SourceLoc | None,
                   rule: str) -> None:
    """sciflow runs Python wrappers; R/Julia ones get an error saying so."""
    if not found.script.endswith(".py"):
        raise DeploymentError(
            f"rule {rule!r}: wrapper {value!r} is written in "
            f"{os.path.splitext(found.script)[1]} ({found.script}); sciflow runs Python "
            "wrappers (wrapper.py) only", loc,
            hint="Use a Python wrapper, or call the tool from a shell: command.")
