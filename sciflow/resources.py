"""Where the shipped data files are: the grammar and the provenance vocabulary.

In a wheel they are the packages `sciflow.grammar` and `sciflow.vocab` (see setup.py); in a
source checkout (editable install, or tests run from the tree) they are the top-level folders
`grammar/` and `provenance/`. Callers ask here and never build paths themselves.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _find(package: str, folder: str) -> Path:
    checkout = _REPO_ROOT / folder
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files(package)))


def grammar_dir() -> Path:
    """The folder holding `sciflow.lark`."""
    return _find("sciflow.grammar", "grammar")


def vocab_dir() -> Path:
    """The folder holding `queries/*.rq`, `shapes/*.ttl` and `context.jsonld`."""
    return _find("sciflow.vocab", "provenance")
