"""``sciflow prov verify``: do the files on disk still match their recorded provenance?

For every path the store knows (or the paths asked for), the most recently recorded version —
the latest generation by a job, or the latest use of a raw input — is compared with a fresh
sha256 of the file (through the hash cache, so unchanged files are not re-read). Statuses:

- ``ok``: the file is the version sciflow generated;
- ``raw``: a raw input (no job generated it), unchanged since it was last used;
- ``changed``: the content differs from the recorded version (any file but HDF5/NetCDF);
- for HDF5/NetCDF the content fingerprint (fingerprint.py) tells three cases apart:
  ``same-content`` (other bytes, same data and attributes: re-saved, restamped — fine),
  ``attributes-changed`` (same data, an attribute edited) and ``data-changed``;
- ``stamp-mismatch``: the content is the recorded version's, but the file's stamp
  (``sciflow_job``) names another job, or a raw version carries the stamp of a job that
  generated something else (a generated file edited by hand, stamp kept);
- ``missing``: the file is gone (``removed-temp`` if it was a ``temp()`` output: expected);
- ``untracked``: no provenance at all for this path: made outside sciflow.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Iterable

import pandas as pd

from sciflow.hashing import HashCache
from sciflow import scidata
from sciflow.provenance import vocab as V
from sciflow.provenance.fingerprint import ContentFingerprint, FingerprintCache
from sciflow.provenance.query import Provenance
from sciflow.provenance.resolve import PATH_OF
from sciflow.provenance.store import hash_db_path

BAD = frozenset({"changed", "missing", "untracked", "data-changed", "attributes-changed",
                 "stamp-mismatch"})

_VERSIONS = """
SELECT ?path ?sha256 ?time ?generated ?run_id ?temp ?job ?dfp ?afp WHERE {
  ?f sf:sha256 ?sha256 .
  %s
  { ?f prov:qualifiedGeneration ?g . ?g prov:atTime ?time ; prov:activity ?a .
    BIND(true AS ?generated) }
  UNION
  { ?a prov:qualifiedUsage ?u . ?u prov:entity ?f ; prov:atTime ?time .
    FILTER NOT EXISTS { ?f prov:wasGeneratedBy ?any } BIND(false AS ?generated) }
  OPTIONAL { ?a provone:wasPartOf/sf:runId ?jr }
  OPTIONAL { ?a sf:runId ?rr }
  BIND(COALESCE(?jr, ?rr) AS ?run_id)
  BIND(EXISTS { ?f sf:flag "temp" } AS ?temp)
  BIND(IF(?generated, ?a, ?none) AS ?job)
  OPTIONAL { ?f sf:dataFingerprint ?dfp ; sf:attributesFingerprint ?afp }
}""" % PATH_OF.format(e="?f", p="?path")


@dataclass(slots=True)
class Verdict:
    path: str
    status: str
    recorded_sha256: str | None = None
    current_sha256: str | None = None
    run_id: str | None = None
    detail: str | None = None

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
    fps = FingerprintCache(p.workdir)
    out = []
    try:
        for rel in wanted:
            rec = latest.get(rel)
            full = p.workdir / rel
            current = cache.digest(full).sha256 if full.exists() else None
            if rec is None:
                copy = _copy_of(p, full, rel, current) if current else None
                out.append(copy or Verdict(rel, "untracked" if current else "missing", None, current))
                continue
            detail = None
            if current is None:
                status = "removed-temp" if rec.temp else "missing"
            elif current != rec.sha256:
                status, detail = _content_change(fps, full, current, rec)
            else:
                status = "ok" if rec.generated else "raw"
            if status in ("ok", "raw", "same-content") and scidata.is_scidata(full):
                status, detail = _stamp_check(p, full, rec, status)
            out.append(Verdict(rel, status, rec.sha256, current, rec.run_id, detail))
    finally:
        cache.close()
        fps.close()
    return out


def _copy_of(p: Provenance, full, rel: str, current: str) -> Verdict | None:
    """A file at a path nothing was recorded at may still be a recorded version, copied
    (found by checksum, or by its stamp and content fingerprint: sciflow/provenance/resolve)."""
    from sciflow.provenance.resolve import resolve

    res = resolve(p, str(full))
    if not (res.generated and res.entity and res.path and res.path != rel):
        return None
    return Verdict(rel, "ok" if res.status == "generated" else "same-content",
                   current if res.status == "generated" else None, current,
                   V.run_of_file_iri(res.entity), f"a copy of {res.path} (found by {res.how})")


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _content_change(fps: FingerprintCache, full, current: str, rec) -> tuple[str, str | None]:
    """Other bytes than recorded: for HDF5/NetCDF, did the data, the attributes or neither
    change? (The recorded fingerprint comes from the store, else from the cache by sha256.)"""
    if not scidata.is_scidata(full):
        return "changed", None
    recorded = None
    if _text(rec.dfp) and _text(rec.afp):
        recorded = ContentFingerprint(rec.dfp, rec.afp)
    else:
        recorded = fps.by_sha256(rec.sha256)
    now = fps.get(full, current)
    if recorded is None or now is None:
        return "changed", "no content fingerprint to compare" if now is not None else None
    kind = now.compare(recorded)
    if kind == "same":
        return "same-content", "same content, different bytes"
    if kind == "attributes":
        return "attributes-changed", "same data, attributes changed"
    return "data-changed", "data changed"


def _stamp_check(p: Provenance, full, rec, status: str) -> tuple[str, str | None]:
    """The file's stamp against the recorded version: a generated version must carry its
    own job's stamp (an unstamped file is fine: stamping may be off); a raw version must not
    claim a job (a generated file edited by hand, read again as raw data)."""
    detail = "same content, different bytes" if status == "same-content" else None
    try:
        stamped = scidata.read_stamp(full).get("sciflow_job")
    except (OSError, ValueError, RuntimeError, ImportError):
        return status, detail
    if not stamped:
        return status, detail
    job = _text(rec.job)
    if rec.generated and job and stamped != job:
        return "stamp-mismatch", f"stamp names {stamped}, the recorded version was made by {job}"
    if not rec.generated:
        from sciflow.provenance.resolve import resolve

        res = resolve(p, full)
        if res.status == "edited":
            return "stamp-mismatch", "; ".join(res.notes)
    return status, detail


def as_frame(verdicts: list[Verdict]) -> pd.DataFrame:
    return pd.DataFrame([asdict(v) for v in verdicts],
                        columns=["path", "status", "recorded_sha256", "current_sha256", "run_id",
                                 "detail"])


__all__ = ["BAD", "Verdict", "as_frame", "latest_versions", "verify"]
