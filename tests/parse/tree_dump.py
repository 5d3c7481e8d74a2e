"""A canonical, comparable form of a parse (``syntax.Parsed``), for grammar regression tests.

Two parses are "the same tree" when they have the same statement nodes with the same spans
(start, end, line, col, end_line), the same head tokens (kind and position; the text of a
directive's head token is the lexer's business, the compiler reads only its position), and
the same comments. A span's end is taken without trailing blanks: the old grammar swallowed
the blanks after a bracket closed on the same line (inside its CHUNK), the new one leaves
them to ``%ignore`` after the RPAR/RSQB/RBRACE token; the compiler copies ``text[start:end]``
into Python, where trailing blanks mean nothing.
"""
from __future__ import annotations

import dataclasses

from lark import Token


def dump(parsed) -> dict:
    text = parsed.text
    return {"statements": [_node(n, text) for n in parsed.statements],
            "comments": [list(c) for c in parsed.comments]}


def _node(obj, text: str):
    if isinstance(obj, Token):
        out = [obj.type, obj.start_pos, obj.line, obj.column]
        if obj.type in ("RULE_HEAD", "USE_KW", "MODULE_HEAD"):
            out.append(str(obj))
        return out
    if dataclasses.is_dataclass(obj):
        values = [_node(getattr(obj, f.name), text) for f in dataclasses.fields(obj)]
        if type(obj).__name__ == "Span":
            start, end = obj.start, obj.end
            while end > start and text[end - 1] in " \t\f":
                end -= 1
            values[1] = end
        return [type(obj).__name__] + values
    if isinstance(obj, list):
        return [_node(x, text) for x in obj]
    return obj
