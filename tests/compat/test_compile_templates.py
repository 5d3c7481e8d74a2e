"""``template_engine:`` rules (yte, jinja2) and YTE-templated config files, as in Snakemake 9:
both render offline. The expected outputs are what Snakemake writes for the same files (its
own test cases test_template_engine and test_config_yte; the slow test reruns Snakemake)."""
from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from helpers import write_tree
from oracle import SNAKEMAKE
from sciflow.errors import ConfigError
from sciflow.parse import load_workflow

SCIFLOW = pathlib.Path(sys.executable).with_name("sciflow")

FILES = {
    "Snakefile": """
        rule all:
            input: expand("rendered.{engine}", engine=["yte", "jinja2"]), "named.txt"

        rule render_yte_template:
            input: "template.yte.yaml"
            output: "rendered.yte"
            params: n=3
            template_engine: "yte"

        rule render_jinja2_template:
            input:
                "template.jinja2.txt"
            output:
                "rendered.jinja2"
            template_engine:
                "jinja2"

        rule named_template:
            input: "other.txt", template="template.jinja2.txt"
            output: "named.txt"
            template_engine: "jinja2"
    """,
    "template.yte.yaml": """
        ?if True:
          foo: 1
        ?else:
          bar: 2
        n: ?params.n * 2
        ?for i in range(2):
          ?f"item{i}": ?i
    """,
    "template.jinja2.txt": "{% set foo = 1 %}\nfoo: {{ foo }} {{ input[0] }}\n",
    "other.txt": "",
}


def run(tool: pathlib.Path, cwd: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    argv = [str(tool), "run", *args] if tool == SCIFLOW else [str(tool), *args]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_template_engine_renders_yte_and_jinja2(tmp_path):
    work = write_tree(tmp_path, FILES)
    res = run(SCIFLOW, work, "-c", "1")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert (work / "rendered.yte").read_text() == "foo: 1\nn: 6\nitem0: 0\nitem1: 1\n"
    assert (work / "rendered.jinja2").read_text() == "\nfoo: 1 template.jinja2.txt"
    assert (work / "named.txt").read_text() == "\nfoo: 1 other.txt"


def test_template_engine_rule_is_a_run_function_on_the_model(tmp_path, monkeypatch):
    write_tree(tmp_path, FILES)
    monkeypatch.chdir(tmp_path)
    rule = load_workflow("Snakefile").rules["render_yte_template"]
    assert rule.action.kind == "run" and rule.action.func_name
    assert rule.action.source == "template_engine: \"yte\""


def test_unknown_template_engine_fails_the_job_with_a_clear_message(tmp_path):
    work = write_tree(tmp_path, {
        "Snakefile": """
            rule r:
                input: "t.txt"
                output: "o.txt"
                template_engine: "mako"
        """,
        "t.txt": "x\n",
    })
    res = run(SCIFLOW, work, "-c", "1")
    assert res.returncode != 0
    text = res.stdout + res.stderr
    assert "unsupported template engine 'mako' in rule r" in text, text[-3000:]


def test_template_engine_value_error_is_located(tmp_path, monkeypatch):
    write_tree(tmp_path, {"Snakefile": """
        rule r:
            output: "o.txt"
            template_engine: "yte" +
    """})
    monkeypatch.chdir(tmp_path)
    from sciflow.errors import ParseError
    with pytest.raises(ParseError, match="template_engine") as err:
        load_workflow("Snakefile")
    assert err.value.loc.line == 3


@pytest.mark.slow
@pytest.mark.snakemake
def test_template_engine_outputs_same_as_snakemake(tmp_path):
    pytest.importorskip("snakemake")
    outputs = {}
    for tool in (SNAKEMAKE, SCIFLOW):
        work = write_tree(tmp_path / tool.name, FILES)
        res = run(tool, work, "-c", "1")
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        outputs[tool.name] = {n: (work / n).read_text()
                              for n in ("rendered.yte", "rendered.jinja2", "named.txt")}
    assert outputs["sciflow"] == outputs["snakemake"]


# ------------------------------------------------------------------------------ config
YTE_CONFIG = """
    __use_yte__: true

    test: ?5 + 5
    ?if True:
      chosen: yes
"""


def test_yte_config_file_is_rendered(tmp_path, monkeypatch):
    write_tree(tmp_path, {
        "config.yaml": YTE_CONFIG,
        "plain.yaml": "other: ?1 + 1\n",
        "Snakefile": 'configfile: "config.yaml"\nconfigfile: "plain.yaml"\n',
    })
    monkeypatch.chdir(tmp_path)
    wf = load_workflow("Snakefile")
    assert wf.config == {"test": 10, "chosen": True, "other": "?1 + 1"}


def test_yte_config_false_marker_is_dropped_not_rendered(tmp_path, monkeypatch):
    write_tree(tmp_path, {"config.yaml": "__use_yte__: false\nx: ?1 + 1\n",
                          "Snakefile": 'configfile: "config.yaml"\n'})
    monkeypatch.chdir(tmp_path)
    assert load_workflow("Snakefile").config == {"x": "?1 + 1"}


def test_yte_config_error_names_the_file(tmp_path, monkeypatch):
    write_tree(tmp_path, {"config.yaml": "__use_yte__: true\nx: ?undefined_thing + 1\n",
                          "Snakefile": 'configfile: "config.yaml"\n'})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="cannot render the YTE template config file "
                                          "'config.yaml'"):
        load_workflow("Snakefile")


def test_yte_configfile_on_the_command_line_as_snakemake(tmp_path):
    work = write_tree(tmp_path, {
        "c.yaml": YTE_CONFIG,
        "Snakefile": """
            rule a:
                output: "test.out"
                shell: "echo {config[test]} {config[chosen]} > {output}"
        """})
    res = run(SCIFLOW, work, "-c", "1", "--configfile", "c.yaml")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert (work / "test.out").read_text() == "10 True\n"
