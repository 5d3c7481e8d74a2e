"""Content fingerprints of HDF5/NetCDF files: what the file *says*, not how its bytes are laid out.

Two writes of the same numbers differ in bytes (HDF5 creation/modification times, chunk
layout, compression, the library versions in ``_NCProperties``, sciflow's own stamp), so the
sha256 alone calls a same-data rewrite "changed". The fingerprint hashes instead, in a fixed
order, every variable/dataset (name, dims, shape, little-endian dtype and its values —
coordinates included, as they are variables) and, separately, every attribute that is not
sciflow's stamp or a storage detail (dimension-scale bookkeeping, ``_Netcdf4*``,
``_NCProperties``). The two halves are kept apart so an attribute-only edit (a fixed
``units``, a new ``history``) can be told from a change of data.

NetCDF is read through xarray (``decode_cf=False``: raw values, fill values and scale factors
stay attributes), every group included; other HDF5 files through h5py. Values are hashed in
slices of at most ``SLICE_BYTES``, so a large file is never held in memory at once.

The result is cached per file version ``(path, size, mtime_ns, inode)`` and by sha256 in a
small SQLite file (``layout.content_fingerprint_db``): a later plan or ``prov verify`` reads it
back, and the fingerprint of a version no longer on disk can still be looked up by its sha256.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from sciflow import layout, scidata
from sciflow.hashing import version_of

SLICE_BYTES = 64 << 20
SCHEME = "sfcfp1"  # bumped whenever the canonical form changes (old cache rows then miss)

# Attributes that describe storage, not content: written by the HDF5/netCDF libraries (with
# their versions), by h5py's dimension scales, or by sciflow's stamp.
_STORAGE_ATTRS = frozenset({
    "DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME", "_Netcdf4Dimid",
    "_Netcdf4Coordinates", "_NCProperties", "_nc3_strict", "_SuperblockVersion", "_IsNetcdf4",
})


def _ignored_attr(name: str) -> bool:
    return name.startswith("sciflow_") or name in _STORAGE_ATTRS


@dataclass(frozen=True, slots=True)
class ContentFingerprint:
    """The two halves of a content fingerprint (hex sha256 each) and their combination."""

    data: str
    attributes: str

    @property
    def combined(self) -> str:
        return hashlib.sha256(f"{SCHEME}:{self.data}:{self.attributes}".encode()).hexdigest()

    def compare(self, other: "ContentFingerprint") -> str:
        """``"same"``, ``"attributes"`` (only attributes differ) or ``"data"``."""
        if self.data != other.data:
            return "data"
        return "same" if self.attributes == other.attributes else "attributes"


def supported(path: str | os.PathLike) -> bool:
    return scidata.is_scidata(path)


def fingerprint(path: str | os.PathLike) -> ContentFingerprint | None:
    """The content fingerprint of an HDF5/NetCDF file; None if it is not one or cannot be
    read (an unreadable file is then compared by its sha256 only)."""
    fmt = scidata.file_format(path)
    if fmt is None or not os.path.isfile(path):
        return None
    data, attrs = hashlib.sha256(SCHEME.encode()), hashlib.sha256(SCHEME.encode())
    try:
        if fmt == "NetCDF":
            _netcdf(path, data, attrs)
        else:
            _hdf5(path, data, attrs)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, ImportError):
        return None
    return ContentFingerprint(data.hexdigest(), attrs.hexdigest())


# ---------------------------------------------------------------------- canonical form
def _feed(h: "hashlib._Hash", *parts: Any) -> None:
    """Length-prefixed parts, so no two different sequences hash alike."""
    for part in parts:
        b = part if isinstance(part, bytes) else str(part).encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)


def _plain_value(value: Any) -> Any:
    """An attribute value as JSON-able plain data (numpy scalars/arrays, bytes decoded)."""
    import numpy as np

    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SO":
            return [_plain_value(v) for v in value.tolist()]
        return {"dtype": _dtype(value.dtype), "values": value.tolist()}
    if isinstance(value, np.generic):
        return {"dtype": _dtype(value.dtype), "values": value.item()}
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    return value


def _feed_attrs(h, owner: str, attrs: dict) -> None:
    for name in sorted(attrs):
        if _ignored_attr(str(name)):
            continue
        value = json.dumps(_plain_value(attrs[name]), sort_keys=True, default=repr)
        _feed(h, "attr", owner, name, value)


def _dtype(dtype: Any) -> str:
    """A dtype spelled the same whatever the byte order it was stored in."""
    import numpy as np

    dt = np.dtype(dtype)
    return dt.newbyteorder("<").str if dt.byteorder not in ("|", "=") or dt.kind in "iufc" else dt.str


def _feed_array(h, owner: str, dims: Iterable[str], shape: tuple, dtype: Any, read) -> None:
    """Name, dims, shape, dtype, then the values in row-major order, read slice by slice
    (``read(start, stop)`` returns rows of the first axis)."""
    import numpy as np

    dt = np.dtype(dtype)
    _feed(h, "var", owner, json.dumps(list(dims)), json.dumps([int(n) for n in shape]), _dtype(dt))
    if dt.kind == "O" or dt.hasobject:  # references, vlen: hashed through their repr
        _feed(h, repr(np.asarray(read(0, shape[0] if shape else None)).tolist()))
        return
    if not shape:
        values = np.asarray(read(None, None))
        h.update(np.ascontiguousarray(values.astype(dt.newbyteorder("<"), copy=False)).tobytes())
        return
    row = max(1, int(np.prod(shape[1:], dtype=np.int64)) * dt.itemsize)
    step = max(1, SLICE_BYTES // row)
    for start in range(0, int(shape[0]), step):
        block = np.asarray(read(start, min(int(shape[0]), start + step)))
        if dt.kind in "iufcmMb":
            block = block.astype(dt.newbyteorder("<"), copy=False)
        h.update(np.ascontiguousarray(block).tobytes())


def _netcdf(path, data, attrs) -> None:
    import xarray as xr

    opts = dict(decode_cf=False, mask_and_scale=False, decode_times=False, cache=False)
    try:
        groups = xr.open_groups(path, **opts)
    except (NotImplementedError, ValueError, TypeError, AttributeError):
        groups = {"/": xr.open_dataset(path, **opts)}
    try:
        for gname in sorted(groups):
            ds = groups[gname]
            _feed_attrs(attrs, gname, dict(ds.attrs))
            for name in sorted(map(str, ds.variables)):
                var = ds.variables[name]
                owner = f"{gname.rstrip('/')}/{name}"
                _feed_attrs(attrs, owner, dict(var.attrs))

                def read(start, stop, var=var):
                    if start is None or var.ndim == 0:
                        return var.values
                    return var[start:stop].values

                _feed_array(data, owner, map(str, var.dims), tuple(var.shape), var.dtype, read)
    finally:
        for ds in groups.values():
            ds.close()


def _hdf5(path, data, attrs) -> None:
    import h5py

    with h5py.File(path, "r") as fh:
        items: list[tuple[str, Any]] = [("/", fh)]
        fh.visititems(lambda name, obj: items.append(("/" + name, obj)))
        for name, obj in sorted(items, key=lambda x: x[0]):
            _feed_attrs(attrs, name, dict(obj.attrs))
            if not isinstance(obj, h5py.Dataset):
                continue
            dims = []
            for i, dim in enumerate(obj.dims):
                label = dim.label or (dim[0].name.lstrip("/") if len(dim) else "")
                dims.append(label or f"dim_{i}")

            def read(start, stop, obj=obj):
                if start is None or obj.ndim == 0 or obj.shape is None:
                    return obj[()]
                return obj[start:stop]

            _feed_array(data, name, dims, tuple(obj.shape or ()), obj.dtype, read)


# ---------------------------------------------------------------------- the cache
class FingerprintCache:
    """Fingerprints per file version and by sha256, in ``layout.content_fingerprint_db``."""

    def __init__(self, workdir: str | os.PathLike | None, readonly: bool = False) -> None:
        self._lock = threading.Lock()
        self._mem: dict[str, tuple[tuple[int, int, int], ContentFingerprint | None]] = {}
        self._db: sqlite3.Connection | None = None
        if workdir is None:
            return
        db = layout.content_fingerprint_db(workdir)
        try:
            if readonly:
                if not db.exists():
                    return
                self._db = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30,
                                           check_same_thread=False, isolation_level=None)
            else:
                db.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(str(db), timeout=30, check_same_thread=False,
                                           isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS version (path TEXT PRIMARY KEY, "
                                 "size INTEGER, mtime_ns INTEGER, inode INTEGER, sha256 TEXT, "
                                 "scheme TEXT, data TEXT, attributes TEXT)")
                self._db.execute("CREATE TABLE IF NOT EXISTS by_sha256 (sha256 TEXT PRIMARY KEY, "
                                 "scheme TEXT, data TEXT, attributes TEXT)")
        except sqlite3.Error:
            self._db = None  # a cache only: work without it

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> "FingerprintCache":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def get(self, path: str | os.PathLike, sha256: str | None = None) -> ContentFingerprint | None:
        """The fingerprint of the file now at ``path`` (computed at most once per version);
        ``sha256``, when the caller knows it, also files it under that checksum."""
        p = os.path.abspath(path)
        if not supported(p):
            return None
        try:
            key = version_of(os.stat(p))
        except OSError:
            return None
        with self._lock:
            hit = self._mem.get(p)
            if hit is not None and hit[0] == key:
                return hit[1]
            row = self._query("SELECT size, mtime_ns, inode, data, attributes FROM version "
                              "WHERE path=? AND scheme=?", (p, SCHEME))
        if row is not None and tuple(row[:3]) == key:
            fp = ContentFingerprint(row[3], row[4])
        else:
            fp = fingerprint(p)
            try:
                unchanged = version_of(os.stat(p)) == key
            except OSError:
                unchanged = False
            if fp is not None and unchanged:
                self._write("INSERT OR REPLACE INTO version VALUES (?,?,?,?,?,?,?,?)",
                            (p, *key, sha256, SCHEME, fp.data, fp.attributes))
        with self._lock:
            self._mem[p] = (key, fp)
        if fp is not None and sha256:
            self.remember(sha256, fp)
        return fp

    def remember(self, sha256: str, fp: ContentFingerprint) -> None:
        self._write("INSERT OR REPLACE INTO by_sha256 VALUES (?,?,?,?)",
                    (sha256, SCHEME, fp.data, fp.attributes))

    def by_sha256(self, sha256: str) -> ContentFingerprint | None:
        """The fingerprint of a version known by its checksum (it need not be on disk)."""
        with self._lock:
            row = self._query("SELECT data, attributes FROM by_sha256 WHERE sha256=? AND scheme=?",
                              (sha256, SCHEME))
        return ContentFingerprint(row[0], row[1]) if row else None

    def _query(self, sql: str, args: tuple) -> tuple | None:
        if self._db is None:
            return None
        try:
            return self._db.execute(sql, args).fetchone()
        except sqlite3.Error:
            return None

    def _write(self, sql: str, args: tuple) -> None:
        if self._db is None:
            return
        with self._lock:
            try:
                self._db.execute(sql, args)
            except sqlite3.Error:  # read-only open, a locked or broken cache: skip it
                pass


def recorded(workdir: str | os.PathLike, sha256: str,
             cache: "FingerprintCache | None" = None) -> ContentFingerprint | None:
    """The fingerprint recorded for the version with this sha256: from the cache, else from
    the provenance store (``sf:dataFingerprint``/``sf:attributesFingerprint``)."""
    fp = cache.by_sha256(sha256) if cache is not None else None
    if fp is not None or not layout.prov_store(workdir).is_dir():
        return fp
    try:
        from sciflow.provenance import vocab as V
        from sciflow.provenance.store import open_readonly

        store = open_readonly(workdir)
        import pyoxigraph as ox

        rows = list(store.query(
            "SELECT ?d ?a WHERE { ?e sf:sha256 %s ; sf:dataFingerprint ?d ; "
            "sf:attributesFingerprint ?a } LIMIT 1" % ox.Literal(sha256),
            use_default_graph_as_union=True, prefixes=V.PREFIXES))
        del store
    except Exception:  # noqa: BLE001 - no usable store: no recorded fingerprint
        return None
    if not rows:
        return None
    fp = ContentFingerprint(rows[0][0].value, rows[0][1].value)
    if cache is not None:
        cache.remember(sha256, fp)
    return fp


def same_content(workdir: str | os.PathLike, path: str | os.PathLike, recorded_sha256: str,
                 cache: "FingerprintCache | None" = None) -> ContentFingerprint | None:
    """The planner's question for an input whose bytes changed: does the file now at ``path``
    hold the same content as the version ``recorded_sha256``? Its fingerprint if so, else
    None (not HDF5/NetCDF, nothing recorded to compare with, or different content)."""
    full = Path(workdir) / path
    if not supported(full):
        return None
    old = recorded(workdir, recorded_sha256, cache)
    if old is None:
        return None
    now = cache.get(full) if cache is not None else fingerprint(full)
    return now if now == old else None


def fingerprint_path(path: str | os.PathLike, workdir: str | os.PathLike | None = None
                     ) -> ContentFingerprint | None:
    """One fingerprint through the workdir's cache (or none): for one-off callers."""
    with FingerprintCache(workdir if workdir is not None and Path(workdir).is_dir() else None) as c:
        return c.get(path)


__all__ = ["ContentFingerprint", "FingerprintCache", "fingerprint", "fingerprint_path", "recorded",
           "same_content", "supported"]
