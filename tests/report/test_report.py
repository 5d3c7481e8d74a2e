"""``sciflow report``: the HTML report is read back from the provenance store of a real run."""
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from helpers import sha256

SCIFLOW = Path(sys.executable).parent / "sciflow"

SNAKEFILE = """
rule all:
    input: "out/a.txt", "out/b.txt"

rule make:
    output: "out/{s}.txt"
    params: greeting="hello"
    shell: "echo {params.greeting} {wildcards.s} > {output}"
"""


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_report_lists_the_run_its_jobs_and_output_checksums(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    run = subprocess.run([str(SCIFLOW), "run", "-d", str(tmp_path), "-c", "1"],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    res = subprocess.run([str(SCIFLOW), "report", "-d", str(tmp_path), "-o", str(tmp_path / "r.html")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    parser = _Text()
    parser.feed((tmp_path / "r.html").read_text())
    text = " ".join(parser.text)
    run_id = run.stderr.split("sciflow run ", 1)[1].split(":", 1)[0]
    assert f"sciflow run {run_id}" in text
    for name in ("a", "b"):
        sha = sha256(tmp_path / "out" / f"{name}.txt")
        assert sha in text and f"out/{name}.txt" in text and f"s={name}" in text
    assert text.count("succeeded") >= 4  # the run and its three jobs
    assert "svg" in parser.tags  # the rule graph (graphviz is installed by make test)


def test_report_without_runs_is_a_clear_error(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    res = subprocess.run([str(SCIFLOW), "report", "-d", str(tmp_path), "-o", str(tmp_path / "r.html")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert not (tmp_path / "r.html").exists()
