import os

TOOLS = ["bwa", "bowtie"]
USE_EXTRA = True

for tool in TOOLS:
    rule:
        name: f"align_{tool}"
        input: "reads/{sample}.fq"
        output: f"aligned/{tool}/{{sample}}.bam"
        shell: f"{tool} {{input}} > {{output}}"

if USE_EXTRA:
    rule extra:
        output: "extra.txt"
        shell: "echo extra > {output}"
else:
    rule extra:
        output: "extra_off.txt"
        shell: "echo off > {output}"


def make_rules(names):
    for n in names:
        rule:
            name: "gen_" + n
            output: n + ".out"
            shell: "touch {output}"


make_rules(["x", "y"])

rule merge:
    input:
        [f"aligned/{t}/s1.bam" for t in TOOLS],
    output:
        os.path.join("merged", "all.bam")
    shell:
        """
        cat {input} \
            > {output}
        """
