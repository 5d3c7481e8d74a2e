"""Which recorded version is this file? By its bytes, its stamp, or its content.

A path names a place, not a version: a stamped output copied to ``/elsewhere/copy.nc`` is not at
any recorded path, and a generated file edited by hand afterwards is still at its old path (and
still carries the stamp of the job that made the original). ``resolve`` answers from the file
itself, in this order:

1. its sha256 equals a generated version (the one at the same path first, the latest
   first): no stamp is read, so HDF5 libraries are not even imported;
2. its stamp (``sciflow_job``, HDF5/NetCDF root attributes written by the recorder) names a
   job: the version that job generated with the same sha256 or, failing that, the same
   content fingerprint (the stamp was rewritten, or the file re-saved: "same content");
   a stamp whose job generated something else says the file was **edited** after the job
   made it — it is then *not* reported as the job's version;
3. otherwise the path's latest recorded version, when the file is not on disk.

Used by ``sciflow prov lineage`` and ``sciflow prov verify``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciflow import layout, scidata
from sciflow.provenance.query import sparql_term

# Patterns shared with verify.py: the path of a file version is ``sf:path`` on the entity, or
# (stores written before prov:Location nodes) the literal object of ``prov:atLocation``.
PATH_OF = "{{ {e} sf:path {p} }} UNION {{ {e} prov:atLocation {p} FILTER(isLiteral({p})) }}"

_BY_SHA = """
SELECT ?e ?path ?job ?t WHERE {
  ?e sf:sha256 $sha .
  %s
  OPTIONAL { ?e prov:qualifiedGeneration ?g . ?g prov:activity ?job ; prov:atTime ?t }
  OPTIONAL { ?u prov:entity ?e ; prov:atTime ?tu }
} ORDER BY DESC(COALESCE(?t, ?tu))""" % PATH_OF.format(e="?e", p="?path")

_OF_JOB = """
SELECT ?e ?path ?sha ?cfp ?dfp ?afp ?t WHERE {
  ?e prov:wasGeneratedBy $job ; sf:sha256 ?sha .
  %s
  OPTIONAL { ?e prov:qualifiedGeneration/prov:atTime ?t }
  OPTIONAL { ?e sf:contentFingerprint ?cfp ; sf:dataFingerprint ?dfp ;
             sf:attributesFingerprint ?afp }
}""" % PATH_OF.format(e="?e", p="?path")


@dataclass(slots=True)
class Resolution:
    """What a file on disk is, as far as the store knows."""

    given: str
    status: str                  # generated | raw | edited | same-content | unknown | missing
    entity: str | None = None    # the recorded version this file is (none: not recorded)
    path: str | None = None      # that version's recorded (workdir-relative) path
    sha256: str | None = None    # of the file on disk
    how: str = ""                # checksum | stamp | stamp+fingerprint | path
    stamp_job: str | None = None
    stamped_version: str | None = None  # the version the stamp's job generated
    change: str | None = None    # edited: "data" or "attributes"
    notes: list[str] = field(default_factory=list)

    @property
    def generated(self) -> bool:
        return self.status in ("generated", "same-content")


def select_rows(p: Any, sparql: str) -> list[dict]:
    """SELECT rows as dicts of plain values, without pandas (fast CLI start)."""
    from sciflow.provenance import vocab as V

    result = p.store.query(sparql, use_default_graph_as_union=True, prefixes=V.PREFIXES)
    names = [v.value for v in result.variables]
    return [{n: (sol[i].value if sol[i] is not None else None) for i, n in enumerate(names)}
            for sol in result]


def locate(p: Any, path: str | os.PathLike) -> Path:
    """The file a user means: as given from the current directory if it exists there and not
    in the workdir, else relative to the workdir."""
    given = Path(path)
    if given.is_absolute():
        return given
    if given.exists() and not (p.workdir / given).exists():
        return given.resolve()
    return p.workdir / given


def file_sha256(p: Any, full: Path) -> str | None:
    from sciflow.hashing import HashCache
    from sciflow.provenance.store import hash_db_path

    cache = HashCache(hash_db_path(p.workdir) if layout.state_dir(p.workdir).is_dir() else None)
    try:
        return cache.digest(full).sha256 if full.is_file() else None
    except OSError:
        return None
    finally:
        cache.close()


def resolve(p: Any, path: str | os.PathLike) -> Resolution:
    """The recorded version the file at ``path`` is (see the module docstring)."""
    full = locate(p, path)
    try:
        rel = os.path.relpath(full, p.workdir)
    except ValueError:
        rel = str(full)
    inside = not rel.startswith("..")
    sha = file_sha256(p, full)
    res = Resolution(str(path), "unknown", sha256=sha)
    if sha is None:
        res.status = "missing"
        return res
    rows = select_rows(p, _BY_SHA.replace("$sha", sparql_term(sha)))
    rows.sort(key=lambda r: (not (inside and r["path"] == rel), r["job"] is None))
    if rows and (rows[0]["job"] or not scidata.is_scidata(full)):
        return _found(res, rows[0])  # the bytes of a recorded version: no stamp to read
    res.stamp_job = _stamp(full).get("sciflow_job")
    if res.stamp_job:
        return _by_stamp(p, full, res)
    return _found(res, rows[0]) if rows else res


def _found(res: Resolution, row: dict) -> Resolution:
    res.entity, res.path, res.how = row["e"], row["path"], "checksum"
    res.status = "generated" if row["job"] else "raw"
    return res


def _by_stamp(p: Any, full: Path, res: Resolution) -> Resolution:
    from sciflow.provenance.fingerprint import fingerprint

    made = select_rows(p, _OF_JOB.replace("$job", sparql_term(res.stamp_job, "iri")))
    made = [r for r in made if scidata.is_scidata(r["path"] or "")]
    if not made:
        res.notes.append(f"its stamp names {res.stamp_job}, which the store does not know")
        return res
    for r in made:
        if r["sha"] == res.sha256:
            res.status, res.entity, res.path, res.how = "generated", r["e"], r["path"], "stamp"
            return res
    # Not the same bytes: compare content with every version the job made that could be this
    # file (same file name first).
    fp = fingerprint(full)
    made.sort(key=lambda r: Path(r["path"]).name != full.name)
    best = made[0]
    res.stamped_version, res.path = best["e"], best["path"]
    if fp is not None:
        for r in made:
            if r["dfp"] == fp.data and r["afp"] == fp.attributes:
                res.status, res.entity, res.path = "same-content", r["e"], r["path"]
                res.how = "stamp+fingerprint"
                return res
        if best["dfp"]:
            res.change = "attributes" if best["dfp"] == fp.data else "data"
    res.status = "edited"
    # Edited by hand and then read by a later run: that raw version is recorded.
    raw = [r for r in select_rows(p, _BY_SHA.replace("$sha", sparql_term(res.sha256))) if r["job"] is None]
    if raw:
        res.entity, res.how = raw[0]["e"], "checksum"
    job = res.stamp_job.rsplit(":job:", 1)
    res.notes.append(f"its stamp names job {job[-1]} of run {job[0].rsplit(':', 1)[-1]}, but "
                     f"{'its ' + res.change if res.change else 'it'} differs from the version "
                     f"that job generated ({best['path']}): edited after it was made")
    return res


def _stamp(full: Path) -> dict[str, str]:
    if not scidata.is_scidata(full):
        return {}
    try:
        return scidata.read_stamp(full)
    except (OSError, ValueError, RuntimeError, ImportError):
        return {}


__all__ = ["PATH_OF", "Resolution", "locate", "resolve"]
