"""Helpers shared by the test packages (importable as ``helpers``: tests/ is on sys.path).

One place for what several test modules need: the installed command lines, the files a run
left behind, and checksums. (The Snakemake oracle is ``oracle.py``; golden cases ``golden.py``.)
"""
from __future__ import annotations

import hashlib
import sys
import textwrap
from pathlib import Path

BIN = Path(sys.executable).parent
SCIFLOW = BIN / "sciflow"
SNAKEMAKE = BIN / "snakemake"
STATE_DIRS = (".snakemake", ".sciflow")


def write_tree(root: Path, files: dict[str, str], *, snakefile: str | None = None,
               dedent: bool = True) -> Path:
    """Write ``files`` (relative name -> text) below ``root``, parents made; ``snakefile``, if
    given, as ``root/Snakefile``. Texts written inline in a test are dedented and their leading
    blank lines dropped (``dedent=False`` writes them byte for byte); the Snakefile always is."""
    root.mkdir(parents=True, exist_ok=True)
    if snakefile is not None:
        (root / "Snakefile").write_text(textwrap.dedent(snakefile).lstrip())
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip() if dedent else text)
    return root


def files_below(wd: Path, *, skip_suffixes: tuple[str, ...] = (),
                binary: bool = False) -> dict[str, str | bytes]:
    """Every file below ``wd`` but the tools' own state (``.snakemake/``, ``.sciflow/``), with
    its content (text, or bytes with ``binary``); ``skip_suffixes`` leaves out e.g. benchmark
    timings, which differ by nature."""
    found: dict[str, str | bytes] = {}
    for path in sorted(wd.rglob("*")):
        rel = path.relative_to(wd)
        if rel.parts[0] in STATE_DIRS or not path.is_file() or path.name.endswith(skip_suffixes):
            continue
        found[rel.as_posix()] = path.read_bytes() if binary else path.read_text()
    return found


def sha256(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
