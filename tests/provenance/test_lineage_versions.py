"""Lineage when paths were regenerated: each generation is its own version, and the lineage of a
file names exactly the versions it was made from, whichever plan answers it (hash joins or
lookups, see Provenance.lineage_table) and as the portable named query lineage.rq does.

Runs (the golden workflow, real recorder, real files):
  r1: everything (factor 2);
  r2: counts/a.txt and counts/b.txt again with the SAME bytes -> two generations of each path;
  r3: results/summary.txt again, from r2's counts.
results/cube.h5 was made only by r1, from r1's summary: its lineage must stay on r1's versions.
"""
import json

import pytest

import prov_golden as golden
import sciflow.provenance as sp
from sciflow.cli import main


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    d = tmp_path_factory.mktemp("regen")
    golden.run_golden(d, "r1")
    golden.run_golden(d, "r2", only={0, 1})
    golden.run_golden(d, "r3", only={2})
    return d


def shape(table):
    """{(path, run or 'raw'): {(parent path, parent run or 'raw')}} of a lineage table."""
    rows = {r["file"]: r for r in table.records()}
    key = {f: (r["path"], r["run_id"] or "raw") for f, r in rows.items()}
    out = {}
    for f, r in rows.items():
        parents = r["derived_from"].split() if r["derived_from"] else []
        assert all(p in rows for p in parents), "a parent missing from the lineage"
        out[key[f]] = {key[p] for p in parents}
    assert len(out) == len(rows), "two rows for one (path, run)"
    return out


RAW = {("data/a.txt", "raw"): set(), ("data/b.txt", "raw"): set()}
SUMMARY_R3 = {("results/summary.txt", "r3"): {("counts/a.txt", "r2"), ("counts/b.txt", "r2")},
              ("counts/a.txt", "r2"): {("data/a.txt", "raw")},
              ("counts/b.txt", "r2"): {("data/b.txt", "raw")}, **RAW}
CUBE_R1 = {("results/cube.h5", "r1"): {("results/summary.txt", "r1")},
           ("results/summary.txt", "r1"): {("counts/a.txt", "r1"), ("counts/b.txt", "r1")},
           ("counts/a.txt", "r1"): {("data/a.txt", "raw")},
           ("counts/b.txt", "r1"): {("data/b.txt", "raw")}, **RAW}


@pytest.mark.parametrize("plan", ["hash", "lookup"])
def test_lineage_follows_the_generation_each_file_was_made_from(regenerated, plan):
    p = sp.open(regenerated)
    p._hash_ok = plan == "hash"  # the plan Provenance would choose by the store's size
    assert shape(p.lineage_table("results/summary.txt")) == SUMMARY_R3
    assert shape(p.lineage_table("results/cube.h5")) == CUBE_R1
    # the older version of a regenerated path, named: its own lineage, not the latest one's
    old = p.lineage_table("results/cube.h5").records()
    old_summary = next(r["file"] for r in old if r["path"] == "results/summary.txt")
    assert shape(p.lineage_table("", entity=old_summary)) == {
        k: v for k, v in CUBE_R1.items() if k != ("results/cube.h5", "r1")}
    rules = {(r["path"], r["rule"], r["raw"]) for r in p.lineage_table("results/summary.txt").records()}
    assert rules == {("results/summary.txt", "summary", False), ("counts/a.txt", "count", False),
                     ("counts/b.txt", "count", False), ("data/a.txt", None, True),
                     ("data/b.txt", None, True)}


def test_both_plans_agree_with_the_named_query(regenerated):
    p = sp.open(regenerated)
    for path in ("results/summary.txt", "results/cube.h5", "counts/a.txt"):
        named = p.named("lineage", {"path": path}).records()
        edges = {(r["file"], r["parent"]) for r in named}
        facts = {(r["file"], r["path"], r["sha256"], r["job"], r["rule"], r["raw"]) for r in named}
        for plan in (True, False):
            p._hash_ok = plan
            table = p.lineage_table(path).records()
            assert {(r["file"], parent) for r in table
                    for parent in (r["derived_from"].split() or [None])} == edges
            assert {(r["file"], r["path"], r["sha256"], r["job"], r["rule"], r["raw"])
                    for r in table} == facts


@pytest.mark.parametrize("plan", [True, False])
def test_parameters_come_with_the_lineage_as_params_of_names_them(regenerated, plan):
    p = sp.open(regenerated)
    p._hash_ok = plan
    for path in ("results/cube.h5", "results/summary.txt"):
        table, params = p.lineage_with_params(path)
        assert table.rows == p.lineage_table(path).rows  # the same lineage, with or without
        named = {(r["rule"], r["name"], r["value"], r["datatype"], r["job"])
                 for r in p.named("params-of", {"path": path}).records()}
        assert set(params.rows) == named
        assert len(params.rows) == len(named)  # each job's value once
        assert params.rows == sorted(params.rows, key=lambda r: (r[0], r[1], r[4]))
    _, params = p.lineage_with_params("results/cube.h5")
    assert {(r[0], r[1], r[2]) for r in params.rows} == {
        ("count", "factor", 2), ("count", "label", "n"), ("summary", "title", "t"),
        ("summary", "cols", "[1,2]"), ("cube", "scale", 0.5)}
    # a named older version: its own jobs' parameters, not the latest ones'
    old = next(r for r in p.lineage_table("results/cube.h5").records() if r["path"] == "counts/a.txt")
    table, params = p.lineage_with_params("", entity=old["file"])
    assert {r[4] for r in params.rows} == {old["job"]}


def test_lineage_json_lists_the_regenerated_versions(regenerated, capsys):
    assert main(["prov", "lineage", "results/summary.txt", "--format", "json",
                 "-d", str(regenerated)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["target"] == "results/summary.txt"
    assert {(f["path"], f["run_id"]) for f in doc["files"]} == {
        ("results/summary.txt", "r3"), ("counts/a.txt", "r2"), ("counts/b.txt", "r2"),
        ("data/a.txt", None), ("data/b.txt", None)}
    assert all(f["id"].startswith("sf:") for f in doc["files"])
    assert {p["name"] for p in doc["params"]} == {"factor", "label", "title", "cols"}
