"""``script:`` files get the ``snakemake`` object with Snakemake's attributes and access
styles, and may import the ``snakemake`` API (``snakemake.shell``, ``snakemake.utils``, ...).
Differential: the same workflow run by Snakemake and by sciflow writes the same files."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from oracle import snakemake
BIN = Path(sys.executable).parent

SNAKEFILE = textwrap.dedent('''\
    configfile: "config.yaml"
    rule all:
        input: expand("out/{s}.json", s=["a", "bb"])
    rule prep:
        output: "in/{s}.csv"
        shell: "echo {wildcards.s},1 > {output}"
    rule use:
        input: "in/{s}.csv", extra="extra.txt"
        output: "out/{s}.json", name="out/{s}.shell.txt"
        params: "first", flag="yes", number=lambda w: len(w.s) + 1
        log: "logs/{s}.log"
        threads: 2
        resources: mem_mb=100
        script: "scripts/use.py"
    ''')

SCRIPT = textwrap.dedent('''\
    import json, os
    from snakemake.shell import shell
    from snakemake.utils import makedirs
    from snakemake.logging import logger
    from snakemake.io import expand
    sm = snakemake
    makedirs(os.path.dirname(sm.output[0]))
    logger.info("running %s", sm.rule)
    record = {
        "input0": sm.input[0], "input_extra": sm.input.extra, "input_list": list(sm.input),
        "input_str": str(sm.input), "input_keys": list(sm.input.keys()),
        "output0": sm.output[0], "output_name": sm.output.name, "n_output": len(sm.output),
        "params0": sm.params[0], "params_flag": sm.params.flag, "params1": sm.params[1],
        "params_number": sm.params.number, "params_get": sm.params.get("flag"),
        "wildcards": sm.wildcards.s, "wildcards0": sm.wildcards[0],
        "wildcards_dict": dict(sm.wildcards.items()), "threads": sm.threads,
        "mem_mb": sm.resources.mem_mb, "mem_mb_item": sm.resources["mem_mb"],
        "log0": sm.log[0], "log_str": str(sm.log), "config": sm.config["answer"],
        "rule": sm.rule, "bench_iteration": sm.bench_iteration,
        "scriptdir": os.path.basename(sm.scriptdir), "file": os.path.basename(__file__),
        "log_fmt": sm.log_fmt_shell(stdout=False, append=True),
        "expand": expand("{x}.{y}", x=sm.wildcards.s, y=[1, 2]),
        "input_text": open(sm.input[0]).read(),
    }
    with open(sm.output[0], "w") as fh:
        json.dump(record, fh, indent=1, sort_keys=True)
    shell("echo {snakemake.wildcards.s} {snakemake.params.flag} > {snakemake.output.name}")
    with open(f"api_{sm.wildcards.s}.txt", "w") as fh:  # whose API answered (not compared)
        fh.write(shell.__module__ + " " + makedirs.__module__)
    ''')


def make_workflow(folder: Path) -> Path:
    (folder / "scripts").mkdir(parents=True)
    (folder / "Snakefile").write_text(SNAKEFILE)
    (folder / "config.yaml").write_text("answer: 42\n")
    (folder / "extra.txt").write_text("extra\n")
    (folder / "scripts" / "use.py").write_text(SCRIPT)
    return folder


def produced(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for sub in ("out", "in") for p in sorted((folder / sub).rglob("*")) if p.is_file()}


@pytest.mark.snakemake
def test_script_job_writes_what_snakemake_writes(tmp_path):
    ours, theirs = make_workflow(tmp_path / "sciflow"), make_workflow(tmp_path / "snakemake")
    res = subprocess.run([str(BIN / "sciflow"), "run", "-c", "2"], cwd=ours,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    snakemake(theirs, "-c", "2")
    assert produced(ours) == produced(theirs)
    assert len(produced(ours)) == 6
    assert (ours / "api_bb.txt").read_text() == \
        "sciflow.execute.shell sciflow.compat.snakemake.utils"  # even with Snakemake installed
    assert (theirs / "api_bb.txt").read_text().startswith("snakemake.shell")


def test_script_imports_the_snakemake_object_and_a_helper_gets_the_real_snakemake(tmp_path):
    """``from snakemake.script import snakemake`` (Snakemake 9 itself raises ImportError
    there) gives the job's object; a helper module the script imports is ordinary code, and
    its ``import snakemake`` is the real Snakemake installed in this venv, not sciflow's."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "Snakefile").write_text(textwrap.dedent('''\
        rule a:
            input: "x.txt"
            output: "o.txt"
            params: k=3
            script: "scripts/s.py"
        '''))
    (tmp_path / "x.txt").write_text("x")
    (tmp_path / "scripts" / "s.py").write_text(textwrap.dedent('''\
        from snakemake.script import snakemake as imported
        import helper
        assert imported is snakemake
        with open(imported.output[0], "w") as fh:
            fh.write(f"{imported.params.k} {imported.input[0]} {helper.which()}")
        '''))
    (tmp_path / "scripts" / "helper.py").write_text(
        "def which():\n    import snakemake\n    return snakemake.__name__\n")
    res = subprocess.run([str(BIN / "sciflow"), "run", "-c", "1"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert (tmp_path / "o.txt").read_text() == "3 x.txt snakemake"


def test_notebook_job_imports_the_snakemake_api(tmp_path):
    """A ``notebook:`` kernel gets the same API as a script (object, shell, package)."""
    import nbformat

    (tmp_path / "Snakefile").write_text(textwrap.dedent('''\
        rule a:
            input: "x.txt"
            output: "o.txt"
            params: k=3
            notebook: "nb.py.ipynb"
        '''))
    (tmp_path / "x.txt").write_text("x")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent('''\
        from snakemake.script import snakemake as sm
        from snakemake.shell import shell
        import snakemake.utils as su
        shell("printf '{sm.params.k} {sm.input[0]} ' > {sm.output[0]}")
        open(sm.output[0], "a").write(su.__name__)
        '''))]
    nbformat.write(nb, str(tmp_path / "nb.py.ipynb"))
    res = subprocess.run([str(BIN / "sciflow"), "run", "-c", "1"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert (tmp_path / "o.txt").read_text() == "3 x.txt sciflow.compat.snakemake.utils"
