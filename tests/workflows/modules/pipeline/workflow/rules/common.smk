LABEL = "pipeline-label"

rule notes:
    input: expand("data/{s}.txt", s=config["samples"])
    output: "results/notes.txt"
    run:
        with open(output[0], "w") as out:
            out.write(f"{LABEL} {len(input)} inputs: {' '.join(input)}\n")
