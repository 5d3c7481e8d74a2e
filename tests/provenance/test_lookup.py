"""`prov view`, `prov find`, `prov render` and the short identifiers, through the real CLI on
real recorded runs (two runs of the golden workflow, the second with factor=3)."""
import hashlib
import json
import re

import pytest

from helpers import sha256

import prov_golden as golden
import sciflow.provenance as sp
from sciflow.cli import main
from sciflow.provenance import vocab as V
from sciflow.provenance.lookup import short_id


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return golden.two_runs(tmp_path_factory.mktemp("lookup"))


def cli(capsys, d, *argv):
    code = main(["prov", *argv, "-d", str(d)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_short_ids_are_stable_hashes_of_iris():
    iri = V.job_iri("r1", 2)
    assert short_id(iri) == "sf:" + hashlib.sha256(iri.encode()).hexdigest()[:10]
    assert re.fullmatch(r"sf:[0-9a-f]{10}", short_id(iri))


def test_view_a_job_a_path_and_a_run(runs, capsys):
    job = V.job_iri("r1", 2)
    code, out, _ = cli(capsys, runs, "view", short_id(job))
    doc = json.loads(out)
    assert code == 0 and doc["@id"] == job and doc["id"] == short_id(job)
    assert "sf:Job" in doc["type"] and doc["sf:ruleName"] == "summary" and doc["runs"] == ["r1"]
    assert doc["sf:command"] == "python run: block" and doc["sf:resources"] == {"mem_mb": 100}
    usages = doc["prov:qualifiedUsage"]
    # 2 inputs, 2 params and the workflow file (a file that shaped the job)
    assert len(usages) == 5 and all("prov:entity" in u and "prov:atTime" in u for u in usages)
    assert {u["prov:entity"]["id"] for u in usages} >= {short_id(u["prov:entity"]["@id"]) for u in usages}
    # a path is its latest recorded version: r2's
    code, out, _ = cli(capsys, runs, "view", "results/summary.txt")
    doc = json.loads(out)
    assert doc["sf:sha256"] == sha256(runs / "results/summary.txt")
    assert doc["prov:wasGeneratedBy"]["@id"] == V.job_iri("r2", 2)
    assert "prov:wasDerivedFrom" in doc["incoming"]  # cube.h5 was derived from it
    code, out, _ = cli(capsys, runs, "view", "r1")
    assert json.loads(out)["sf:runId"] == "r1"
    code, _, err = cli(capsys, runs, "view", "sf:0000000000")
    assert code == 1 and "no entity, activity or agent has the identifier sf:0000000000" in err


def test_lineage_verify_and_query_take_short_ids(runs, capsys):
    old = json.loads(cli(capsys, runs, "find", "path=results/summary.txt", "run=r1",
                         "--format", "json")[1])
    assert len(old) == 1 and old[0]["run"] == "r1"
    code, out, _ = cli(capsys, runs, "lineage", old[0]["id"], "--format", "json")
    files = json.loads(out)["files"]
    assert code == 0 and {f["run_id"] for f in files if not f["raw"]} == {"r1"}
    code, out, _ = cli(capsys, runs, "lineage", "results/summary.txt", "--format", "json")
    files = json.loads(out)["files"]
    assert {f["run_id"] for f in files if not f["raw"]} == {"r2"}
    assert all(f["id"] == short_id(f["file"]) for f in files)
    code, out, _ = cli(capsys, runs, "lineage", "results/summary.txt")  # the tree shows them too
    assert all(line.rstrip().endswith(short_id(f["file"])) for line, f in
               ((next(x for x in out.splitlines() if x.lstrip("└├─│ ").startswith(f["path"] + "  ")), f)
                for f in files if f["path"] == "results/summary.txt"))
    latest = short_id(json.loads(cli(capsys, runs, "view", "results/summary.txt")[1])["@id"])
    code, out, _ = cli(capsys, runs, "query", "params-of", "--param", f"path={latest}", "--format", "csv")
    assert code == 0 and "summary,title,t" in out
    code, out, _ = cli(capsys, runs, "verify", latest, "--format", "json")
    assert code == 0 and [v["path"] for v in json.loads(out)] == ["results/summary.txt"]


def test_find_by_each_key(runs, capsys):
    def find(*criteria):
        code, out, err = cli(capsys, runs, "find", *criteria, "--format", "json")
        assert code == 0, err
        return json.loads(out)

    counts = find("rule=count")
    assert sorted((r["path"], r["run"]) for r in counts) == [
        ("counts/a.txt", "r1"), ("counts/a.txt", "r2"), ("counts/b.txt", "r1"), ("counts/b.txt", "r2")]
    assert {r["sha256"] for r in counts if r["run"] == "r2"} == {sha256(runs / "counts/a.txt"),
                                                                 sha256(runs / "counts/b.txt")}
    assert {r["run"] for r in find("param=factor=3")} == {"r2"}
    assert len(find("param=factor")) == 4
    assert [r["path"] for r in find("path=counts/*", "run=r2")] == ["counts/a.txt", "counts/b.txt"]
    raw = find(f"sha256={sha256(runs / 'data/a.txt')[:8]}")
    assert [(r["path"], r["rule"]) for r in raw] == [("data/a.txt", None)]
    assert len(find("user=alice")) == 8 and find("user=bob") == []
    jobs = find("kind=job", "rule=count", "run=r1")
    assert [j["job"] for j in jobs] == [V.job_iri("r1", 0), V.job_iri("r1", 1)]
    r2_start = json.loads(cli(capsys, runs, "runs", "--format", "json")[1])[1]["started"]
    assert {r["run"] for r in find(f"after={r2_start}")} == {"r2"}
    assert {r["run"] for r in find(f"before={r2_start}")} == {"r1"}
    for r in counts:  # every id is viewable
        assert json.loads(cli(capsys, runs, "view", r["id"])[1])["id"] == r["id"]
    code, _, err = cli(capsys, runs, "find", "colour=red")
    assert code == 2 and "key one of" in err


def test_render_is_a_self_contained_page(runs, tmp_path, capsys):
    out = tmp_path / "lineage.html"
    code, _, _ = cli(capsys, runs, "render", "results/cube.h5", "-o", str(out))
    page = out.read_text()
    assert code == 0 and page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched
    assert "<link" not in page and "@import" not in page
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>',
                                page, re.S).group(1).replace("<\\/", "</"))
    lineage = sp.open(runs).lineage_table("results/cube.h5")
    files = {n["path"] for n in data["nodes"].values() if n["kind"] == "file"}
    assert files == {r["path"] for r in lineage.records()}
    jobs = [n for n in data["nodes"].values() if n["kind"] == "job"]
    assert sorted(n["rule"] for n in jobs) == ["count", "count", "cube", "summary"]
    assert {n["run"] for n in jobs} == {"r2"}
    assert next(n for n in jobs if n["rule"] == "cube")["params"] == {"scale": 0.5}
    assert len(data["edges"]) == 4 + 5  # each job -> its output; each input -> its job
    assert page.count('class="node') == len(data["nodes"])
