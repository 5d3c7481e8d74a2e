"""`sciflow prov ...` end to end through the real CLI entry point, on a recorded golden run."""
import hashlib
import json

import prov_golden as golden
from sciflow.cli import main


def run(capsys, *argv):
    code = main(["prov", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_lineage_formats(golden_dir, capsys):
    code, out, _ = run(capsys, "lineage", "results/summary.txt", "-d", str(golden_dir))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("results/summary.txt") and "rule summary" in lines[0]
    assert sum("(raw input)" in line for line in lines) == 2
    assert "params: cols=[1,2], title=t" in out
    code, out, _ = run(capsys, "lineage", "results/summary.txt", "-d", str(golden_dir), "--format", "json")
    doc = json.loads(out)
    assert {f["path"] for f in doc["files"] if f["raw"]} == {"data/a.txt", "data/b.txt"}
    code, out, _ = run(capsys, "lineage", "results/summary.txt", "-d", str(golden_dir), "--format", "dot")
    # edges: 3 jobs -> their output, and 4 inputs -> their job (2 raw -> count, 2 counts -> summary)
    assert out.startswith("digraph lineage {") and out.count("->") == 3 + 4
    import subprocess

    svg = subprocess.run(["dot", "-Tsvg"], input=out, capture_output=True, text=True, check=True).stdout
    assert "<svg" in svg
    code, _, err = run(capsys, "lineage", "data/a.txt", "-d", str(golden_dir))
    assert code == 1 and "no recorded job generated data/a.txt" in err


def test_query_runs_and_diff(golden_dir, capsys):
    code, out, _ = run(capsys, "query", "params-of", "--param", "path=results/cube.h5",
                       "-d", str(golden_dir), "--format", "csv")
    assert code == 0 and "cube,scale,0.5" in out
    code, _, err = run(capsys, "query", "params-of", "-d", str(golden_dir))
    assert code == 2 and "--param path=..." in err
    code, _, err = run(capsys, "query", "nope", "-d", str(golden_dir))
    assert code == 2 and "no named query 'nope'" in err
    code, out, _ = run(capsys, "runs", "-d", str(golden_dir), "--format", "json")
    assert [r["run_id"] for r in json.loads(out)] == ["r1"]
    code, _, err = run(capsys, "diff", "r1", "zz", "-d", str(golden_dir))
    assert code == 2 and "no run 'zz'" in err


def test_query_from_file(golden_dir, tmp_path, capsys):
    rq = tmp_path / "mine.rq"
    rq.write_text("# @param rule string\nPREFIX sf: <https://w3id.org/sciflow/ns#>\n"
                  "SELECT ?job WHERE { ?job sf:ruleName $rule ; a sf:Job } ORDER BY ?job\n")
    code, out, _ = run(capsys, "query", str(rq), "--param", "rule=count", "-d", str(golden_dir),
                       "--format", "json")
    assert [r["job"] for r in json.loads(out)] == ["urn:sciflow:run:r1:job:0", "urn:sciflow:run:r1:job:1"]


def test_verify_detects_modified_missing_and_untracked(tmp_path, capsys):
    golden.run_golden(tmp_path, "r1")
    code, out, _ = run(capsys, "verify", "-d", str(tmp_path), "--format", "json")
    assert code == 0 and {v["status"] for v in json.loads(out)} == {"ok", "raw"}
    (tmp_path / "counts/a.txt").write_text("999\n")
    (tmp_path / "results/summary.txt").unlink()
    (tmp_path / "extra.txt").write_text("made by hand\n")
    code, out, _ = run(capsys, "verify", "-d", str(tmp_path), "--format", "json")
    got = {v["path"]: v for v in json.loads(out)}
    assert code == 1
    assert got["counts/a.txt"]["status"] == "changed"
    assert got["counts/a.txt"]["current_sha256"] == hashlib.sha256(b"999\n").hexdigest()
    assert got["results/summary.txt"]["status"] == "missing"
    assert got["counts/b.txt"]["status"] == "ok"
    code, out, _ = run(capsys, "verify", "extra.txt", "counts/b.txt", "-d", str(tmp_path), "--format", "json")
    assert code == 1 and [v["status"] for v in json.loads(out)] == ["untracked", "ok"]


def test_check_and_export(golden_dir, tmp_path, capsys):
    code, out, _ = run(capsys, "check", "-d", str(golden_dir))
    assert code == 0 and "run r1: SHACL conforms" in out and "ordering: 0 violation(s)" in out
    for fmt, name in (("turtle", "p.ttl"), ("jsonld", "p.jsonld"), ("provn", "p.provn")):
        code, _, _ = run(capsys, "export", "--format", fmt, "-o", str(tmp_path / name), "-d", str(golden_dir))
        assert code == 0 and (tmp_path / name).stat().st_size > 1000


def test_no_store_is_a_clean_error(tmp_path, capsys):
    code, _, err = run(capsys, "runs", "-d", str(tmp_path))
    assert code == 1 and "no provenance recorded" in err and "Traceback" not in err
