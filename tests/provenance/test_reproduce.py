"""`sciflow prov reproduce`: rebuild a recorded file from provenance alone (archived sources,
recorded config, raw inputs found by checksum) in a fresh directory and compare."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import scidata_wf as wf
from helpers import SCIFLOW, sha256
from sciflow.errors import ProvenanceError
from sciflow.provenance.fingerprint import fingerprint
from sciflow.provenance.reproduce import reproduce

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    d = wf.make(tmp_path_factory.mktemp("repro") / "wf")
    wf.run(d, config={"factor": 3})  # a --config value: only the recorded config has it
    return d


def test_reproduce_finds_raw_inputs_by_checksum_and_matches(ran, tmp_path):
    work = tmp_path / "wf"
    shutil.copytree(ran, work, symlinks=True)
    stash = tmp_path / "stash" / "deep"
    stash.mkdir(parents=True)
    shutil.move(work / "data/in.nc", stash / "renamed.nc")  # only a copy elsewhere is left
    (work / "Sciflowfile").write_text("rule all:\n    shell: 'exit 1'\n")  # edited since
    (work / "config.yaml").write_text("factor: 10\n")
    out = tmp_path / "again"
    res = subprocess.run([SCIFLOW, "prov", "reproduce", "-d", work, "results/total.txt",
                          "-o", out, "--search", tmp_path / "stash", "--format", "json"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["inputs"] == {"data/in.nc": str(stash / "renamed.nc")}
    by_path = {c["path"]: c for c in report["compared"]}
    assert by_path["results/total.txt"]["status"] == "identical" and by_path["results/total.txt"]["target"]
    # the NetCDF made on the way has other bytes (the new run's stamp), the same content
    assert by_path["data/scaled.nc"]["status"] == "same-content"
    assert sha256(out / "results/total.txt") == sha256(ran / "results/total.txt")
    assert fingerprint(out / "data/scaled.nc") == fingerprint(ran / "data/scaled.nc")
    assert (out / "Sciflowfile").read_text() == (ran / "Sciflowfile").read_text()


def test_reproduce_refuses_without_the_raw_input(ran, tmp_path):
    work = tmp_path / "wf"
    shutil.copytree(ran, work, symlinks=True)
    wf.write_input(work / "data/in.nc", bump=1.0)  # other content: not usable
    with pytest.raises(ProvenanceError, match="not found by checksum: data/in.nc"):
        reproduce(work, "results/mean.txt", directory=tmp_path / "x")


@pytest.mark.slow
def test_reproduce_the_climate_workflow(tmp_path):
    work = shutil.copytree(ROOT / "workflows" / "climate", tmp_path / "climate")
    subprocess.run([SCIFLOW, "run", "-c", "2", "-d", work], check=True, capture_output=True)
    r = reproduce(work, "results/report.txt", directory=tmp_path / "again", cores=2)
    assert r.exit_code == 0, r.log
    status = {c.path: c.status for c in r.compared}
    assert status["results/report.txt"] == "identical"
    nc = [p for p in status if p.endswith(".nc")]
    assert len(nc) == 9 and all(status[p] == "same-content" for p in nc)
    for p in nc:
        assert fingerprint(work / p) == fingerprint(r.directory / p)
