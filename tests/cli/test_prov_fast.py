"""`sciflow prov` commands import only what they need: no pandas, no workflow parser, no rdflib.

Wall times are measured by benchmarks/bench_prov_commands.py (they are too noisy on a shared
machine to assert); this checks the cause of the slowness the issue measured: pandas (~0.4 s)
and the parser imported by every command."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "provenance"))
import prov_golden as golden  # noqa: E402
from helpers import record_chain  # noqa: E402

HEAVY = ("pandas", "rdflib", "lark", "sciflow.parse", "sciflow.engine", "dask", "numpy")
PROBE = """
import json, sys
from sciflow.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print(json.dumps({"code": code, "modules": sorted(m for m in %r if m in sys.modules)}),
      file=sys.stderr)
""" % (HEAVY,)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return golden.two_runs(tmp_path_factory.mktemp("fast"))


def imported(*argv):
    res = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                         timeout=120)
    probe = json.loads(res.stderr.strip().splitlines()[-1])
    return probe["code"], probe["modules"], res.stdout


@pytest.mark.parametrize("argv", [
    ["prov", "runs"],
    ["prov", "runs", "--format", "json"],
    ["prov", "lineage", "results/summary.txt"],
    ["prov", "lineage", "results/summary.txt", "--format", "json"],
    ["prov", "query", "params-of", "--param", "path=results/cube.h5", "--format", "csv"],
    ["prov", "diff", "r1", "r2"],
    ["prov", "view", "results/summary.txt"],
    ["prov", "view", "r1"],
    ["prov", "find", "rule=count", "path=counts/*"],
    ["prov", "find", "kind=job", "param=factor=3", "--format", "json"],
])
def test_prov_commands_do_not_import_heavy_modules(store, argv):
    code, modules, out = imported(*argv, "-d", str(store))
    assert code == 0, out
    assert modules == [], f"{' '.join(argv)} imported {modules}"


def test_answers_are_the_same_without_pandas(store):
    code, _, out = imported("prov", "query", "params-of", "--param", "path=results/cube.h5",
                            "--format", "csv", "-d", str(store))
    assert code == 0 and "cube,scale,0.5" in out
    code, _, out = imported("prov", "runs", "--format", "json", "-d", str(store))
    runs = json.loads(out)
    assert [r["run_id"] for r in runs] == ["r1", "r2"] and all(r["jobs"] == 4 for r in runs)
    assert runs[0]["started"].startswith("20")  # ISO 8601 times
    code, _, out = imported("prov", "runs", "-d", str(store))
    head, *rows = out.splitlines()
    assert head.split()[:4] == ["run_id", "started", "ended", "status"] and len(rows) == 2


def test_lineage_of_a_long_chain_prints_in_every_format(tmp_path, capsys):
    """1,500 hops: deeper than Python's recursion limit; the tree stays linear in size."""
    from sciflow.cli import main

    n = 1500
    record_chain(tmp_path, n, lambda i: {"k": i % 7})
    for fmt in ("table", "json", "dot"):
        code = main(["prov", "lineage", f"f{n}.txt", "--format", fmt, "-d", str(tmp_path)])
        out = capsys.readouterr().out
        assert code == 0, fmt
        assert "f0.txt" in out
    lines = main(["prov", "lineage", f"f{n}.txt", "-d", str(tmp_path)]) or capsys.readouterr().out
    assert max(len(line) for line in lines.splitlines()) < 300
    out = tmp_path / "chain.html"
    assert main(["prov", "render", f"f{n}.txt", "-o", str(out), "-d", str(tmp_path)]) == 0
    assert out.read_text().count('class="node') == 2 * n + 1
