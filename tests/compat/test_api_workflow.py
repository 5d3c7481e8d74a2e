"""A workflow in the style of the snakemake-workflows pipelines — ``min_version``,
``validate`` of config and sample sheet from an included rules file, ``lookup``, ``branch``,
``evaluate``, ``collect``, ``flatten``, ``parse_input``/``extract_checksum``, ``Paramspace``,
``workflow.source_path`` — plans with the same jobs per rule as Snakemake's dry run, and
sciflow runs it to the same files."""
from __future__ import annotations

import collections
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from oracle import dry_run_counts, snakemake
from sciflow.dag import build_dag
from sciflow.parse import load_workflow

pytestmark = pytest.mark.snakemake
BIN = Path(sys.executable).parent

FILES = {
    "workflow/Snakefile": '''\
        from snakemake.utils import min_version
        min_version("8.0")
        configfile: "config/config.yaml"
        include: "rules/common.smk"
        rule all:
            input: get_final_output()
        rule trim:
            input: lookup(query="sample == '{sample}'", within=samples, cols="fq")
            output: "results/trimmed/{sample}.fq"
            params: adapters=lookup(dpath="trimming/adapters", within=config, default="none")
            shell: "cat {input} > {output}; echo {params.adapters} >> {output}"
        rule count:
            input:
                fq=branch(lookup(dpath="trimming/activate", within=config),
                          then="results/trimmed/{sample}.fq",
                          otherwise=lookup(query="sample == '{sample}'", within=samples,
                                           cols="fq")),
                sums="data/SHA256SUMS",
            output: "results/counts/{sample}.txt"
            params:
                paired=evaluate("{sample} in ('A', 'C')"),
                checksum=parse_input(input.sums, parser=extract_checksum, file="data/A.fq"),
                helper=workflow.source_path("scripts/helper.py"),
            shell: "wc -l < {input.fq} > {output}"
        rule simulate:
            output: f"results/sim/{paramspace.wildcard_pattern}.txt"
            params: sim=paramspace.instance
            shell: "echo {params.sim[alpha]} > {output}"
        rule merge:
            input: collect("results/counts/{s.sample}.txt", s=lookup(query="condition != 'x'", within=samples))
            output: "results/merged.txt"
            shell: "cat {input} > {output}"
        ''',
    "workflow/rules/common.smk": '''\
        import pandas as pd
        from snakemake.utils import validate, Paramspace
        validate(config, schema="../schemas/config.schema.yaml")
        samples = pd.read_csv(config["samples"], sep="\\t", dtype=str).set_index("sample", drop=False)
        validate(samples, schema="../schemas/samples.schema.yaml")
        paramspace = Paramspace(pd.DataFrame({"alpha": [1, 2, 3]}))

        def get_final_output():
            wanted = collect("results/counts/{sample}.txt", sample=samples["sample"])
            wanted += flatten([["results/merged.txt"], [expand("results/sim/{p}.txt", p=paramspace.instance_patterns)]])
            return wanted
        ''',
    "workflow/schemas/config.schema.yaml": '''\
        $schema: "http://json-schema.org/draft-07/schema#"
        type: object
        properties:
          samples: {type: string}
          trimming:
            type: object
            properties:
              activate: {type: boolean, default: true}
        required: [samples]
        ''',
    "workflow/schemas/samples.schema.yaml": '''\
        $schema: "http://json-schema.org/draft-07/schema#"
        type: object
        properties:
          sample: {type: string}
          condition: {type: string}
          fq: {type: string}
        required: [sample, condition, fq]
        ''',
    "workflow/scripts/helper.py": "",
    "config/config.yaml": "samples: config/samples.tsv\ntrimming: {adapters: ACGT}\n",
    "config/samples.tsv": "sample\tcondition\tfq\nA\tx\tdata/A.fq\nB\ty\tdata/B.fq\nC\ty\tdata/C.fq\n",
    "data/A.fq": "a\n", "data/B.fq": "b\nb\n", "data/C.fq": "c\nc\nc\n",
    "data/SHA256SUMS": "0123abc  data/A.fq\n",
}


def materialise(root: Path) -> Path:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_same_jobs_per_rule_as_snakemake(tmp_path, monkeypatch):
    ours, theirs = materialise(tmp_path / "sciflow"), materialise(tmp_path / "snakemake")
    expected = dry_run_counts(theirs, "--quiet", "rules", timeout=180)
    monkeypatch.chdir(ours)
    wf = load_workflow(os.path.join("workflow", "Snakefile"))
    dag = build_dag(wf)
    assert dict(collections.Counter(j.rule.name for j in dag.jobs)) == expected
    assert expected == {"all": 1, "trim": 3, "count": 3, "simulate": 3, "merge": 1}
    (count_a,) = [j for j in dag.jobs if j.rule.name == "count" and j.wildcards["sample"] == "A"]
    assert list(count_a.input)[0] == "results/trimmed/A.fq"
    assert count_a.params.checksum == "0123abc" and count_a.params.paired is True


@pytest.mark.slow
def test_same_files_as_snakemake(tmp_path):
    ours, theirs = materialise(tmp_path / "sciflow"), materialise(tmp_path / "snakemake")
    res = subprocess.run([str(BIN / "sciflow"), "run", "-c", "2"], cwd=ours,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    snakemake(theirs, "-c", "2", "-q")
    files = sorted(str(p.relative_to(theirs)) for p in (theirs / "results").rglob("*")
                   if p.is_file())
    assert len(files) == 10
    for name in files:
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
