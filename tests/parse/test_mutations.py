"""Property: any mutation of a valid workflow loads, or fails with a located SciflowError.

Never another exception (no lark/Python internals leaking), whatever the damage: deleted,
duplicated or inserted characters, lines and indentation.
"""
from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sciflow.errors import ErrorGroup, SciflowError
from sciflow.model import Workflow
from sciflow.parse import load_workflow

CORPUS = Path(__file__).parent / "corpus"
SOURCES = [(CORPUS / name).read_text() for name in ("basic.smk", "loops.smk", "features.smk")]
NOISE = list(":()[]{}\"'#\\\n\t ,=.") + ["    ", "rule x:", "input:", "run:", "\n    ",
                                          "include:", "lambda wc:", '"""', "use rule a as b with:"]


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["del_char", "dup_char", "insert", "del_line", "dup_line",
                                     "indent", "dedent", "swap_lines"]))
        lines = text.split("\n")
        i = draw(st.integers(0, max(len(text) - 1, 0)))
        j = draw(st.integers(0, len(lines) - 1))
        k = draw(st.integers(0, len(lines) - 1))
        if kind == "del_char":
            text = text[:i] + text[i + 1:]
        elif kind == "dup_char":
            text = text[:i] + text[i:i + 1] + text[i:]
        elif kind == "insert":
            text = text[:i] + draw(st.sampled_from(NOISE)) + text[i:]
        elif kind == "del_line":
            del lines[j]
            text = "\n".join(lines)
        elif kind == "dup_line":
            lines.insert(j, lines[j])
            text = "\n".join(lines)
        elif kind == "indent":
            lines[j] = draw(st.sampled_from([" ", "  ", "    ", "\t"])) + lines[j]
            text = "\n".join(lines)
        elif kind == "dedent":
            lines[j] = lines[j].lstrip()
            text = "\n".join(lines)
        else:
            lines[j], lines[k] = lines[k], lines[j]
            text = "\n".join(lines)
    return text


@settings(max_examples=int(os.environ.get("SCIFLOW_MUTATIONS", "200")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(source=mutated())
def test_mutation_gives_workflow_or_located_error(tmp_path_factory, source):
    work = tmp_path_factory.mktemp("mut")
    (work / "Snakefile").write_text(source)
    old = os.getcwd()
    os.chdir(work)
    try:
        result = load_workflow("Snakefile")
    except ErrorGroup as group:
        assert group.errors and all(e.loc is not None and e.loc.line >= 1 for e in group.errors)
        return
    except SciflowError as err:
        assert err.loc is not None and err.loc.line >= 1, repr(err)
        err.format()
        return
    finally:
        os.chdir(old)
    assert isinstance(result, Workflow)
