"""``sciflow prov verify``: do the files on disk still match their recorded provenance?

For every path the store knows (or the paths asked for), the most recently recorded version —
the latest generation by a job, or the latest use of a raw input — is compared with a fresh
sha256 of the file (through the hash cache, so unchanged files are not re-read). Statuses:

- ``ok``: the file is the version sciflow generated;
- ``raw``: a raw input (no job generated it), unchanged since it was last used;
- ``changed``: the content differs from the recorded version;
- ``missing``: the file is gone (``removed-temp`` if it was a ``temp()`` output: expected);
- ``untracked``: no provenance at all for this path: made outside sciflow.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Iterable

import pandas as pd

from sciflow.hashing import HashCache
from sciflow.provenance.query import Provenance
from sciflow.provenance.store import hash_db_path

BAD = frozenset({"changed", "missing", "untracked"})

_VERSIONS = """
SELECT ?path ?sha256 ?time ?generated ?run_id ?temp WHERE {
  ?f prov:atLocation ?path ; sf:sha256 ?sha256 .
  { ?f prov:qualifiedGeneration ?g . ?g prov:atTime ?time ; prov:activity ?a .
    BIND(true AS ?generated) }
  UNION
  { ?a prov:qualifiedUsage ?u . ?u prov:entity ?f ; prov:atTime ?time .
    FILTER NOT EXISTS { ?f prov:wasGeneratedBy ?any } BIND(false AS ?generated) }
  OPTIONAL { ?a provone:wasPartOf/sf:runId ?jr }
  OPTIONAL { ?a sf:runId ?rr }
  BIND(COALESCE(?jr, ?rr) AS ?run_id)
  BIND(EXISTS { ?f sf:flag "temp" } AS ?temp)
}"""


@dataclass(slots=True)
class Verdict:
    path: str
    status: str
    recorded_sha256: str | None = None
    current_sha256: str | None = None
    run_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status not in BAD


def latest_versions(p: Provenance) -> pd.DataFrame:
    """The most recently recorded version of every known path."""
    df = p.query(_VERSIONS)
    if df.empty:
        return df
    df = df.sort_values(["path", "time"])
    return df.groupby("path", as_index=False).last()


def verify(workdir: str | os.PathLike, paths: Iterable[str] = ()) -> list[Verdict]:
    p = Provenance(workdir)
    latest = {r.path: r for r in latest_versions(p).itertuples()}
    wanted = [p.relpath(x) for x in paths] or sorted(latest)
    cache = HashCache(hash_db_path(p.workdir))
    out = []
    try:
        for rel in wanted:
            rec = latest.get(rel)
            full = p.workdir / rel
            current = cache.digest(full).sha256 if full.exists() else None
            if rec is None:
                out.append(Verdict(rel, "untracked" if current else "missing", None, current))
                continue
            if current is None:
                status = "removed-temp" if rec.temp else "missing"
            elif current != rec.sha256:
                status = "changed"
            else:
                status = "ok" if rec.generated else "raw"
            out.append(Verdict(rel, status, rec.sha256, current, rec.run_id))
    finally:
        cache.close()
    return out


def as_frame(verdicts: list[Verdict]) -> pd.DataFrame:
    return pd.DataFrame([asdict(v) for v in verdicts],
                        columns=["path", "status", "recorded_sha256", "current_sha256", "run_id"])


__all__ = ["BAD", "Verdict", "as_frame", "latest_versions", "verify"]
