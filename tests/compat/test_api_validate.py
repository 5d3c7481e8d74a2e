"""``snakemake.utils.validate`` as published workflows use it: schema path relative to the
calling file, YAML or JSON schema, ``$ref`` relative to the schema, defaults filled in, a
pandas table checked row by row, and a clear error for bad config. Where cheap, the result is
compared with Snakemake's own ``validate`` (the dev venv has it)."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from sciflow.compat.snakemake.utils import validate
from sciflow.errors import WorkflowError
from sciflow.parse import load_workflow

SCIFLOW = Path(sys.executable).with_name("sciflow")

CONFIG_SCHEMA = textwrap.dedent('''\
    $schema: "http://json-schema.org/draft-07/schema#"
    description: snakemake-workflows style config schema
    type: object
    properties:
      samples: {type: string}
      ref:
        type: object
        properties:
          species: {type: string}
          release: {type: integer, default: 110}
          build: {type: string, default: GRCh38}
        required: [species]
      params:
        type: object
        default: {}
        properties:
          trim: {type: boolean, default: false}
      threads: {type: integer, minimum: 1, default: 4}
    required: [samples, ref]
    ''')

SAMPLES_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "sample": {"$ref": "defs/common.json#/definitions/name"},
        "condition": {"type": "string"},
        "replicate": {"type": "integer", "default": 1},
        "platform": {"type": "string", "default": "ILLUMINA"},
    },
    "required": ["sample", "condition"],
}

COMMON_DEFS = {"$schema": "https://json-schema.org/draft/2020-12/schema", "definitions": {"name": {"type": "string", "pattern": "^[A-Za-z0-9_]+$"}}}


def layout(root: Path, config: str = "samples: config/samples.tsv\nref: {species: homo_sapiens}\n",
           samples: str = "sample\tcondition\treplicate\nA\ttreated\t2\nB\tuntreated\t\n") -> Path:
    """The snakemake-workflows layout: workflow/Snakefile includes rules/common.smk, which
    validates against ../schemas/*.yaml|json; run from the project root."""
    wf = root / "workflow"
    (wf / "rules").mkdir(parents=True)
    (wf / "schemas" / "defs").mkdir(parents=True)
    (root / "config").mkdir()
    (wf / "Snakefile").write_text(textwrap.dedent('''\
        configfile: "config/config.yaml"
        include: "rules/common.smk"
        rule all:
            input: expand("results/{s}.txt", s=samples["sample"])
        rule one:
            output: "results/{s}.txt"
            params: p=lambda w: samples.loc[w.s, "platform"]
            shell: "echo {params.p} > {output}"
        '''))
    (wf / "rules" / "common.smk").write_text(textwrap.dedent('''\
        import pandas as pd
        from snakemake.utils import validate
        validate(config, schema="../schemas/config.schema.yaml")
        samples = pd.read_csv(config["samples"], sep="\\t", dtype={"sample": str}).set_index("sample", drop=False)
        validate(samples, schema="../schemas/samples.schema.json")
        '''))
    (wf / "schemas" / "config.schema.yaml").write_text(CONFIG_SCHEMA)
    (wf / "schemas" / "samples.schema.json").write_text(json.dumps(SAMPLES_SCHEMA))
    (wf / "schemas" / "defs" / "common.json").write_text(json.dumps(COMMON_DEFS))
    (root / "config" / "config.yaml").write_text(config)
    (root / "config" / "samples.tsv").write_text(samples)
    return wf / "Snakefile"


def test_workflow_validates_config_and_samples_from_an_included_file(tmp_path, monkeypatch):
    snakefile = layout(tmp_path)
    monkeypatch.chdir(tmp_path)
    wf = load_workflow(os.path.relpath(snakefile))
    assert wf.config["ref"] == {"species": "homo_sapiens", "release": 110, "build": "GRCh38"}
    assert wf.config["threads"] == 4 and wf.config["params"] == {"trim": False}
    samples = wf.globals["samples"]
    assert list(samples["platform"]) == ["ILLUMINA", "ILLUMINA"]  # new column from defaults
    assert list(samples["replicate"]) == [2, 1]  # the empty cell filled


def test_defaults_and_table_fill_match_snakemake(tmp_path):
    """Differential: the same data through Snakemake's validate and ours."""
    from snakemake.utils import validate as snakemake_validate

    layout(tmp_path)
    schemas = tmp_path / "workflow" / "schemas"
    config = {"samples": "x.tsv", "ref": {"species": "mus_musculus", "release": 100}}
    ours, theirs = copy.deepcopy(config), copy.deepcopy(config)
    validate(ours, str(schemas / "config.schema.yaml"))
    snakemake_validate(theirs, str(schemas / "config.schema.yaml"))
    assert ours == theirs and ours != config

    table = pd.read_csv(tmp_path / "config" / "samples.tsv", sep="\t")
    ours_t, theirs_t = table.copy(), table.copy()
    validate(ours_t, str(schemas / "samples.schema.json"))
    snakemake_validate(theirs_t, str(schemas / "samples.schema.json"))
    pd.testing.assert_frame_equal(ours_t, theirs_t)

    plain = copy.deepcopy(config)  # set_default=False leaves the data alone
    validate(plain, str(schemas / "config.schema.yaml"), set_default=False)
    assert plain == config


def test_bad_config_names_schema_and_key_at_the_calling_line(tmp_path):
    layout(tmp_path, config="samples: config/samples.tsv\nref: {species: homo_sapiens, "
                            "release: latest}\n")
    res = subprocess.run([str(SCIFLOW), "run", "-n", "-s", "workflow/Snakefile"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "Traceback" not in out
    assert "rules/common.smk:3:" in out  # the validate() call, in the included file
    assert "config.schema.yaml" in out and "ref/release" in out and "integer" in out


def test_bad_table_row_names_the_row_and_column(tmp_path, monkeypatch):
    snakefile = layout(tmp_path, samples="sample\tcondition\nA\ttreated\nB-1\tuntreated\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkflowError) as info:
        load_workflow(os.path.relpath(snakefile))
    err = info.value
    assert "row 1" in err.message and "'sample'" in err.message
    assert "samples.schema.json" in err.message and "pattern" in err.message
    assert err.loc.path.endswith("common.smk") and err.loc.line == 5


def test_missing_required_key_and_missing_schema(tmp_path):
    layout(tmp_path)
    schemas = tmp_path / "workflow" / "schemas"
    with pytest.raises(WorkflowError, match="'species' is a required property"):
        validate({"samples": "x", "ref": {}}, str(schemas / "config.schema.yaml"))
    with pytest.raises(WorkflowError, match="cannot read schema .*nope.yaml"):
        validate({}, str(schemas / "nope.yaml"))


def test_skip_validation_of_the_workflow_object_turns_validate_off(tmp_path, monkeypatch):
    """The hook for ``module ...: skip_validation: True`` (set by the module loader)."""
    (tmp_path / "schema.yaml").write_text("type: object\nrequired: [needed]\n")
    (tmp_path / "Snakefile").write_text(
        "from snakemake.utils import validate\nworkflow.skip_validation = True\n"
        "validate(config, 'schema.yaml')\nworkflow.skip_validation = False\n"
        "validate(config, 'schema.yaml')\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkflowError) as info:
        load_workflow("Snakefile")
    assert info.value.loc.line == 5 and "'needed' is a required property" in info.value.message
