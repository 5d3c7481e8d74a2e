# Shapes seen in published workflows: pathlib outputs, long docstrings, shell scripts with
# line continuations and awk braces, handlers calling shell, keywords inside if blocks.
from pathlib import Path

RESULTS = Path("results")
ASSEMBLIES = ["asm1", "asm2"]
settings = {"assemble": {"min_len": 1500, "extra": ""}, "use_token": False}

container: "docker://condaforge/mambaforge"


if settings["use_token"]:

    envvars:
        "SOME_TOKEN",


def double_ram(gb):
    return 2 * gb * 1024


def forwards_of(wildcards):
    return [f"reads/{wildcards.assembly_id}_{i}_1.fq.gz" for i in range(2)]


rule assemble_one:
    """Assemble one sample, merging all libraries.

    Note: the rm -rf deletes the folder that is created beforehand;
    the assembler refuses to overwrite an existing folder.
    """
    input:
        forwards=forwards_of,
        ref=RESULTS / "ref" / "genome.fa",
    output:
        fasta=RESULTS / "asm" / "{assembly_id}.fa",
        tarball=temp(RESULTS / "asm" / "{assembly_id}.tar.gz"),
    log:
        log=RESULTS / "asm" / "{assembly_id}.log",
    threads: 24
    params:
        min_len=settings["assemble"]["min_len"],
        out_dir=lambda wildcards: RESULTS / "tmp" / wildcards.assembly_id,
    resources:
        mem_mb=double_ram(8),
        runtime=24 * 60,
        attempt_mem=lambda wildcards, attempt: attempt * 1000,
    retries: 5
    shell:
        """
        assembler \
            --threads {threads} \
            --min-len {params.min_len} \
            --out-dir {params.out_dir} \
            -1 {input.forwards} \
        2> {log} 1>&2

        ( seqtk seq {output.fasta} \
        | awk '{{printf(">{wildcards.assembly_id}_%08d\\n%s\\n", NR, $2)}}' \
        ) 2>> {log}
        """


rule assemble_all:
    """Run the assembler over all groups"""
    input:
        [RESULTS / "asm" / f"{assembly_id}.fa" for assembly_id in ASSEMBLIES],


rule summary:
    input:
        expand(
            "results/{date}/contigs/{sample}.fasta",
            zip,
            date=["d1", "d2"],
            sample=["s1", "s2"],
        ),
        "results/extra.csv" if settings["use_token"] else [],
    output:
        touch(
            expand(
                "results/archive/{latest}.archived",
                latest=["d2"],
            )
        ),


onsuccess:
    shell("""
    echo done # a comment inside a shell string
    """)

onerror:
    print("An error occurred")
