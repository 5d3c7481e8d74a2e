"""Tricky but valid syntax: accepted by Snakemake's own parser, so sciflow must accept it too
(parse + compile to Python, without running it)."""
from __future__ import annotations

import pytest

from sciflow.compile import compile_parsed
from sciflow.syntax import parse_text

VALID = {
    "comments_everywhere": 'rule a:  # c\n    # c2\n    input:  # c3\n        "a",  # c4\n'
                           '    output: "b"  # c5\n',
    "tabs": 'rule a:\n\tinput: "a"\n\toutput: "b"\n\tshell: "x"\n',
    "crlf": 'rule a:\r\n    input: "a"\r\n    output:\r\n        "b",\r\n    shell: "x"\r\n',
    "no_final_newline": 'rule a:\n    output: "b"',
    "dict_literal_with_keyword_keys": 'input = 1\nd = {\n    "a": 1,\n    input: 2,\n}\n'
                                      'rule a:\n    output: "b"\n',
    "backslash_continuations": 'x = 1 + \\\n    2\nrule a:\n    output: \\\n        "b"\n',
    "walrus_and_nesting": 'if (n := 3) > 2:\n    for i in range(n):\n        rule:\n'
                          '            name: f"r{i}"\n            output: f"{i}.txt"\n',
    "class_with_annotations": 'class C:\n    x: int = 3\n    def f(self):\n        return 1\n'
                              'rule a:\n    output: str(C().f())\n',
    "fstrings": 'S = "s"\nrule a:\n    output: f"{S}_{{w}}.txt"\n    shell: f"echo {S} > {{output}}"\n',
    "inline_run": 'rule a:\n    output: "b"\n    run: print(1)\n',
    "multiline_lambda": 'rule a:\n    output: "b"\n    params:\n        x=lambda wildcards, input: (\n'
                        '            1\n        ),\n',
    "hash_in_strings": 'rule a:\n    output: "b#c"  # real comment\n    shell: "echo \'#\' > {output}"\n',
    "multiline_docstring": 'rule a:\n    """line1\n    line2"""\n    output: "b"\n',
    "triple_quoted_shell": 'rule a:\n    output: "b"\n    shell:\n        """\n'
                           '        awk \'{{print $1}}\' > {output}\n        """\n',
    "empty_rule_and_values": 'rule a:\nrule b:\n    input:\n    output: "x"\n',
    "keyword_in_if": 'if False:\n\n    envvars:\n        "TOKEN",\n\nconfigfile: "c.yaml"\n',
    "run_with_nested_blocks": 'rule a:\n    output: "b"\n    run:\n        for x in [1]:\n'
                              '            if x:\n                print(x)\n        else:\n'
                              '            pass\n',
    "handlers": 'onstart:\n    print(1)\nonsuccess:\n    print(2)\nonerror:\n    print(log)\n',
    "use_rule": 'rule a:\n    output: "a"\n    shell: "x"\nuse rule a as b with:\n    output: "b"\n',
    "checkpoint_and_localrules": 'checkpoint c:\n    output: directory("d")\n    shell: "x"\n'
                                 'localrules: c\nruleorder: c > c\n',
    "wildcard_constraints": 'wildcard_constraints:\n    s="[a-z]+",\nrule a:\n    output: "{s}"\n'
                            '    wildcard_constraints:\n        s="[a-z]"\n    shell: "x"\n',
    "string_prefixes": 'rule a:\n    output: rb"x".decode(), Rf"y", u"z", br\'w\'.decode()\n',
}


def _snakemake_accepts(path: str) -> bool:
    parser = pytest.importorskip("snakemake.parser")

    class Source:
        def get_path_or_uri(self, secret_free=True):
            return path

    class Cache:
        def open(self, source):
            return open(path, newline="")

    class Workflow:
        sourcecache = Cache()

    code, _ = parser.parse(Source(), Workflow(), {})
    compile(code, path, "exec")
    return True


@pytest.mark.snakemake
@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_for_snakemake_and_sciflow(tmp_path, name):
    path = tmp_path / f"{name}.smk"
    path.write_text(VALID[name], newline="")
    assert _snakemake_accepts(str(path))
    compiled = compile_parsed(parse_text(path.read_bytes().decode(), str(path)), "t")
    assert compiled.problems == []
    compiled.to_code(str(path))
