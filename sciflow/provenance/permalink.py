"""The web address of a run's workflow file, for the RO-Crate export (serialize.py).

Process Run Crate wants the main workflow's ``@id`` to be an absolute http URI, and Workflow
RO-Crate then needs that URI to serve the file. A workflow published in a git forge has such an
address that never changes: the raw file at a commit. It names the run's workflow only when
the bytes at that commit are the ones the run recorded, and it resolves only when the commit
is on the remote — so ``git_permalink`` gives it only when

- the workflow file is tracked in a git repository whose remote is on GitHub or GitLab,
- the sha256 of the file at ``HEAD`` is the sha256 the run recorded for its workflow, and
- ``HEAD`` is contained in a remote-tracking branch of that remote (pushed, as of the last
  fetch or push), so the address is no guess.

Forms (downloadable by a plain GET, as RO-Crate 1.1 wants of a web-based data entity, not the
HTML page of a ``blob`` URL):

- GitHub: ``https://raw.githubusercontent.com/OWNER/REPO/COMMIT/PATH``
- GitLab (``gitlab.com`` or a host named ``gitlab.*``): ``https://HOST/GROUP/REPO/-/raw/COMMIT/PATH``

Anything else (another forge, a private repository whose raw URL needs a login) is given with
``--workflow-url``, ``SCIFLOW_WORKFLOW_URL`` or the config key ``workflow_url``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

from sciflow.hashing import sha256_fd

_SCP_LIKE = re.compile(r"^(?:[\w.+-]+@)?(?P<host>[\w.-]+):(?!//)(?P<path>.+)$")


def _git(cwd: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        proc = subprocess.run([git, "-C", str(cwd), *args], capture_output=True, text=True,
                              timeout=30, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _blob_sha256(cwd: Path, spec: str) -> str | None:
    """sha256 of a git blob's bytes (``git cat-file blob HEAD:path``), streamed."""
    git = shutil.which("git")
    if git is None:
        return None
    with subprocess.Popen([git, "-C", str(cwd), "cat-file", "blob", spec],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        digest = sha256_fd(proc.stdout.fileno())
    return digest if proc.returncode == 0 else None


def forge_raw_url(remote: str, commit: str, path: str) -> str | None:
    """The raw-file URL of ``path`` at ``commit`` for a GitHub or GitLab remote URL (https,
    ssh or scp-like ``git@host:owner/repo.git``); None for another host."""
    m = _SCP_LIKE.match(remote)
    if m and "://" not in remote:
        host, repo = m.group("host"), m.group("path")
    else:
        parts = urlsplit(remote)
        if parts.scheme not in ("https", "http", "ssh", "git") or not parts.hostname:
            return None
        host, repo = parts.hostname, parts.path
    host = host.lower()
    repo = repo.strip("/")
    repo = repo[:-4] if repo.endswith(".git") else repo
    if not repo or "/" not in repo:
        return None
    quoted = quote(path, safe="/")
    if host in ("github.com", "www.github.com"):
        return f"https://raw.githubusercontent.com/{repo}/{commit}/{quoted}"
    if host == "gitlab.com" or host.startswith("gitlab."):
        return f"https://{host}/{repo}/-/raw/{commit}/{quoted}"
    return None


def git_permalink(workflow: Path, sha256: str | None) -> str | None:
    """The permanent raw URL of ``workflow`` at ``HEAD`` when its bytes there are the run's
    (``sha256``) and ``HEAD`` is pushed to a GitHub/GitLab remote; else None (see the module
    docstring)."""
    if not sha256 or not workflow.is_file():
        return None
    where = workflow.resolve().parent
    top = _git(where, "rev-parse", "--show-toplevel")
    commit = _git(where, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if not top or not commit:
        return None
    rel = workflow.resolve().relative_to(Path(top).resolve()).as_posix()
    if _blob_sha256(Path(top), f"{commit}:{rel}") != sha256:
        return None  # untracked, or the run's workflow is not the committed one
    remotes = (_git(Path(top), "remote") or "").split()
    branch_remote = _git(Path(top), "config", "--get",
                         f"branch.{_git(Path(top), 'rev-parse', '--abbrev-ref', 'HEAD')}.remote")
    for remote in sorted(remotes, key=lambda r: (r != branch_remote, r != "origin", r)):
        pushed = _git(Path(top), "for-each-ref", "--contains", commit, "--format=%(refname)",
                      f"refs/remotes/{remote}/")
        url = _git(Path(top), "remote", "get-url", remote)
        if pushed and url:
            found = forge_raw_url(url, commit, rel)
            if found:
                return found
    return None


__all__ = ["forge_raw_url", "git_permalink"]
