"""verify by content, stamps and resolving copies (verify.py, resolve.py, `sciflow prov lineage`)
on the recorded golden workflow, whose results/cube.h5 is a real stamped HDF5 file."""
import shutil
import subprocess

import h5py
import numpy as np
import pytest

from helpers import SCIFLOW
from sciflow.provenance.resolve import resolve
from sciflow.provenance.verify import verify
import sciflow.provenance as sp


@pytest.fixture
def work(golden_dir, tmp_path):
    d = tmp_path / "w"
    shutil.copytree(golden_dir, d)
    return d


def rewrite(path, *, value=None, units=None, stamp=None):
    """Write the file again from what it holds (new bytes: HDF5 object times, layout)."""
    with h5py.File(path, "r") as fh:
        data = fh["temperature"][()]
        attrs = dict(fh["temperature"].attrs)
        root = dict(fh.attrs)
    if value is not None:
        data = data.copy()
        data[0, 0] = value
    if units is not None:
        attrs["units"] = units
    if stamp is not None:
        root["sciflow_job"] = stamp
    path.unlink()
    with h5py.File(path, "w") as fh:
        ds = fh.create_dataset("temperature", data=data, chunks=True, compression="gzip")
        ds.attrs.update(attrs)
        fh.attrs.update(root)


def status(work, rel="results/cube.h5"):
    (v,) = verify(work, [rel])
    return v.status, v.detail


def test_verify_tells_the_three_content_outcomes_apart(work):
    cube = work / "results/cube.h5"
    assert status(work)[0] == "ok"
    rewrite(cube)
    assert status(work) == ("same-content", "same content, different bytes")
    rewrite(cube, units="degC")
    assert status(work) == ("attributes-changed", "same data, attributes changed")
    rewrite(cube, units="K", value=-1.0)
    assert status(work) == ("data-changed", "data changed")
    assert not verify(work, ["results/cube.h5"])[0].ok


def test_verify_checks_the_stamp_against_the_recorded_version(work):
    rewrite(work / "results/cube.h5", stamp="urn:sciflow:run:other:job:9")
    st, detail = status(work)
    assert st == "stamp-mismatch" and "urn:sciflow:run:other:job:9" in detail


def test_cli_verify_prints_the_outcome(work):
    rewrite(work / "results/cube.h5", units="mK")
    out = subprocess.run([SCIFLOW, "prov", "verify", "-d", work, "results/cube.h5"],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert "attributes-changed" in out.stdout and "same data, attributes changed" in out.stdout


def test_a_copied_stamped_file_resolves_to_its_record(work, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = elsewhere / "copy.h5"
    shutil.copy(work / "results/cube.h5", copy)
    res = resolve(sp.open(work), copy)
    assert (res.status, res.path, res.how) == ("generated", "results/cube.h5", "checksum")
    out = subprocess.run([SCIFLOW, "prov", "lineage", "-d", work, copy, "--format", "json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert '"target": "results/cube.h5"' in out.stdout and "data/a.txt" in out.stdout
    rewrite(copy)  # re-saved elsewhere: other bytes, same content, still resolves
    res = resolve(sp.open(work), copy)
    assert (res.status, res.path, res.how) == ("same-content", "results/cube.h5", "stamp+fingerprint")


def test_an_edited_file_keeping_its_stamp_is_not_the_generated_version(work):
    cube = work / "results/cube.h5"
    with h5py.File(cube, "r+") as fh:  # edited in place: the stamp stays
        fh["temperature"][0, 0] = np.float64(123.0)
        assert fh.attrs["sciflow_job"].endswith(":job:3")
    res = resolve(sp.open(work), cube)
    assert res.status == "edited" and res.change == "data" and not res.generated
    out = subprocess.run([SCIFLOW, "prov", "lineage", "-d", work, "results/cube.h5"],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "not a version sciflow generated" in out.stderr and "summary.txt" not in out.stdout


def test_a_stamped_copy_finds_its_store_from_anywhere(golden_dir, tmp_path):
    """The stamp names the working directory that holds the record (``sciflow_workdir``):
    lineage, verify, view and render of a copy work from a directory without a store and
    without -d, and verify calls the copy what it is rather than "untracked"."""
    with h5py.File(golden_dir / "results/cube.h5", "r") as fh:
        assert fh.attrs["sciflow_workdir"] == str(golden_dir)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = elsewhere / "copy.h5"
    shutil.copy(golden_dir / "results/cube.h5", copy)

    def sciflow(*args):
        return subprocess.run([SCIFLOW, "prov", *args], cwd=elsewhere, capture_output=True,
                              text=True)

    out = sciflow("lineage", "copy.h5", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert f"its stamp names the provenance in {golden_dir}" in out.stderr
    assert '"target": "results/cube.h5"' in out.stdout and "data/a.txt" in out.stdout
    out = sciflow("verify", "copy.h5")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "a copy of results/cube.h5 (found by checksum)" in out.stdout
    out = sciflow("view", "copy.h5")
    assert out.returncode == 0, out.stderr
    assert ":results/cube.h5:gen:r1:" in out.stdout
    out = sciflow("render", "copy.h5", "-o", "lineage.html")
    assert out.returncode == 0, out.stderr
    assert "results/cube.h5" in (elsewhere / "lineage.html").read_text()
