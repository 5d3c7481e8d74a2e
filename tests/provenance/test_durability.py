"""Crash safety, ordering constraints and HDF5/NetCDF stamping, on real files and stores."""
import sys
from pathlib import Path

import pyoxigraph as ox

from helpers import sha256

import prov_golden as golden
import sciflow.provenance as sp
from sciflow import scidata
from sciflow.provenance import vocab as V
from sciflow.provenance.store import open_writable

HERE = Path(__file__).parent


def test_sigkill_mid_run_keeps_finished_jobs(tmp_path):
    with golden.killed_after_two_jobs([sys.executable, str(HERE / "prov_golden.py"), str(tmp_path), "2"]):
        pass
    p = sp.open(tmp_path)  # read-only open after the crash
    runs = p.runs()
    assert list(runs.run_id) == ["killed-run"] and runs.ended.isna().all()
    assert list(runs.status) == ["died"]  # no end time known, but not "still running"
    assert runs.jobs.iloc[0] == 2
    for jobid, s in enumerate("ab"):
        path = f"counts/{s}.txt"
        ent = V.generated_file_iri(sha256(tmp_path / path), path, "killed-run", jobid)
        assert p.query(f"ASK {{ <{ent}> prov:wasGeneratedBy ?j ; sf:sha256 '{sha256(tmp_path / path)}' }}")
    assert p.query("ASK { ?f sf:path 'results/summary.txt' }") is False
    # the writer lock died with the process: a new run can record into the same store
    store = open_writable(tmp_path)
    assert len(store) > 0
    del store
    golden.run_golden(tmp_path, "after-crash")
    assert list(sp.open(tmp_path).runs().run_id) == ["killed-run", "after-crash"]


def test_ordering_check_clean_on_real_runs_and_finds_planted(golden_dir, tmp_path):
    assert sp.open(golden_dir).ordering_check().empty
    golden.run_golden(tmp_path, "r1")
    store = open_writable(tmp_path)
    g = ox.NamedNode(V.graph_iri("planted"))
    N, L = ox.NamedNode, ox.Literal
    dt = N(V.XSD + "dateTime")
    prov = lambda n: N(V.PROV + n)  # noqa: E731
    act, ent, use, gen = (N(f"urn:planted:{n}") for n in ("act", "ent", "use", "gen"))
    store.extend([
        ox.Quad(act, prov("startedAtTime"), L("2020-01-01T10:00:00+00:00", datatype=dt), g),
        ox.Quad(act, prov("endedAtTime"), L("2020-01-01T09:00:00+00:00", datatype=dt), g),
        ox.Quad(act, prov("qualifiedUsage"), use, g),
        ox.Quad(use, prov("entity"), ent, g),
        ox.Quad(use, prov("atTime"), L("2020-01-01T10:00:00+00:00", datatype=dt), g),
        ox.Quad(ent, prov("qualifiedGeneration"), gen, g),
        ox.Quad(gen, prov("atTime"), L("2020-01-01T11:00:00+00:00", datatype=dt), g),
    ])
    del store
    found = sp.open(tmp_path).ordering_check()
    assert sorted(zip(found.kind, found.activity)) == [("end-before-start", "urn:planted:act"),
                                                       ("usage-before-generation", "urn:planted:act")]


def test_hdf5_output_structure_and_stamp(golden_dir):
    p = sp.open(golden_dir)
    h5 = golden_dir / "results/cube.h5"
    assert scidata.read_stamp(h5) == {"sciflow_job": V.job_iri("r1", 3), "sciflow_run": V.run_iri("r1"),
                                      "sciflow_workdir": str(golden_dir)}
    ent = V.generated_file_iri(sha256(h5), "results/cube.h5", "r1", 3)  # hash of the stamped file
    rows = p.query(f"SELECT ?name ?shape ?dims ?dtype ?units WHERE {{ <{ent}> sf:format 'HDF5' ;"
                   f" sf:stamped true ; sf:variable ?v . ?v sf:name ?name ; sf:shape ?shape ;"
                   f" sf:dims ?dims ; sf:dtype ?dtype ; sf:units ?units }}")
    assert rows.to_dict("records") == [{"name": "temperature", "shape": "[2,3]",
                                        "dims": '["dim_0","dim_1"]', "dtype": "float64", "units": "K"}]


def test_netcdf_structure_and_stamp(tmp_path):
    import netCDF4
    import numpy as np
    import xarray as xr

    path = tmp_path / "t.nc"
    ds = xr.Dataset({"tas": (("time", "lat"), np.zeros((4, 2), "float32"), {"units": "K"})},
                    coords={"lat": ("lat", [1.0, 2.0], {"units": "degrees_north"})})
    ds.to_netcdf(path, engine="netcdf4")
    before = path.stat().st_mtime_ns
    assert {(v.name, tuple(v.dims), tuple(v.shape), v.dtype, v.units) for v in scidata.structure(path)} == {
        ("tas", ("time", "lat"), (4, 2), "float32", "K"), ("lat", ("lat",), (2,), "float64", "degrees_north")}
    assert scidata.stamp(path, {"sciflow_job": "urn:x"})
    assert path.stat().st_mtime_ns == before
    with netCDF4.Dataset(path) as nc:  # visible as a NetCDF global attribute
        assert nc.getncattr("sciflow_job") == "urn:x"
    classic = tmp_path / "c.nc"
    ds.to_netcdf(classic, engine="netcdf4", format="NETCDF3_CLASSIC")  # not HDF5 inside
    assert scidata.stamp(classic, {"sciflow_job": "urn:y"})
    assert scidata.read_stamp(classic) == {"sciflow_job": "urn:y"}
    assert not scidata.stamp(tmp_path / "missing.h5", {"a": "b"})
