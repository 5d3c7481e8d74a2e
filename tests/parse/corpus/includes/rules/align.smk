# Included rules see the same namespace: config and earlier names.
rule align:
    input:
        "reads/{s}.fq",
        ref=config["ref"],
    output: "aligned/{s}.bam"
    threads: config.get("threads", 1)
    shell: "aligner -t {threads} {input.ref} {input} > {output}"

include: "qc.smk"
