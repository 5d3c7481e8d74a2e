"""Where the shipped data files are: the grammar and the provenance vocabulary.

In a wheel they are the folders ``sciflow/grammar`` and ``sciflow/vocab`` inside the installed
package (setup.py maps the top-level ``grammar/`` and ``provenance/`` folders there); in a
source checkout (editable install, or tests run from the tree) they are those top-level
folders themselves. Callers ask here and never build paths themselves.

Why ``files("sciflow") / "grammar"`` and not ``files("sciflow.grammar")``: the data folders have
no ``__init__.py`` (they are data, read by people and other tools, not Python packages), so
``sciflow.grammar`` is a *namespace* package. ``importlib.resources.files()`` of a namespace
package is a ``MultiplexedPath`` (a union of folders) whose ``str()`` is a description, not a
path — an installed sciflow then failed to open its own grammar. ``sciflow`` itself is a
regular package, so ``files("sciflow")`` is a real folder for any installed wheel, and a
sub-folder of it is too. For the rare zipped install (zipimport), the folder is copied out
once per process to a temporary directory, because lark, SPARQL loading and pyshacl need real
files.
"""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _find(subdir: str, checkout_folder: str, marker: str) -> Path:
    """The installed package's data folder ``sciflow/<subdir>`` if there is one, else the
    checkout's ``<checkout_folder>`` (only if it holds ``marker``: a ``site-packages`` may
    hold an unrelated top-level folder with the same name)."""
    shipped = resources.files("sciflow").joinpath(subdir)
    if shipped.is_dir():
        return shipped if isinstance(shipped, Path) else _extract(shipped)
    checkout = _REPO_ROOT / checkout_folder
    if (checkout / marker).is_file():
        return checkout
    raise FileNotFoundError(
        f"sciflow's data folder {subdir!r} is missing from the installation "
        f"({shipped}); reinstall sciflow")


def _extract(folder: Traversable) -> Path:
    """Copy a non-filesystem resource folder (zipped install) to a temporary directory."""
    target = Path(tempfile.mkdtemp(prefix="sciflow-data-"))
    atexit.register(shutil.rmtree, target, True)

    def copy(src: Traversable, dst: Path) -> None:
        dst.mkdir(parents=True, exist_ok=True)
        for item in src.iterdir():
            if item.is_dir():
                copy(item, dst / item.name)
            else:
                (dst / item.name).write_bytes(item.read_bytes())

    copy(folder, target)
    return target


@functools.lru_cache(maxsize=None)
def grammar_dir() -> Path:
    """The folder holding `sciflow.lark`."""
    return _find("grammar", "grammar", "sciflow.lark")


@functools.lru_cache(maxsize=None)
def vocab_dir() -> Path:
    """The folder holding `queries/*.rq`, `shapes/*.ttl` and `context.jsonld`."""
    return _find("vocab", "provenance", "context.jsonld")
