"""Content fingerprints of HDF5/NetCDF files (sciflow/provenance/fingerprint.py): real files
written by xarray/netCDF4 and h5py, no mocks."""
import time

import h5py
import numpy as np
import pytest
import xarray as xr

from helpers import sha256
from sciflow import scidata
from sciflow.provenance.fingerprint import FingerprintCache, fingerprint


def write_nc(path, bump=0.0, units="K", title="t", compress=False):
    tas = np.arange(60.0).reshape(3, 4, 5)
    tas[1, 2, 3] += bump
    ds = xr.Dataset({"tas": (("time", "lat", "lon"), tas, {"units": units})},
                    coords={"lat": np.linspace(-60, 60, 4), "lon": np.arange(5.0)},
                    attrs={"title": title})
    ds.to_netcdf(path, encoding={"tas": {"zlib": True, "complevel": 4}} if compress else None)


def write_h5(path, value=1.0):
    with h5py.File(path, "w") as fh:  # track_times: the object headers carry the write time
        d = fh.create_dataset("grp/v", data=np.full((4, 3), value), track_times=True)
        d.attrs["units"] = "m"
        fh.attrs["source"] = "test"


def test_same_data_written_twice_has_one_fingerprint_and_two_checksums(tmp_path):
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    write_nc(a)
    time.sleep(1.1)  # another creation time in the HDF5 headers
    write_nc(b, compress=True)  # and another storage layout
    assert sha256(a) != sha256(b)
    assert fingerprint(a) == fingerprint(b)


def test_hdf5_creation_times_do_not_count(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    write_h5(a)
    time.sleep(1.1)
    write_h5(b)
    assert sha256(a) != sha256(b)
    assert fingerprint(a) == fingerprint(b)
    write_h5(b, value=1.0000001)
    assert fingerprint(a).compare(fingerprint(b)) == "data"


def test_one_changed_value_changes_the_data_part(tmp_path):
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    write_nc(a)
    write_nc(b, bump=1e-9)
    fa, fb = fingerprint(a), fingerprint(b)
    assert fa.combined != fb.combined
    assert fa.compare(fb) == "data"
    assert fa.attributes == fb.attributes


def test_an_attribute_edit_is_told_apart(tmp_path):
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    write_nc(a)
    write_nc(b, units="degC")
    assert fingerprint(a).compare(fingerprint(b)) == "attributes"


def test_the_sciflow_stamp_does_not_count(tmp_path):
    a = tmp_path / "a.nc"
    write_nc(a)
    before, digest = fingerprint(a), sha256(a)
    assert scidata.stamp(a, {"sciflow_job": "urn:sciflow:run:r1:job:3"})
    assert sha256(a) != digest
    assert fingerprint(a) == before


def test_not_scientific_data_has_no_fingerprint(tmp_path):
    (tmp_path / "x.txt").write_text("1\n")
    (tmp_path / "broken.nc").write_text("not netcdf")
    assert fingerprint(tmp_path / "x.txt") is None
    assert fingerprint(tmp_path / "broken.nc") is None


def test_the_cache_keeps_fingerprints_per_version_and_by_checksum(tmp_path):
    a = tmp_path / "a.nc"
    write_nc(a)
    with FingerprintCache(tmp_path) as cache:
        fp = cache.get(a, sha256(a))
    assert (tmp_path / ".sciflow" / "content-fp.sqlite").is_file()
    with FingerprintCache(tmp_path, readonly=True) as cache:
        assert cache.by_sha256(sha256(a)) == fp
        assert cache.get(a) == fp
    write_nc(a, bump=2.0)  # a new version: computed again
    with FingerprintCache(tmp_path) as cache:
        assert cache.get(a).compare(fp) == "data"


@pytest.mark.parametrize("suffix", [".nc", ".h5"])
def test_a_missing_file_has_no_fingerprint(tmp_path, suffix):
    with FingerprintCache(tmp_path) as cache:
        assert cache.get(tmp_path / f"gone{suffix}") is None


def test_the_recorder_puts_the_fingerprint_on_the_entity(golden_dir):
    import sciflow.provenance as sp

    df = sp.open(golden_dir).query("""
        SELECT ?path ?c ?d ?a WHERE { ?f sf:contentFingerprint ?c ; sf:dataFingerprint ?d ;
          sf:attributesFingerprint ?a ; sf:sha256 ?sha ; prov:wasGeneratedBy ?job .
          { ?f sf:path ?path } UNION { ?f prov:atLocation ?path FILTER(isLiteral(?path)) } }""")
    assert list(df.path) == ["results/cube.h5"]
    fp = fingerprint(golden_dir / "results/cube.h5")
    assert (df.c[0], df.d[0], df.a[0]) == (fp.combined, fp.data, fp.attributes)
