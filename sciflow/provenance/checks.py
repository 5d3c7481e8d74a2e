"""The rule checks of ``sciflow prov check`` beyond the SHACL shapes: the PROV-CONSTRAINTS
ordering query and every ``provenance/queries/check-*.rq``, run over the union of all runs
(the shapes see one run's graph at a time, so rules that span runs — one entity generated
in two runs, a version used after a later run replaced it — are checked here).
Every row of every query is a violation with a ``kind`` column."""
from __future__ import annotations

import pandas as pd

from sciflow.provenance.query import Provenance, named_queries


def check_queries() -> list[str]:
    """The names of the queries run by ``prov check`` (ordering first)."""
    names = [n for n in named_queries() if n.startswith("check-")]
    return ["ordering-check", *sorted(names)]


def violations(p: Provenance) -> pd.DataFrame:
    """Every violation found, one row each: ``check`` (the query), ``kind`` and the nodes."""
    frames = []
    for name in check_queries():
        df = p.run_named(name)
        if not df.empty:
            frames.append(df.astype(object).assign(check=name))
    if not frames:
        return pd.DataFrame(columns=["check", "kind"])
    out = pd.concat(frames, ignore_index=True)
    return out[["check", "kind", *[c for c in out.columns if c not in ("check", "kind")]]]
