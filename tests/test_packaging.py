"""The wheel carries the language and the provenance vocabulary (they live at the top of the
repository as data files, and ship inside the package as sciflow.grammar / sciflow.vocab)."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_grammar_queries_shapes_and_context(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "tests", "benchmarks", "notebooks", "workflows", "*.egg-info", "build"))
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                          "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("sciflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {"sciflow/grammar/sciflow.lark", "sciflow/vocab/context.jsonld"}
    expected |= {f"sciflow/vocab/queries/{q.name}" for q in (ROOT / "provenance" / "queries").glob("*.rq")}
    expected |= {f"sciflow/vocab/shapes/{s.name}" for s in (ROOT / "provenance" / "shapes").glob("*.ttl")}
    assert len(expected) > 9 and expected <= names
    assert not any(n.startswith(("tests/", "grammar/", "provenance/")) for n in names)
