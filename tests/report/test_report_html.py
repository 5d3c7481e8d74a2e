"""``sciflow report`` as a researcher sends it (issue 10, deliverable 5): from a real run's
provenance alone, one self-contained page with the run header, a timeline, per-rule statistics,
configuration and parameters, software per rule, the rule graph, each final output with its
lineage and checksum, the failed job with its log tail, the ``report()`` results embedded under
their categories with their captions, and each job once; opened in headless Chromium, it
renders without a console error or a network request."""
from __future__ import annotations

import base64
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import SCIFLOW, sha256

WORKFLOW = Path(__file__).parent / "workflow"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("report")
    shutil.copytree(WORKFLOW, work, dirs_exist_ok=True)
    run = subprocess.run([str(SCIFLOW), "run", "-c", "2", "-k"], cwd=work, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 1, run.stderr  # rule bad fails, everything else is made
    shutil.rmtree(work / "report")  # captions come from provenance, not from these files
    (work / "Snakefile").unlink()   # nor does anything else come from the workflow file
    out = work / "site" / "report.html"
    out.parent.mkdir()
    made = subprocess.run([str(SCIFLOW), "report", "-o", str(out)], cwd=work,
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    return work, out.read_text()


def _section(page: str, anchor: str) -> str:
    start = page.index(f"<h2 id='{anchor}'>")
    end = page.find("<h2 id=", start + 5)
    return page[start:end if end > 0 else None]


def test_each_job_once_with_stats_timeline_config_and_software(report):
    work, page = report
    jobs = _section(page, "jobs")
    assert jobs.count("<tr>") - 1 == 7  # 3 make, table, plot, notes, bad: once each
    # the table job was recorded with two reasons: both in its one row
    row = next(r for r in jobs.split("<tr>") if "<td>table</td>" in r)
    assert "Missing output files: results/table.csv" in row and "Input files updated" in row
    timeline = _section(page, "timeline")
    assert timeline.count("<rect") == 7 and "tls://127.0.0.1:" in timeline
    rules = _section(page, "rules")
    make = next(r for r in rules.split("<tr>") if "<td>make</td>" in r)
    cells = re.findall(r"<td class='num'>([^<]*)</td>", make)
    assert cells[:2] == ["3", ""]  # jobs, failed
    assert float(cells[3]) >= 0.6 and float(cells[4]) >= 0.6  # mean and max s: sleep 0.6
    assert float(cells[5]) > 0  # max RSS (MB): make is benchmarked
    assert "<svg" in rules and "table" in rules and "plot" in rules  # the rule graph
    config = _section(page, "config")
    assert "&quot;samples&quot;" in config and "<td>make</td><td>scale</td><td>2</td>" in config
    assert f"python {platform.python_version()}" in _section(page, "software")
    header = page[:page.index("<h2")]
    assert "<span class='failed'>failed</span>" in header and "7 (1 failed)" in header


def test_outputs_lineage_failed_log_and_report_items(report):
    work, page = report
    outputs = _section(page, "outputs")
    for path in ("results/plot.png", "results/notes.txt"):
        assert path in outputs and sha256(work / path) in outputs
    lineage = outputs[outputs.index("<h3 id='out-", outputs.index("results/plot.png</h3>") - 40):]
    assert "data/a.txt" in lineage and "results/table.csv" in lineage  # drawn from provenance
    failed = _section(page, "failed")
    assert "job" in failed and "bad" in failed and "the-failure-detail" in failed
    results = _section(page, "results")
    assert results.index("<h3>Figures</h3>") < results.index("<h3>Other</h3>") \
        < results.index("<h3>Tables</h3>")
    png = base64.b64encode((work / "results" / "plot.png").read_bytes()).decode()
    assert f"src='data:image/png;base64,{png}'" in results
    assert "A red rectangle." in results and "kind: bar" in results
    assert "<td>b</td><td>2</td>" in results and "A table of **samples**" in results
    assert "href='../results/notes.txt'" in results and sha256(work / "results/notes.txt") in results
    # self-contained: no script, no stylesheet or image fetched from anywhere
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)=['"](https?:)?//""", page)


def test_report_renders_in_headless_chromium(report, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        pytest.skip("no chromium (scripts/install-services.sh installs it)")
    work, _page = report
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto((work / "site" / "report.html").as_uri(), wait_until="load")
            assert page.title().startswith("sciflow run ")
            broken = page.evaluate("Array.from(document.images)"
                                   ".filter(i => !i.complete || i.naturalWidth === 0).length")
            images = page.evaluate("document.images.length")
            svgs = page.evaluate("document.querySelectorAll('svg').length")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert images == 1 and broken == 0 and svgs >= 4  # timeline, rule graph, two lineages
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
