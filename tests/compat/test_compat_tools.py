"""The compatibility instruments themselves (benchmarks/compat.py, benchmarks/snakemake_suite.py).

Each runs both real tools (Snakemake, the oracle, and sciflow's installed CLI) on a tiny local
fake: a bare git mirror made here with `git` (one blob deleted from it, as large test data is
absent from fetched mirrors), and a fake Snakemake `tests/` folder. No network.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
sys.path.insert(0, str(ROOT / "benchmarks"))


def _load(name: str):
    """A benchmarks/ script as a module (its name would clash with this tests/compat package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


compat = _load("compat")
classify = _load("compat_common").classify

pytestmark = pytest.mark.snakemake

SAMPLES = ["s1", "s2", "s3"]
SNAKEFILE = """
configfile: "config/config.yaml"

rule all:
    input: expand("results/{s}.sum", s=config["samples"])

rule count:
    input: "data/{s}.txt"
    output: "results/{s}.count"
    shell: "wc -l {input} > {output}"

rule summarise:
    input: "results/{s}.count", "data/big.bin"
    output: "results/{s}.sum"
    shell: "cat {input[0]} > {output}"
"""


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_mirror(root: Path, name: str, snakefile: str) -> Path:
    """A bare mirror `owner+name/repo` as fetch leaves them, minus the blob of data/big.bin."""
    src = root / "src" / name
    (src / "workflow").mkdir(parents=True)
    (src / "workflow" / "Snakefile").write_text(snakefile)
    (src / ".test" / "config").mkdir(parents=True)
    (src / ".test" / "data").mkdir()
    samples = "\n".join(f"  - {s}" for s in SAMPLES)
    (src / ".test" / "config" / "config.yaml").write_text(f"samples:\n{samples}\n")
    for s in SAMPLES:
        (src / ".test" / "data" / f"{s}.txt").write_text(f"{s}\n")
    (src / ".test" / "data" / "big.bin").write_bytes(b"large test data " * 1000)
    git("init", "-q", cwd=src)
    git("add", "-A", cwd=src)
    git("commit", "-qm", "init", cwd=src)
    big = git("rev-parse", "HEAD:.test/data/big.bin", cwd=src)
    mirror = root / "mirrors" / f"owner+{name}" / "repo"
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(mirror)], check=True)
    (mirror / "objects" / big[:2] / big[2:]).unlink()     # the absent large blob
    return mirror


def test_compat_dry_runs_both_tools_and_compares_jobs_per_rule(tmp_path):
    make_mirror(tmp_path, "good", SNAKEFILE)
    make_mirror(tmp_path, "broken", SNAKEFILE.replace('"data/{s}.txt"', '"data/{s}.nope"'))
    listing = tmp_path / "pipelines.txt"
    listing.write_text(
        "# id | repo | directory | snakefile | args\n"
        "good | owner/good | .test | workflow/Snakefile | --cores 1\n"
        "broken | owner/broken | .test | workflow/Snakefile | --cores 1\n")
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [PY, str(ROOT / "benchmarks" / "compat.py"), "--mirrors", str(tmp_path / "mirrors"),
         "--list", str(listing), "--work", str(tmp_path / "work"), "--json", str(out)],
        capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    results = {r["case"]: r for r in json.loads(out.read_text())}

    good = results["good"]
    expected = {"all": 1, "count": len(SAMPLES), "summarise": len(SAMPLES)}
    assert good["snakemake"]["ok"] and good["snakemake"]["counts"] == expected
    # the absent blob was written as an empty file, so both tools see the input exist
    tree = next(p for p in (tmp_path / "work" / "src").glob("owner+good@*") if p.is_dir())
    assert (tree / ".test" / "data" / "big.bin").read_bytes() == b""
    assert good["missing_blobs"] == 1
    # sciflow plans this one as Snakemake does, at the first attempt (CI flags)
    assert good["match"] and good["attempts"][0]["counts"] == expected
    assert "### good [owner/good@" in proc.stdout and "MATCH" in proc.stdout

    broken = results["broken"]          # Snakemake cannot plan it: counted apart, with reason
    assert not broken["snakemake"]["ok"]
    assert "missing input" in broken["snakemake"]["detail"]
    assert "not plannable by Snakemake here: broken" in proc.stdout
    assert "Snakemake plans 1" in proc.stdout


def test_core_args_keep_only_targets_and_config():
    args = ["results/x.vcf", "--configfile", ".test/c.yaml", "--sdm", "conda", "--cores",
            "all", "--conda-cleanup-pkgs", "cache", "--all-temp", "-j", "10"]
    assert compat.core_args(args) == ["results/x.vcf", "--configfile", ".test/c.yaml"]
    assert compat.without_conda(["--use-conda", "-j", "2", "--sdm", "conda", "--conda-frontend",
                                 "mamba", "--conda-cleanup-pkgs"]) == ["-j", "2"]


@pytest.mark.parametrize("stderr, key", [
    ("sciflow: error: unrecognized arguments: --sdm", "cli-unknown-flag"),
    ("Snakefile:1:1: ModuleNotFoundError: No module named 'snakemake'", "snakemake-api"),
    ("cannot read config file '.test/c.yaml': No such file or directory", "configfile"),
    ("x.smk:16:18: NameError: name 'lookup' is not defined", "semantic-helpers"),
])
def test_causes_are_recognised(stderr, key):
    assert classify(stderr).key == key


TESTS_PY = '''
from .common import run, dpath, connected

def test_plain():
    run(dpath("test_plain"), targets=["out.txt"])

def test_wrong_expectation():
    run(dpath("test_wrong"))

@connected
def test_network():
    run(dpath("test_plain"))

def test_two_calls():
    run(dpath("test_plain"))
    run(dpath("test_plain"))
'''


def test_suite_replays_light_cases_with_a_snakemake_control(tmp_path):
    tests = tmp_path / "tests"
    for name, expected in (("test_plain", "hello\n"), ("test_wrong", "not what it makes\n")):
        case = tests / name
        (case / "expected-results").mkdir(parents=True)
        (case / "Snakefile").write_text(
            'rule all:\n    output: "out.txt"\n    shell: "echo hello > {output}"\n')
        (case / "expected-results" / "out.txt").write_text(expected)
    (tests / "tests.py").write_text(TESTS_PY)
    jsonl = tmp_path / "suite.jsonl"
    proc = subprocess.run(
        [PY, str(ROOT / "benchmarks" / "snakemake_suite.py"), "--tests", str(tests),
         "--work", str(tmp_path / "work"), "--jsonl", str(jsonl), "-j", "1"],
        capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    rows = {r["test"]: r for r in map(json.loads, jsonl.read_text().splitlines())}
    # only the light cases are replayed: no network marker, a single run() call
    assert set(rows) == {"test_plain", "test_wrong_expectation"}
    assert rows["test_wrong_expectation"]["status"] == "excluded"
    assert "Snakemake fails here" in rows["test_wrong_expectation"]["reason"]
    assert rows["test_plain"]["status"] == "pass"
    assert "light cases: 2 of 4 tests; Snakemake passes 1" in proc.stdout
