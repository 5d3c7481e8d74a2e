rule included_first:
    output: "included.txt"
    shell: "echo included > {output}"

rule included_marked:
    output: "marked.txt"
    default_target: True
    shell: "echo marked > {output}"
