"""The grammar as it was before issue 11 (hand-expanded regexes, brackets nested three deep
inside CHUNK/HEAD), kept only as a test oracle: the rewritten grammar must give the same
parse (see ``tree_dump``) or the same error for every input."""
from __future__ import annotations

import functools
from pathlib import Path

from lark import Lark

from sciflow import syntax
from sciflow.errors import SciflowError
from tests.parse.tree_dump import dump

LEGACY = Path(__file__).with_name("sciflow_v1.lark")


@functools.lru_cache(maxsize=1)
def legacy_parser() -> Lark:
    return Lark.open(str(LEGACY), parser="lalr", lexer="basic", postlex=syntax._INDENTER,
                     transformer=syntax._Build(), maybe_placeholders=False)


def outcome(text: str, legacy: bool = False):
    """The parse of ``text`` as a comparable value: its tree, or its error message."""
    saved = syntax.parser
    if legacy:
        syntax.parser = legacy_parser
    try:
        return dump(syntax.parse_text(text, "Snakefile"))
    except SciflowError as exc:
        return f"error: {exc}"
    finally:
        syntax.parser = saved
