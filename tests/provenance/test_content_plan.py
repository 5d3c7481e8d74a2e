"""`run -n` with content fingerprints: an HDF5/NetCDF input rewritten with other bytes but
the same content is not a reason to run (``--no-content-check`` turns that off)."""
import os
import shutil
import subprocess
import time

import pytest

import scidata_wf as wf
from helpers import SCIFLOW, sha256


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    d = wf.make(tmp_path_factory.mktemp("content") / "wf")
    wf.run(d)
    return d


@pytest.fixture
def work(ran, tmp_path):
    d = tmp_path / "wf"
    shutil.copytree(ran, d, symlinks=True)  # copy2 keeps modification times
    return d


def rewrite(d, **kw):
    before = sha256(d / "data/in.nc")
    time.sleep(1.1)  # another HDF5 creation time, and a newer mtime than the outputs
    wf.write_input(d / "data/in.nc", **kw)
    assert sha256(d / "data/in.nc") != before


def test_same_content_rewrite_is_not_a_reason_to_run(work):
    rewrite(work, compress=True)
    plan = wf.run(work, dry_run=True).plan
    assert plan.jobs == [] and plan.same_content == ["data/in.nc"]
    out = subprocess.run([SCIFLOW, "run", "-n", "-d", work], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Nothing to be done" in out.stdout
    assert "data/in.nc: rewritten with the same content" in out.stderr
    off = wf.run(work, dry_run=True, content_check=False).plan
    assert {j.rule.name for j in off.jobs} == {"mean", "scale", "total", "all"}
    out = subprocess.run([SCIFLOW, "run", "-n", "--no-content-check", "-d", work],
                         capture_output=True, text=True)
    assert "rule mean:" in out.stdout and "Updated input files: data/in.nc" in out.stdout


def test_one_changed_value_is_a_reason_to_run(work):
    rewrite(work, bump=0.5)
    plan = wf.run(work, dry_run=True).plan
    assert {j.rule.name for j in plan.jobs} == {"mean", "scale", "total", "all"}
    assert plan.same_content == []


def test_without_any_record_of_the_content_the_bytes_decide(work):
    os.remove(work / ".sciflow" / "content-fp.sqlite")
    shutil.rmtree(work / ".sciflow" / "prov")
    rewrite(work, compress=True)
    plan = wf.run(work, dry_run=True).plan
    assert "mean" in {j.rule.name for j in plan.jobs}


def test_which_runs_used_variable_tas_in_kelvin(ran):
    out = subprocess.run([SCIFLOW, "prov", "query", "runs-using-variable", "-d", ran,
                          "--param", "name=tas", "--param", "units=K", "--format", "json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    import json

    rows = json.loads(out.stdout)
    assert {(r["rule"], r["path"], r["units"]) for r in rows} == {
        ("mean", "data/in.nc", "K"), ("scale", "data/in.nc", "K")}
    assert json.loads(rows[0]["dims"]) == ["time", "lat", "lon"]
    assert rows[0]["sha256"] == sha256(ran / "data/in.nc")
    out = subprocess.run([SCIFLOW, "prov", "query", "runs-using-variable", "-d", ran,
                          "--param", "name=tas", "--param", "units=degC"],
                         capture_output=True, text=True)
    assert "(no rows)" in out.stdout


def test_a_generated_file_edited_keeping_its_stamp_and_read_again(work):
    import h5py

    with h5py.File(work / "data/scaled.nc", "r+") as fh:  # by hand, in place: stamp kept
        fh["tas_scaled"][0, 0, 0] = -1.0
        assert "sciflow_job" in fh.attrs
    ran_again = wf.run(work)  # rule total reads the edited file: recorded as a raw version
    assert {j.rule.name for j in ran_again.plan.jobs} == {"total", "all"}
    from sciflow.provenance.verify import verify

    (v,) = verify(work, ["data/scaled.nc"])
    assert v.status == "stamp-mismatch" and "edited after it was made" in v.detail
    out = subprocess.run([SCIFLOW, "prov", "lineage", "-d", work, "data/scaled.nc"],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "not a version sciflow generated" in out.stderr


def test_diff_does_not_count_a_same_content_rewrite_as_changed(work):
    import sciflow.provenance as sp

    first = sp.open(work).run_ids()[-1]
    wf.run(work, forcerun=["scale"])  # the same numbers again, stamped by another job
    p = sp.open(work)
    second = p.run_ids()[-1]
    before = p.query("SELECT ?sha WHERE { ?f sf:sha256 ?sha ; prov:wasGeneratedBy ?j . "
                     "?j sf:inRun %s ; sf:ruleName 'scale' }" % f'"{first}"')
    assert before.sha[0] != sha256(work / "data/scaled.nc")  # other bytes
    diff = p.diff_runs(first, second)
    assert "data/scaled.nc" not in set(diff[diff.kind == "output"].name)
