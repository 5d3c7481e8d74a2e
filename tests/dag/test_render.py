"""DAG pictures: dot (checked by Graphviz itself), Mermaid, SVG (parsed as XML)."""
from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from sciflow.dag import build_dag
from sciflow.errors import MissingDependencyError

from .conftest import Flow


def small_dag():
    f = (Flow().rule("all", 1, input=["c/a.txt", "c/b.txt"])
         .rule("make", 3, output="b/{s}.txt")
         .rule("combine", 6, input="b/{s}.txt", output="c/{s}.txt"))
    return build_dag(f.wf)


def test_dot_job_graph(in_tmp):
    dag = small_dag()
    dot = dag.to_dot()
    ids = {(j.rule.name, j.wildcards.get("s")): j.jobid for j in dag.jobs}
    assert dot.startswith("digraph")
    assert f'{ids["make", "a"]} -> {ids["combine", "a"]}' in dot
    assert f'{ids["combine", "b"]} -> {ids["all", None]}' in dot
    assert 'label = "combine\\ns: a"' in dot
    assert dot.count("->") == 4


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")
def test_dot_is_valid_graphviz_and_svg_is_xml(in_tmp):
    dag = small_dag()
    subprocess.run(["dot", "-Tplain"], input=dag.to_dot(rulegraph=True), text=True,
                   check=True, capture_output=True)
    svg = dag._repr_svg_()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "combine" in svg


def test_rulegraph_has_one_node_per_rule(in_tmp):
    dot = small_dag().to_dot(rulegraph=True)
    assert dot.count("label =") == 3 and dot.count("->") == 2


def test_mermaid(in_tmp):
    dag = small_dag()
    text = dag.to_mermaid()
    lines = text.splitlines()
    assert lines[0] == "flowchart TB"
    assert sum("-->" in line for line in lines) == 4
    assert any(line.strip().startswith(f"id{dag.targets[0].jobid}[") for line in lines)
    rules = dag.to_mermaid(rulegraph=True)
    assert sum("-->" in line for line in rules.splitlines()) == 2
    assert 'id0["all"]' in rules or '["all"]' in rules


def test_svg_without_dot_binary_says_how_to_install(in_tmp, monkeypatch, tmp_path):
    empty = tmp_path / "emptybin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(MissingDependencyError) as err:
        small_dag().to_svg()
    assert "apt-get install graphviz" in err.value.format()
