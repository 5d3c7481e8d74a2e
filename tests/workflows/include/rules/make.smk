rule word:
    output: "words/{w}.txt"
    params: n=len(WORDS)
    shell: "echo {wildcards.w} of {params.n} > {output}"
