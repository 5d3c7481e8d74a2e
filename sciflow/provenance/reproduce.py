"""``sciflow prov reproduce PATH``: rebuild a recorded file from its provenance, elsewhere, and
say whether the result is the same.

1. Which version: the file at PATH as it is (by checksum or stamp, resolve.py), or the latest
   generated at that path when it is gone; its generating job names the run.
2. What made it: the run's archived sources (sources.py: workflow, included, config and
   script files, by sha256) and its merged config, restored into a fresh directory with the
   same layout relative to one another.
3. What it was made from: every raw input in its lineage, found **by checksum** — at its
   recorded path in the working directory, else anywhere under the ``--search`` folders (or the
   working directory) — and copied to its recorded path. Nothing recorded is taken on trust:
   a file with other bytes is not used.
4. ``sciflow run`` in the fresh directory (a separate process: nothing of this one leaks in)
   for that path, with the recorded config.
5. Compare every generated file of the lineage with its record: the same sha256
   (``identical``), else for HDF5/NetCDF the content fingerprint (``same-content``: other
   bytes, e.g. the new run's stamp; ``attributes-differ``; ``data-differs``), else
   ``differs``; ``missing`` when the rebuild did not make it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from sciflow import layout
from sciflow.errors import ProvenanceError, UsageError
from sciflow.provenance import sources
from sciflow.provenance.query import sparql_term
from sciflow.provenance.resolve import PATH_OF, resolve, select_rows

SKIP_DIRS = {*layout.TOOL_STATE_DIRS, ".git", "__pycache__"}

_LATEST_GENERATED = """
SELECT ?e ?t WHERE { ?e sf:sha256 ?sha ; prov:qualifiedGeneration/prov:atTime ?t . %s
  FILTER(?path = $path) } ORDER BY DESC(?t) LIMIT 1""" % PATH_OF.format(e="?e", p="?path")

_FACTS = """
SELECT ?e ?path ?sha ?size ?job ?dfp ?afp WHERE { VALUES ?e { %s } ?e sf:sha256 ?sha . %s
  OPTIONAL { ?e sf:size ?size } OPTIONAL { ?e prov:wasGeneratedBy ?job }
  OPTIONAL { ?e sf:dataFingerprint ?dfp ; sf:attributesFingerprint ?afp } }"""


@dataclass(slots=True)
class Comparison:
    path: str
    status: str          # identical | same-content | attributes-differ | data-differs | differs | missing
    recorded_sha256: str | None
    new_sha256: str | None
    target: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("identical", "same-content")


@dataclass(slots=True)
class Reproduction:
    target: str
    run_id: str
    directory: Path                  # the fresh working directory
    inputs: dict[str, str] = field(default_factory=dict)   # recorded path -> where it was found
    missing_inputs: list[str] = field(default_factory=list)
    compared: list[Comparison] = field(default_factory=list)
    exit_code: int | None = None
    log: str = ""

    @property
    def ok(self) -> bool:
        return any(c.target and c.ok for c in self.compared)


def reproduce(workdir: str | os.PathLike, path: str | os.PathLike, *,
              directory: str | os.PathLike | None = None, search: Iterable[str] = (),
              cores: int = 1, python: str | None = None) -> Reproduction:
    """Rebuild the recorded version of ``path`` in ``directory`` (a new temporary folder
    when None) and compare it with its record (module docstring)."""
    from sciflow.provenance.query import Provenance, run_of_job

    p = Provenance(workdir)
    entity, rel = _which_version(p, path)
    facts = _facts(p, [entity])[entity]
    run_id = run_of_job(facts["job"] or "")
    if not run_id:
        raise ProvenanceError(f"{rel}: no recorded job generated this version; nothing to reproduce")
    manifest = sources.load_manifest(p.workdir, run_id)
    if manifest is None or not manifest.get("files"):
        raise ProvenanceError(f"run {run_id}, which made {rel}, has no archived sources",
                              hint="Sources are archived by runs of this sciflow version on; "
                                   "rerun the workflow to record them.")
    root, newwd = _layout(directory, manifest)
    _restore_sources(p.workdir, manifest, root)
    out = Reproduction(rel, run_id, newwd)
    lineage = p.lineage(rel, entity=entity)
    raw = lineage[lineage.raw]
    raw_facts = _facts(p, list(raw.file))
    restored = set(manifest["files"])
    wanted = {f["path"]: f for f in raw_facts.values() if f["path"] not in restored}
    found = _find_by_checksum(p.workdir, wanted, [Path(s) for s in search] + [p.workdir])
    for rel_in, source in found.items():
        dest = newwd / rel_in
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
        out.inputs[rel_in] = str(source)
    out.missing_inputs = sorted(set(wanted) - set(found))
    if out.missing_inputs:
        raise ProvenanceError(f"raw input(s) of {rel} not found by checksum: "
                              f"{', '.join(out.missing_inputs)}",
                              hint="Pass --search DIR where copies of them are.")
    out.exit_code, out.log = _run(newwd, manifest, rel, cores, python or sys.executable)
    generated = _facts(p, list(lineage[~lineage.raw].file))
    for ent, f in sorted(generated.items(), key=lambda kv: (kv[0] != entity, kv[1]["path"])):
        out.compared.append(_compare(newwd, f, target=ent == entity))
    return out


def _which_version(p: Any, path: str | os.PathLike) -> tuple[str, str]:
    res = resolve(p, path)
    if res.generated and res.entity:
        return res.entity, res.path
    if res.status in ("edited", "raw", "unknown"):
        why = "; ".join(res.notes) or f"it is {'a raw input' if res.status == 'raw' else 'not a recorded version'}"
        raise ProvenanceError(f"{path}: {why}",
                              hint="Reproduce names a file sciflow generated (or its path, "
                                   "when the file is gone).")
    rel = p.relpath(path)
    rows = select_rows(p, _LATEST_GENERATED.replace("$path", sparql_term(rel)))
    if not rows:
        raise ProvenanceError(f"no recorded job generated {rel}")
    return rows[0]["e"], rel


def _facts(p: Any, entities: list[str]) -> dict[str, dict]:
    if not entities:
        return {}
    values = " ".join(sparql_term(e, "iri") for e in entities)
    rows = select_rows(p, _FACTS % (values, PATH_OF.format(e="?e", p="?path")))
    return {r["e"]: r for r in rows}


def _layout(directory: Any, manifest: dict) -> tuple[Path, Path]:
    """The fresh folder, and the working directory inside it: files outside the original
    workdir (``../wf/Snakefile``) keep their place relative to it."""
    if directory is None:
        root = Path(tempfile.mkdtemp(prefix="sciflow-reproduce-"))
    else:
        root = Path(directory).resolve()
        if root.exists() and any(root.iterdir()):
            raise UsageError(f"{root} is not empty", hint="reproduce builds in a fresh directory.")
        root.mkdir(parents=True, exist_ok=True)
    return root, _layout_wd(root, manifest)


def _restore_sources(workdir: Path, manifest: dict, root: Path) -> None:
    newwd = _layout_wd(root, manifest)
    for rel, sha in manifest["files"].items():
        src = sources.archived(workdir, sha)
        if not src.is_file():
            raise ProvenanceError(f"the archived copy of {rel} (sha256 {sha[:12]}…) is gone",
                                  hint=f"It was kept at {src}.")
        dest = Path(os.path.normpath(newwd / rel))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)


def _layout_wd(root: Path, manifest: dict) -> Path:
    ups = [sum(1 for part in Path(os.path.normpath(rel)).parts if part == "..") for rel in manifest["files"]]
    up = max(ups, default=0)
    return root / Path(*Path(manifest["workdir"]).parts[-up:]) if up else root


def _find_by_checksum(workdir: Path, wanted: dict[str, dict], places: list[Path]) -> dict[str, Path]:
    """Recorded path -> a file with exactly the recorded bytes: the file at the recorded path
    first, then any file of the recorded size under ``places``."""
    from sciflow.hashing import HashCache
    from sciflow.provenance.store import hash_db_path

    found: dict[str, Path] = {}
    cache = HashCache(hash_db_path(workdir))
    try:
        def matches(candidate: Path, f: dict) -> bool:
            try:
                return candidate.is_file() and cache.digest(candidate).sha256 == f["sha"]
            except OSError:
                return False

        for rel, f in wanted.items():
            if matches(workdir / rel, f):
                found[rel] = workdir / rel
        todo = {rel: f for rel, f in wanted.items() if rel not in found}
        by_size: dict[int, list[str]] = {}
        for rel, f in todo.items():
            by_size.setdefault(int(f["size"]) if f.get("size") else -1, []).append(rel)
        for place in places:
            if not todo:
                break
            for dirpath, dirnames, filenames in os.walk(place):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
                for name in sorted(filenames):
                    cand = Path(dirpath) / name
                    try:
                        size = cand.stat().st_size
                    except OSError:
                        continue
                    for rel in list(by_size.get(size, ())) + list(by_size.get(-1, ())):
                        if rel in todo and matches(cand, todo[rel]):
                            found[rel] = cand
                            del todo[rel]
    finally:
        cache.close()
    return found


def _run(newwd: Path, manifest: dict, target: str, cores: int, python: str) -> tuple[int, str]:
    import json

    cmd = [python, "-m", "sciflow", "run", "-d", str(newwd), "-c", str(cores), target]
    if manifest.get("workflow"):
        cmd[4:4] = ["-s", str(Path(os.path.normpath(newwd / manifest["workflow"])))]
    if manifest.get("config"):
        # the recorded, merged config (config files and --config values alike), given as a
        # config file kept outside the new working directory's data
        from sciflow import layout

        cfg = layout.state_dir(newwd) / "reproduce-config.json"
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_text(json.dumps(manifest["config"]))
        cmd += ["--configfile", str(cfg)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=newwd)
    return proc.returncode, (proc.stdout + proc.stderr)[-4000:]


def _compare(newwd: Path, f: dict, target: bool) -> Comparison:
    from sciflow.hashing import checksum
    from sciflow.provenance.fingerprint import ContentFingerprint, fingerprint

    full = newwd / f["path"]
    new = checksum(full)
    if new is None:
        return Comparison(f["path"], "missing", f["sha"], None, target)
    if new == f["sha"]:
        return Comparison(f["path"], "identical", f["sha"], new, target)
    status = "differs"
    if f.get("dfp") and f.get("afp"):
        now = fingerprint(full)
        if now is not None:
            kind = now.compare(ContentFingerprint(f["dfp"], f["afp"]))
            status = {"same": "same-content", "attributes": "attributes-differ"}.get(kind, "data-differs")
    return Comparison(f["path"], status, f["sha"], new, target)


__all__ = ["Comparison", "Reproduction", "reproduce"]
