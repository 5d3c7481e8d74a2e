"""A crate whose main workflow has a published address passes roc-validator 0.13
(provenance-run-crate-0.5) at RECOMMENDED with zero issues.

The address is served by a real HTTP server on 127.0.0.1 (started and stopped here), so the
validator's availability checks (workflow-ro-crate-1.0_4.1 "Main Workflow file must exist",
ro-crate-1.1_28.1 and the contentSize check of web-based data entities) really fetch it. The
git permalink is found in a real git repository with a fake GitHub remote.
"""
import hashlib
import json
import shutil
import subprocess

import pytest
from rocrate_check import serve, validate_crate

from helpers import model_store

import prov_golden as golden
from sciflow.errors import UsageError
from sciflow.provenance.permalink import forge_raw_url
from sciflow.provenance.serialize import export


@pytest.fixture
def served(tmp_path):
    """(folder, base URL, request lines received) of a real HTTP server on 127.0.0.1."""
    folder = tmp_path / "www"
    folder.mkdir()
    with serve(folder) as (base, requests):
        yield folder, base, requests


def _graph(crate):
    return {e["@id"]: e for e in json.loads((crate / "ro-crate-metadata.json").read_text())["@graph"]}


@pytest.fixture
def organisation(monkeypatch):
    monkeypatch.setenv("SCIFLOW_ORGANIZATION", "Example Institute")
    monkeypatch.setenv("SCIFLOW_ORGANIZATION_URL", "https://example.org")
    monkeypatch.delenv("SCIFLOW_WORKFLOW_URL", raising=False)


def test_published_workflow_passes_recommended_with_zero_issues(tmp_path, served, organisation):
    folder, base, requests = served
    work = tmp_path / "w"
    golden.run_golden(work, "r1", only={0, 1})
    golden.run_golden(work, "r2")
    shutil.copy(work / "Sciflowfile", folder / "Sciflowfile")
    url = f"{base}/Sciflowfile"
    crate = export(work, "ro-crate", tmp_path / "crate", workflow_url=url)
    assert validate_crate(crate, level="RECOMMENDED", offline=False) == []
    assert any("/Sciflowfile" in r for r in requests)  # the validator fetched it
    first = export(work, "ro-crate", tmp_path / "first", run_id="r1", workflow_url=url)
    assert validate_crate(first, level="RECOMMENDED", offline=False) == []
    g = _graph(crate)
    sha = hashlib.sha256((work / "Sciflowfile").read_bytes()).hexdigest()
    workflow = g[url]
    assert g["ro-crate-metadata.json"]["about"] == {"@id": "./"}
    assert g["./"]["mainEntity"] == {"@id": url}
    assert "ComputationalWorkflow" in workflow["@type"] and workflow["sha256"] == sha
    assert workflow["contentSize"] == str((work / "Sciflowfile").stat().st_size)
    assert workflow["sdDatePublished"].endswith("+00:00")
    assert g["#run-r2"]["instrument"] == {"@id": url}
    steps = [g[g[s["@id"]]["workExample"]["@id"]]["name"] for s in workflow["step"]]
    assert sorted(steps) == ["rule count", "rule cube", "rule summary"]
    # the local copy stays in the crate, with its checksum, naming the address it is a copy of
    copy = g["Sciflowfile"]
    assert copy["sha256"] == sha and copy["url"] == url and (crate / "Sciflowfile").is_file()
    assert (crate / "Sciflowfile").read_bytes() == (work / "Sciflowfile").read_bytes()


def test_workflow_url_from_the_environment_and_the_command_line(tmp_path, served, organisation,
                                                                 monkeypatch, capsys):
    from sciflow.cli import main

    folder, base, _ = served
    work = tmp_path / "w"
    golden.run_golden(work, "r1")
    shutil.copy(work / "Sciflowfile", folder / "Sciflowfile")
    monkeypatch.setenv("SCIFLOW_WORKFLOW_URL", f"{base}/Sciflowfile")
    crate = export(work, "ro-crate", tmp_path / "env")
    assert _graph(crate)["./"]["mainEntity"] == {"@id": f"{base}/Sciflowfile"}
    assert validate_crate(crate, level="RECOMMENDED", offline=False) == []
    # --no-workflow-url keeps the workflow a file of the crate; REQUIRED still passes
    assert main(["prov", "export", "--format", "ro-crate", "--no-workflow-url", "-o",
                 str(tmp_path / "local"), "-d", str(work)]) == 0
    assert _graph(tmp_path / "local")["./"]["mainEntity"] == {"@id": "Sciflowfile"}
    assert validate_crate(tmp_path / "local") == []
    assert main(["prov", "export", "--format", "ro-crate", "--workflow-url", "Sciflowfile", "-o",
                 str(tmp_path / "bad"), "-d", str(work)]) == 2
    assert "no http(s) URL" in capsys.readouterr().err
    with pytest.raises(UsageError):
        export(work, "ro-crate", tmp_path / "bad2", workflow_url="file:///tmp/Sciflowfile")
    with pytest.raises(UsageError, match="ro-crate export only"):
        export(work, "turtle", tmp_path / "x.ttl", workflow_url=f"{base}/Sciflowfile")


def test_workflow_url_from_the_run_config(tmp_path, served, monkeypatch):
    """The address and the organisation can come with the run (config keys workflow_url,
    organization, organization_url): zero issues at RECOMMENDED on a workflow with a config
    file, an included file, a script, shell() in run: and NetCDF, all with their checksums."""
    for name in ("SCIFLOW_ORGANIZATION", "SCIFLOW_ORGANIZATION_URL", "SCIFLOW_WORKFLOW_URL"):
        monkeypatch.delenv(name, raising=False)
    folder, base, _ = served
    url = f"{base}/v1/Sciflowfile"
    work = model_store(tmp_path / "wf", config={"organization": "Example Institute",
                                                "organization_url": "https://example.org",
                                                "workflow_url": url})
    (folder / "v1").mkdir()
    shutil.copy(work / "Sciflowfile", folder / "v1/Sciflowfile")
    crate = export(work, "ro-crate", tmp_path / "crate")
    assert validate_crate(crate, level="RECOMMENDED", offline=False) == []
    g = _graph(crate)
    assert g["./"]["mainEntity"] == {"@id": url}
    for path in ("Sciflowfile", "rules/extra.smk", "scripts/count.py", "config.yaml"):
        assert g[path]["sha256"] == hashlib.sha256((work / path).read_bytes()).hexdigest(), path


def test_a_wrong_address_fails_the_required_check(tmp_path, served, organisation):
    """The validator really fetches the address: one that serves nothing fails REQUIRED, so
    the zero-issue result above is no artefact of an unchecked id."""
    _, base, _ = served
    work = tmp_path / "w"
    golden.run_golden(work, "r1")
    crate = export(work, "ro-crate", tmp_path / "crate", workflow_url=f"{base}/nothing/Sciflowfile")
    issues = validate_crate(crate, offline=False)
    assert any(i.startswith("workflow-ro-crate-1.0_4.1") for i in issues), issues


def _git(cwd, *args):
    subprocess.run(["git", "-C", str(cwd), "-c", "user.name=t", "-c", "user.email=t@t",
                    "-c", "init.defaultBranch=main", *args], check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_permalink_of_a_committed_pushed_workflow(tmp_path, organisation, capsys):
    work = tmp_path / "w"
    work.mkdir()
    _git(work, "init", "-q")
    golden.run_golden(work, "r1")
    _git(work, "add", "Sciflowfile")
    _git(work, "commit", "-q", "-m", "workflow")
    _git(work, "remote", "add", "origin", "git@github.com:example/golden.git")
    commit = subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    # committed but not pushed: the permalink would not resolve, so the workflow stays local
    assert _graph(export(work, "ro-crate", tmp_path / "unpushed"))["./"]["mainEntity"] == {"@id": "Sciflowfile"}
    _git(work, "update-ref", "refs/remotes/origin/main", commit)  # what a push records
    from sciflow.cli import main

    assert main(["prov", "export", "--format", "ro-crate", "-o", str(tmp_path / "pushed"),
                 "-d", str(work)]) == 0
    crate = tmp_path / "pushed"
    url = f"https://raw.githubusercontent.com/example/golden/{commit}/Sciflowfile"
    assert f"main workflow: {url}" in capsys.readouterr().err
    g = _graph(crate)
    assert g["./"]["mainEntity"] == {"@id": url}
    assert g[url]["sha256"] == hashlib.sha256((work / "Sciflowfile").read_bytes()).hexdigest()
    assert g["Sciflowfile"]["url"] == url
    # the workflow edited, committed and pushed since: HEAD's bytes are not r1's, no permalink;
    # the crate still holds r1's workflow (the copy archived when r1 started), not the edit
    (work / "Sciflowfile").write_text(golden.SOURCE + "\n# edited\n")
    _git(work, "commit", "-q", "-am", "edit")
    _git(work, "update-ref", "refs/remotes/origin/main", "HEAD")
    edited = export(work, "ro-crate", tmp_path / "edited")
    g2 = _graph(edited)
    assert g2["./"]["mainEntity"] == {"@id": "Sciflowfile"}
    assert (edited / "Sciflowfile").read_text() == golden.SOURCE
    assert g2["Sciflowfile"]["sha256"] == g[url]["sha256"]
    assert validate_crate(edited) == []


@pytest.mark.parametrize("remote, expected", [
    ("https://github.com/o/r.git", "https://raw.githubusercontent.com/o/r/C/a%20b/Snakefile"),
    ("ssh://git@github.com/o/r", "https://raw.githubusercontent.com/o/r/C/a%20b/Snakefile"),
    ("git@gitlab.com:g/sub/r.git", "https://gitlab.com/g/sub/r/-/raw/C/a%20b/Snakefile"),
    ("https://git.example.org/g/r.git", None),
    ("https://gitlab.inst.edu/g/r", "https://gitlab.inst.edu/g/r/-/raw/C/a%20b/Snakefile"),
    ("https://example.org/r.git", None),
    ("/srv/git/r.git", None),
])
def test_forge_raw_url_forms(remote, expected):
    assert forge_raw_url(remote, "C", "a b/Snakefile") == expected
