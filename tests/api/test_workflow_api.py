"""The notebook API (sciflow.api): real workflows, real runs; expected counts and files come
from Snakemake (the golden ``expected/`` folders and a live ``snakemake -n``)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from golden import compare_outputs, copy_case, load_case


import sciflow  # noqa: E402
from sciflow.api import DagView, PlanView, Run, Workflow  # noqa: E402


def parses(html: str) -> ET.Element:
    """Rich reprs must be well-formed XML (so they embed in any page)."""
    return ET.fromstring(html)


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    return copy_case(load_case("include"), tmp_path / "include")


def test_workflow_is_exported_lazily():
    assert sciflow.Workflow is Workflow


def test_rules_table(case_dir):
    wf = Workflow(case_dir)
    rules = wf.rules
    assert list(rules) == ["all", "word", "combine"]  # definition order, include in place
    assert str(rules["word"].loc).endswith("make.smk:1:1")
    table = parses(rules._repr_html_())
    assert len(table.findall(".//tbody/tr")) == 3
    assert list(rules.to_frame()["rule"]) == ["all", "word", "combine"]


def test_dag_displays(case_dir):
    view = Workflow(case_dir / "Snakefile").dag()
    assert isinstance(view, DagView)
    assert len(view.jobs) == 4  # all, combine, word x2
    parses(view._repr_html_())
    bundle = view._repr_mimebundle_()
    assert "flowchart" in bundle["text/vnd.mermaid"]
    import shutil

    if shutil.which("dot"):
        svg = parses(view._repr_svg_())
        assert svg.tag.endswith("svg")
        assert "image/svg+xml" in bundle
    else:
        assert view._repr_svg_() is None


def test_plan_matches_snakemake_and_run_matches_expected(case_dir):
    from golden import snakemake_counts

    case = load_case("include")
    wf = Workflow(case_dir)
    plan = wf.plan()
    assert isinstance(plan, PlanView)
    assert plan.counts() == dict(snakemake_counts(case, case_dir))
    frame = plan.to_frame()
    assert set(frame["reason"]) and all(frame["reason"])  # every job says why it runs
    parses(plan._repr_html_())

    run = wf.run(cores=2)
    assert isinstance(run, Run) and run.ok, run
    assert compare_outputs(case, case_dir) == []
    assert set(run.to_frame()["status"]) == {"ok"}
    html = parses(run._repr_html_())
    assert "finished" in ET.tostring(html, encoding="unicode")

    again = wf.plan()
    assert len(again) == 0
    parses(again._repr_html_())


def test_config_override_reaches_the_run(tmp_path):
    case = load_case("config")
    work = copy_case(case, tmp_path / "config")
    run = Workflow(work, config=case.config).run(cores=1)
    assert run.ok
    assert compare_outputs(case, work) == []


def test_failed_job_is_shown_not_raised(tmp_path):
    (tmp_path / "Snakefile").write_text(
        'rule all:\n    input: "b.txt"\n\n'
        'rule a:\n    output: "a.txt"\n    shell: "echo a > {output}"\n\n'
        'rule b:\n    input: "a.txt"\n    output: "b.txt"\n    shell: "echo failing >&2; exit 3"\n')
    wf = Workflow(tmp_path)
    run = wf.run(cores=1)
    assert not run.ok
    frame = run.to_frame().set_index("rule")
    assert frame.loc["a", "status"] == "ok" and frame.loc["b", "status"] == "FAILED"
    html = ET.tostring(parses(run._repr_html_()), encoding="unicode")
    assert "FAILED" in html
    from sciflow.errors import RunFailedError

    with pytest.raises(RunFailedError):
        wf.run(cores=1, raise_on_failure=True)


def test_provenance_lineage_from_the_api(case_dir):
    wf = Workflow(case_dir)
    run = wf.run(cores=2)
    assert run.ok
    lineage = wf.provenance().lineage("combined.txt")
    text = lineage.to_string()
    for name in ("words/red.txt", "words/green.txt", "combine", "word"):
        assert name in text, f"{name} missing from lineage:\n{text}"
    assert run.run_id in set(wf.provenance().run_ids())
