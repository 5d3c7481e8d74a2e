"""Module docstring: most of the language in one file."""
import json

wildcard_constraints:
    sample="[a-z0-9]+",

envvars:
    "HOME"

SAMPLES, = glob_wildcards("nonexistent_dir/{sample}.txt")
SAMPLES = SAMPLES or ["s1", "s2"]
PAIRS = {"s1": "p1", "s2": "p2"}


def reads_of(wildcards):
    return {"r1": f"raw/{wildcards.sample}_1.fq", "r2": f"raw/{wildcards.sample}_2.fq"}


onstart:
    print("starting")

onsuccess:
    print("done")

onerror:
    print("failed", log)

localrules: all, index
ruleorder: trim_special > trim

rule all:
    input:
        expand("trimmed/{sample}_{pair}.fq", zip, sample=SAMPLES, pair=["p1", "p2"]),
        expand("literal/{{sample}}/{x}.txt", x=[1, 2]),
        multiext("ref/genome", ".fa.bwt", ".fa.sa"),


rule index:
    input: ancient("ref/genome.fa")
    output:
        multiext("ref/genome", ".fa.bwt", ".fa.sa"),
    shell: "bwa index {input}"


rule trim:
    input: unpack(reads_of)
    output:
        r1=temp("trimmed/{sample}_1.fq"),
        r2=protected("trimmed/{sample}_2.fq"),
        flag=touch("trimmed/{sample}.done"),
    wildcard_constraints:
        sample="s[0-9]+"
    params:
        pair=lambda wildcards: PAIRS.get(wildcards.sample, "x"),
        opts=json.dumps({"q": 20, "nested": {"a": [1, 2]}}),
    threads: lambda wildcards, attempt: 2 * attempt
    run:
        import shutil
        for src, dst in zip([input.r1, input.r2], [output.r1, output.r2]):
            shutil.copy(src, dst)  # copy
        with open(output.flag, "w") as fh:
            fh.write("ok\n")


rule trim_special:
    input: lambda wildcards: f"raw/{wildcards.sample}.special.fq"
    output: "trimmed/{sample}_{pair}.fq"
    script: "scripts/trim.py"


checkpoint split:
    input: "data/{sample}.txt"
    output: directory("split/{sample}")
    shell: "mkdir -p {output} && split -l 10 {input} {output}/part_"


def gather_parts(wildcards):
    out = checkpoints.split.get(sample=wildcards.sample).output[0]
    return expand(out + "/{part}", part=glob_wildcards(out + "/{part}").part)


rule gather:
    input: gather_parts
    output: "gathered/{sample}.txt"
    notebook: "notebooks/gather.py.ipynb"


rule plot:
    input: rules.index.output[0]
    output: "plots/{sample}.png"
    log: stdout="logs/{sample}.out", stderr="logs/{sample}.err"
    shell: "plot {input} > {output}"


use rule plot as plot2 with:
    output: "plots2/{sample}.png"
