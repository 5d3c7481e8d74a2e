"""The Workflow Run RO-Crate export passes roc-validator 0.13 (provenance-run-crate-0.5) at
REQUIRED and RECOMMENDED level, of any run, with checksums and every rule of the workflow."""
import hashlib
import json

import pytest
from rocrate_check import crate_issues, serve, validate_crate

from helpers import MODEL_ORCID, climate_store, model_store

import prov_golden as golden
from sciflow.provenance.serialize import export


def test_ro_crate_validates_and_describes_the_run(golden_dir, tmp_path):
    crate = export(golden_dir, "ro-crate", tmp_path / "crate")
    assert validate_crate(crate) == []
    graph = {e["@id"]: e for e in json.loads((crate / "ro-crate-metadata.json").read_text())["@graph"]}
    job = graph["#job-2"]
    rule = graph[job["instrument"]["@id"]]
    assert job["@type"] == "CreateAction" and rule["name"] == "rule summary"
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


# The one RECOMMENDED check a crate of a local, unpublished workflow cannot meet: the profile
# wants the main workflow's @id to be an absolute http URI, but a data entity of the crate (the
# workflow file) has an id relative to it. The check reports it once per type of the workflow.
# With a published address (--workflow-url, a git permalink) it passes: test_rocrate_url.py.
WORKFLOW_ID_CHECK = "process-run-crate-0.5_5.1: The SoftwareApplication id SHOULD be an absolute URI"


def _graph(crate):
    return {e["@id"]: e for e in json.loads((crate / "ro-crate-metadata.json").read_text())["@graph"]}


def test_crate_of_any_run_passes_at_recommended(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIFLOW_ORGANIZATION", "Example Institute")
    monkeypatch.setenv("SCIFLOW_ORGANIZATION_URL", "https://example.org")
    work = tmp_path / "w"
    golden.run_golden(work, "r1", only={0, 1})  # rules summary and cube do not run in r1
    golden.run_golden(work, "r2")
    latest = export(work, "ro-crate", tmp_path / "latest")
    first = export(work, "ro-crate", tmp_path / "first", run_id="r1")
    for crate in (latest, first):
        issues = validate_crate(crate, level="RECOMMENDED")
        assert issues == [WORKFLOW_ID_CHECK] * 2, issues  # exactly that one, once per type
    g1, g2 = _graph(first), _graph(latest)
    assert "#run-r1" in g1 and "#run-r2" in g2 and "#run-r2" not in g1
    for g in (g1, g2):  # every rule of the workflow, whether it ran or not
        workflow = g["Sciflowfile"]
        steps = [g[g[s["@id"]]["workExample"]["@id"]] for s in workflow["step"]]
        assert sorted(t["name"] for t in steps) == ["rule count", "rule cube", "rule summary"]
        assert all(t["@id"].startswith("https://") for t in steps)
        mentions = {m["@id"] for m in g["./"]["mentions"]}
        assert {a for a, e in g.items() if e["@type"] == "CreateAction"} <= mentions
    ran = g1["Sciflowfile"]["hasPart"]  # tools in hasPart must be instruments of actions
    assert [g1[ran["@id"]]["name"]] == ["rule count"]
    assert {a for a in g1 if a.startswith("#job-")} == {"#job-0", "#job-1"}
    for path in ("data/a.txt", "counts/a.txt", "results/cube.h5"):  # checksums of the files
        assert g2[path]["sha256"] == hashlib.sha256((work / path).read_bytes()).hexdigest(), path
        assert g2[path]["encodingFormat"]
    assert g2["results/cube.h5"]["encodingFormat"] == "application/x-hdf5"
    assert g2["#job-3"]["endTime"].endswith("+00:00") and len(g2["#job-3"]["endTime"]) == 29


def test_crate_of_a_run_whose_outputs_were_rewritten(tmp_path):
    work = tmp_path / "w"
    golden.run_golden(work, "r1")
    golden.run_golden(work, "r2", factor=3)  # rewrites every output with other bytes
    first = export(work, "ro-crate", tmp_path / "first", run_id="r1")
    assert validate_crate(first) == []
    g1 = _graph(first)
    # r1's counts/a.txt was overwritten by r2: r1's crate does not pass r2's bytes off as r1's
    assert not (first / "counts/a.txt").exists()
    gone = [e for e in g1.values() if e.get("name") == "counts/a.txt"]
    assert [e["@type"] for e in gone] == ["CreativeWork"]
    assert gone[0]["sha256"] != hashlib.sha256((work / "counts/a.txt").read_bytes()).hexdigest()
    assert g1["data/a.txt"]["sha256"] == hashlib.sha256((work / "data/a.txt").read_bytes()).hexdigest()


def test_crate_of_an_unknown_run_is_refused(golden_dir, tmp_path, capsys):
    from sciflow.cli import main

    code = main(["prov", "export", "--format", "ro-crate", "--run", "nope", "-o",
                 str(tmp_path / "c"), "-d", str(golden_dir)])
    assert code == 2 and "no run 'nope'" in capsys.readouterr().err


# process-run-crate-0.5_5.1 wants the id of every SoftwareApplication, SoftwareSourceCode and
# ComputationalWorkflow to start with "http". The main workflow must be all but the first and a
# File of the crate (workflow-ro-crate-1.0_4.1, REQUIRED, looks for a relative id on disk and
# fetches an http one): its id is the relative path, which the validator resolves to
# file:///<crate>/Snakefile. Nothing else in the crate may fail.
def _workflow_id_issues(issues, workflow="Snakefile"):
    found = [i for i in issues if i[0] == "process-run-crate-0.5_5.1"]
    assert all(v.startswith("file://") and v.endswith("/" + workflow) for _, _, v in found), found
    return found


@pytest.mark.slow
def test_climate_crate_at_recommended(tmp_path, monkeypatch):
    monkeypatch.delenv("SCIFLOW_ORGANIZATION", raising=False)
    monkeypatch.delenv("SCIFLOW_ORGANIZATION_URL", raising=False)
    work = climate_store(tmp_path / "climate")
    crate = export(work, "ro-crate", tmp_path / "crate")
    issues = crate_issues(crate, level="RECOMMENDED")
    wf = _workflow_id_issues(issues)
    # without an organisation given, the publisher is the recording host, which has no URL
    assert sorted(i[0] for i in issues if i not in wf) == ["ro-crate-1.1_31.2"], issues
    monkeypatch.setenv("SCIFLOW_ORGANIZATION", "Example Institute")
    monkeypatch.setenv("SCIFLOW_ORGANIZATION_URL", "https://example.org")
    crate = export(work, "ro-crate", tmp_path / "named")
    issues = crate_issues(crate, level="RECOMMENDED")
    assert [i for i in issues if i not in _workflow_id_issues(issues)] == [], issues
    # published (here by a real server on 127.0.0.1 the validator fetches): zero issues
    (tmp_path / "www").mkdir()
    (tmp_path / "www/Snakefile").write_bytes((work / "Snakefile").read_bytes())
    with serve(tmp_path / "www") as (base, _):
        published = export(work, "ro-crate", tmp_path / "published", workflow_url=f"{base}/Snakefile")
        assert validate_crate(published, level="RECOMMENDED", offline=False) == []
    assert _graph(published)["./"]["mainEntity"] == {"@id": f"{base}/Snakefile"}
    g = _graph(crate)
    jobs = [e for e in g.values() if e.get("@id", "").startswith("#job-")]
    assert len(jobs) == 16  # 4 synthesize, climatology, 4 anomaly, 4 year_stats, summary, report, all
    for j in jobs:  # the job of rule all generated nothing: an ActivateAction, without result
        if j["name"].endswith("rule all"):
            assert j["@type"] == "ActivateAction" and "result" not in j
        else:
            assert j["@type"] == "CreateAction" and j["result"], j
    steps = [g[g[s["@id"]]["workExample"]["@id"]]["name"] for s in g["Snakefile"]["step"]]
    assert sorted(steps) == sorted(f"rule {r}" for r in ("all", "synthesize", "climatology", "anomaly",
                                                         "year_stats", "summary", "report"))
    files = [e for e in g.values() if e.get("@type") == "File" and (crate / e["@id"]).is_file()
             and e["@id"] not in ("provenance.ttl", "README.md")]
    # the NetCDF files, the CSVs, the report and the config file
    assert len(files) == 4 + 1 + 4 + 4 + 2 + 1 and "config.yaml" in g
    for e in files:
        assert e["sha256"] == hashlib.sha256((crate / e["@id"]).read_bytes()).hexdigest(), e["@id"]
        assert e["sha256"] == hashlib.sha256((work / e["@id"]).read_bytes()).hexdigest(), e["@id"]


def test_crate_publisher_from_the_run_config(tmp_path, monkeypatch):
    """The organisation can come with the run (config keys organization, organization_url, as
    the ORCID can): then only the main workflow's id fails at RECOMMENDED, on a workflow with a
    config file, an included file, a script, shell() in run: and NetCDF."""
    monkeypatch.delenv("SCIFLOW_ORGANIZATION", raising=False)
    monkeypatch.delenv("SCIFLOW_ORGANIZATION_URL", raising=False)
    work = model_store(tmp_path / "wf", config={"organization": "Example Institute",
                                                "organization_url": "https://example.org"})
    crate = export(work, "ro-crate", tmp_path / "crate")
    issues = crate_issues(crate, level="RECOMMENDED")
    assert [i for i in issues if i not in _workflow_id_issues(issues, "Sciflowfile")] == [], issues
    g = _graph(crate)
    org = g[g["./"]["publisher"]["@id"]]
    assert org["name"] == "Example Institute" and org["url"] == "https://example.org"
    assert g["./"]["author"]["@id"] == f"https://orcid.org/{MODEL_ORCID}"
    for path in ("rules/extra.smk", "scripts/count.py", "config.yaml"):  # the files that shaped it
        assert g[path]["sha256"] == hashlib.sha256((work / path).read_bytes()).hexdigest(), path
