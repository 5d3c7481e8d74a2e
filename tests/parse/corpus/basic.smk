# A typical small workflow: comments, named items, trailing commas, multi-line values.
SAMPLES = ["a", "b", "c"]  # the samples
REF = "ref/genome.fa"


rule all:
    """Everything the workflow makes."""
    input:
        expand("counts/{sample}.tsv", sample=SAMPLES),  # per sample
        # a comment between items
        "report/summary.txt",
    default_target: True


rule count:
    input:
        reads="data/{sample}.fastq",
        ref=REF,
    output:
        "counts/{sample}.tsv",
    params:
        k=21,
        extra="--fast",
    threads: 4
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        "logs/count/{sample}.log",
    benchmark:
        "bench/count/{sample}.tsv"
    message:
        "Counting {wildcards.sample}"
    priority: 10
    retries: 2
    group: "counting"
    conda:
        "envs/count.yaml"
    container:
        "docker://ubuntu:22.04"
    shell:
        "count --k {params.k} {params.extra} -t {threads} "
        "{input.reads} > {output} 2> {log}"


rule summary:
    input: expand("counts/{sample}.tsv", sample=SAMPLES)
    output: "report/summary.txt"
    localrule: True
    shell: "cat {input} > {output}"
