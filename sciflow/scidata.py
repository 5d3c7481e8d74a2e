"""HDF5 and NetCDF as first-class data: read a file's structure and stamp provenance into it.

``structure(path)`` lists the variables (NetCDF, read through xarray) or datasets (HDF5, read
through h5py) with their dimensions, shapes, dtypes and units, so provenance can say *what* a
file holds, not only its checksum. ``stamp(path, attrs)`` writes attributes into the file's
root (HDF5 attributes = NetCDF global attributes) so a file carries the IRI of the job that
made it even when copied away from its store. Stamping rewrites part of the file, so callers
must hash the file *after* stamping; the file's modification time is put back as it was, so
make-style planning sees the time the job wrote it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SUFFIXES_HDF5 = (".h5", ".hdf5", ".he5")
SUFFIXES_NETCDF = (".nc", ".nc4", ".cdf")


@dataclass(slots=True)
class Variable:
    """One NetCDF variable or HDF5 dataset."""

    name: str
    dims: list[str] = field(default_factory=list)
    shape: list[int] = field(default_factory=list)
    dtype: str = ""
    units: str | None = None


def is_scidata(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(SUFFIXES_HDF5 + SUFFIXES_NETCDF)


def file_format(path: str | os.PathLike) -> str | None:
    """``"NetCDF"``, ``"HDF5"`` or None, from the suffix and (for NetCDF) the signature."""
    low = str(path).lower()
    if low.endswith(SUFFIXES_NETCDF):
        return "NetCDF"
    if low.endswith(SUFFIXES_HDF5):
        return "HDF5"
    return None


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def structure(path: str | os.PathLike) -> list[Variable]:
    """The variables/datasets of an HDF5 or NetCDF file (empty if it cannot be read)."""
    fmt = file_format(path)
    try:
        if fmt == "NetCDF":
            return _netcdf_structure(path)
        if fmt == "HDF5":
            return _hdf5_structure(path)
    except (OSError, ValueError, ImportError):
        return []
    return []


def _netcdf_structure(path) -> list[Variable]:
    import xarray as xr

    with xr.open_dataset(path, decode_cf=False, decode_times=False, cache=False) as ds:
        out = []
        for name, var in ds.variables.items():
            out.append(Variable(str(name), [str(d) for d in var.dims], [int(n) for n in var.shape],
                                str(var.dtype), _text(var.attrs.get("units"))))
        return sorted(out, key=lambda v: v.name)


def _hdf5_structure(path) -> list[Variable]:
    import h5py

    out: list[Variable] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            dims = []
            for i, dim in enumerate(obj.dims):
                label = dim.label
                if not label and len(dim):
                    label = dim[0].name.lstrip("/")
                dims.append(label or f"dim_{i}")
            out.append(Variable(name, dims, [int(n) for n in obj.shape], str(obj.dtype),
                                _text(obj.attrs.get("units"))))

    with h5py.File(path, "r") as fh:
        fh.visititems(visit)
    return sorted(out, key=lambda v: v.name)


def read_stamp(path: str | os.PathLike) -> dict[str, str]:
    """The root attributes of the file whose names start with ``sciflow_``."""
    import h5py

    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as fh:
            return {k: _text(v) for k, v in fh.attrs.items() if k.startswith("sciflow_")}
    import netCDF4

    with netCDF4.Dataset(path, "r") as ds:
        return {k: _text(ds.getncattr(k)) for k in ds.ncattrs() if k.startswith("sciflow_")}


def stamp(path: str | os.PathLike, attrs: dict[str, str]) -> bool:
    """Write ``attrs`` as root attributes; keep the modification time. False if not possible
    (not HDF5/NetCDF, read-only, or unreadable), never raises for a bad file."""
    p = Path(path)
    try:
        st = p.stat()
        import h5py

        if h5py.is_hdf5(p):
            with h5py.File(p, "r+") as fh:
                for key, value in attrs.items():
                    fh.attrs[key] = str(value)
        elif file_format(p) == "NetCDF":  # NetCDF-3 classic (not HDF5 inside)
            import netCDF4

            with netCDF4.Dataset(p, "a") as ds:
                for key, value in attrs.items():
                    ds.setncattr(key, str(value))
        else:
            return False
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
        return True
    except (OSError, ValueError, RuntimeError, ImportError):
        return False
