"""The Workflow Run RO-Crate export passes roc-validator 0.13 (provenance-run-crate-0.5, REQUIRED)."""
import json

from rocrate_check import validate_crate

import prov_golden as golden
from sciflow.provenance.export import export


def test_ro_crate_validates_and_describes_the_run(golden_dir, tmp_path):
    crate = export(golden_dir, "ro-crate", tmp_path / "crate")
    assert validate_crate(crate) == []
    graph = {e["@id"]: e for e in json.loads((crate / "ro-crate-metadata.json").read_text())["@graph"]}
    job = graph["#job-2"]
    assert job["@type"] == "CreateAction" and job["instrument"] == {"@id": "#rule-summary"}
    assert {o["@id"] for o in job["object"]} == {"counts/a.txt", "counts/b.txt", "#pv-2-title", "#pv-2-cols"}
    assert job["result"] == [{"@id": "results/summary.txt"}] or job["result"] == {"@id": "results/summary.txt"}
    assert graph["#pv-2-cols"]["value"] == "[1,2]" and graph["#pv-2-title"]["value"] == "t"
    assert (crate / "results/summary.txt").read_bytes() == (golden_dir / "results/summary.txt").read_bytes()
    assert (crate / "provenance.ttl").stat().st_size > 1000
    run = graph["#run-r1"]
    assert {o["@id"] for o in run["object"]} == {"data/a.txt", "data/b.txt"}


def test_broken_crate_fails_validation(tmp_path):
    golden.run_golden(tmp_path / "w", "r1")
    crate = export(tmp_path / "w", "ro-crate", tmp_path / "crate")
    meta = crate / "ro-crate-metadata.json"
    doc = json.loads(meta.read_text())
    for entity in doc["@graph"]:
        if entity["@type"] == "OrganizeAction":
            del entity["object"]
    meta.write_text(json.dumps(doc))
    issues = validate_crate(crate)
    assert any("OrganizeAction must reference the ControlAction" in i for i in issues)
