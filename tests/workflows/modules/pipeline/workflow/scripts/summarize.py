snakemake = globals()["snakemake"]  # set by the script preamble (sciflow's and Snakemake's); named for linters
with open(snakemake.input[0]) as f:
    n = f.read().strip()
with open(snakemake.output[0], "w") as out:
    out.write(f"{snakemake.wildcards.s} {n} {snakemake.params.greeting} {snakemake.params.folder}\n")
