snakemake = globals()["snakemake"]  # set by the script preamble (sciflow's and Snakemake's); named for linters
# Uses the `snakemake` object exactly as a Snakemake script would.
total = 0
for line in open(snakemake.input.table):
    name, value = line.strip().split(",")
    total += int(value)
with open(snakemake.output[0], "w") as out:
    out.write(f"tag={snakemake.wildcards.tag} total={total * snakemake.params.factor}\n")
    out.write(f"threads={snakemake.threads} rule={snakemake.rule}\n")
with open(snakemake.log[0], "w") as log:
    log.write("summarized\n")
