"""Golden end-to-end tests: the real engine (parser, DAG, plan, Dask) records provenance."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import sha256

import sciflow.provenance as sp
from sciflow.provenance.shapes import validate

WORKFLOW = Path(__file__).parent / "workflow"
import sciflow.engine as engine


def run_workflow(workdir, **config):
    opts = engine.RunOptions(directory=str(workdir), snakefile=str(Path(workdir) / "Sciflowfile"), cores=1,
                             config=config, command_line=["sciflow", "run"])
    summary = engine.run(opts)
    assert summary.ok
    return summary.run.run_id


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e") / "wf"
    shutil.copytree(WORKFLOW, d)
    first = run_workflow(d)
    files = {p: sha256(d / p) for p in ("counts/a.txt", "results/summary.txt")}
    second = run_workflow(d, factor=3)
    return d, first, second, files


def test_lineage_through_the_engine(two_runs):
    d, first, second, _ = two_runs
    p = sp.open(d)
    assert list(p.runs().run_id) == [first, second]
    lin = p.lineage("results/cube.nc")
    assert dict(zip(lin[lin.raw].path, lin[lin.raw].sha256)) == {
        "data/a.txt": sha256(d / "data/a.txt"), "data/b.txt": sha256(d / "data/b.txt")}
    made = lin[~lin.raw]
    assert set(zip(made.path, made.rule)) == {("counts/a.txt", "count"), ("counts/b.txt", "count"),
                                              ("results/summary.txt", "summary"),
                                              ("results/cube.nc", "cube")}
    assert set(made.run_id) == {second}
    assert all(row.sha256 == sha256(d / row.path) for row in made.itertuples())
    # count a.txt: 3 lines x factor 3; b: 2 x 3 -> summary "total 15"
    assert (d / "results/summary.txt").read_text() == "total 15\n"
    params = p.params_of("results/cube.nc")
    assert {(r.rule, r.name, str(r.value)) for r in params.itertuples()} == {
        ("count", "factor", "3"), ("count", "label", "n"), ("summary", "title", "total"),
        ("summary", "cols", "[1,2]"), ("cube", "scale", "0.5")}
    cmd = p.query(f"SELECT ?c WHERE {{ ?j sf:ruleName 'count' ; sf:command ?c ; "
                  f"provone:wasPartOf/sf:runId '{second}' }} ORDER BY ?c")
    assert list(cmd.c) == ["n=$(wc -l < data/a.txt); echo $((n * 3)) > counts/a.txt",
                           "n=$(wc -l < data/b.txt); echo $((n * 3)) > counts/b.txt"]


def test_diff_shows_exactly_the_changed_param(two_runs):
    d, first, second, old = two_runs
    diff = sp.open(d).diff_runs(first, second)
    params = diff[diff.kind == "param"]
    assert sorted(zip(params.rule, params.wildcards, params.name, params.value1, params.value2)) == [
        ("count", '{"s":"a"}', "factor", 2, 3), ("count", '{"s":"b"}', "factor", 2, 3)]
    outputs = diff[diff.kind == "output"].set_index("name")
    assert outputs.loc["counts/a.txt", "value1"] == old["counts/a.txt"]
    assert outputs.loc["counts/a.txt", "value2"] == sha256(d / "counts/a.txt")


def test_shacl_ordering_verify_and_stamp_on_real_runs(two_runs):
    d, first, second, _ = two_runs
    p = sp.open(d)
    reports = validate(p)
    assert [r.run_id for r in reports] == [first, second]
    assert all(r.conforms for r in reports), [r.text for r in reports if not r.conforms]
    assert p.ordering_check().empty
    from sciflow.provenance.verify import verify

    assert {v.status for v in verify(d)} <= {"ok", "raw"}
    from sciflow import scidata

    stamp = scidata.read_stamp(d / "results/cube.nc")
    assert stamp["sciflow_run"].endswith(second)
    assert p.query(f"ASK {{ <{stamp['sciflow_job']}> sf:ruleName 'cube' }}")
    assert p.query("ASK { ?f sf:path 'results/cube.nc' ; sf:sha256 '" + sha256(d / "results/cube.nc")
                   + "' ; sf:variable ?v . ?v sf:name 'tas' ; sf:units 'K' ; sf:dims '[\"lat\",\"lon\"]'^^rdf:JSON }")


SLOW = '''
rule all:
    input: "slow.txt"

rule fast:
    input: "data/{x}.txt"
    output: "fast/{x}.txt"
    shell: "cp {input} {output}"

rule slow:
    input: "fast/a.txt", "fast/b.txt"
    output: "slow.txt"
    shell: "sleep 120; cat {input} > {output}"
'''


def test_sigkill_of_the_real_driver_keeps_finished_jobs(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data/a.txt").write_text("a\n")
    (tmp_path / "data/b.txt").write_text("b\n")
    (tmp_path / "Sciflowfile").write_text(SLOW)
    proc = subprocess.Popen([sys.executable, "-m", "sciflow", "run", "-s", "Sciflowfile", "-c", "1"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(0.5)
            if not (tmp_path / ".sciflow/prov/CURRENT").exists():
                continue
            done = sp.open(tmp_path).query("SELECT ?j WHERE { ?j sf:ruleName 'fast' ; sf:status 'succeeded' }")
            if len(done) == 2:  # read while the driver still holds the store
                break
        else:
            pytest.fail("the fast jobs never finished")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its Dask workers, at once
        proc.wait()
    p = sp.open(tmp_path)
    runs = p.runs()
    assert len(runs) == 1 and runs.ended.isna().all()
    for x in "ab":
        path = f"fast/{x}.txt"
        assert p.query(f"ASK {{ ?f sf:path '{path}' ; sf:sha256 '{sha256(tmp_path / path)}' ;"
                       f" prov:wasGeneratedBy ?j . ?j sf:ruleName 'fast' }}")
    assert not p.query("ASK { ?f sf:path 'slow.txt' }")
