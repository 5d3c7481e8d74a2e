rule qc:
    input: expand(rules.align.output[0], s=config["samples"])
    output: f"qc/{config['name']}.html"
    shell: "qc {input} > {output}"
