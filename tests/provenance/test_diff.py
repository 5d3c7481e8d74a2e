"""`sciflow prov diff RUN_A RUN_B` names what changed (an edited raw input, a config value, the
input set of a job) and, for each changed output, the chain of causes upstream."""
import json
import textwrap

import sciflow.engine as engine
import sciflow.provenance as sp
from sciflow.cli import main
from sciflow.provenance.diff import diff

SNAKEFILE = textwrap.dedent('''
    configfile: "config.yaml"

    rule all:
        input: "report.txt"

    rule stats:
        input: "data/{s}.txt"
        output: "stats/{s}.txt"
        params: scale=config["scale"]
        shell: "echo $(( $(cat {input}) * {params.scale} )) > {output}"

    rule combine:
        input: expand("stats/{s}.txt", s=config["samples"])
        output: "combined.txt"
        shell: "cat {input} > {output}"

    rule report:
        input: "combined.txt"
        output: "report.txt"
        shell: "wc -l < {input} > {output}; cat {input} >> {output}"
''')


def run(d):
    summary = engine.run(engine.RunOptions(directory=str(d), cores=1, command_line=["sciflow", "run"]))
    assert summary.ok
    return summary.run.run_id


def test_diff_names_raw_input_config_value_input_set_and_causes(tmp_path, capsys):
    d = tmp_path / "wf"
    (d / "data").mkdir(parents=True)
    (d / "Snakefile").write_text(SNAKEFILE)
    (d / "config.yaml").write_text("scale: 2\nsamples: [a, b]\n")
    for i, s in enumerate("abc"):
        (d / "data" / f"{s}.txt").write_text(f"{i + 1}\n")
    first = run(d)
    (d / "data/a.txt").write_text("10\n")                                 # a raw input edited
    (d / "config.yaml").write_text("scale: 3\nsamples: [a, b, c]\n")     # two config values
    second = run(d)
    rows = diff(sp.open(d), first, second)
    by = {(r["kind"], r["what"]): r for r in rows}
    assert ("raw-input", "data/a.txt") in by and ("raw-input", "data/b.txt") not in by
    assert by[("raw-input", "data/c.txt")]["run1"] is None  # read by run 2 only
    assert ("source", "config.yaml") in by
    assert (by[("config", "scale")]["run1"], by[("config", "scale")]["run2"]) == ("2", "3")
    assert ("config", "samples") in by
    param = by[("param", "stats[s=b].scale")]
    assert (param["run1"], param["run2"]) == ("2", "3") and param["cause"] == "config scale: 2 → 3"
    inputs = by[("inputs", "combine")]
    assert (inputs["run1"], inputs["run2"]) == (2, 3) and "+stats/c.txt" in inputs["cause"]
    # outputs, each with its causes: stats/a.txt by the raw input and the param; report.txt
    # through combined.txt, back to both
    a = by[("output", "stats/a.txt")]["cause"]
    assert "raw input data/a.txt changed" in a and "param scale 2 → 3 (from config scale" in a
    report = by[("output", "report.txt")]["cause"]
    assert report.startswith("combined.txt ← ") and "inputs 2 → 3" in report
    assert "stats/a.txt ← " in report and "raw input data/a.txt changed" in report
    assert "Input files updated by another job" in by[("output", "report.txt")]["reasons"]
    # every reason the planner found is recorded, not only the first kind
    reasons = by[("output", "stats/a.txt")]["reasons"]
    assert "Updated input files: data/a.txt" in reasons and "Params have changed" in reasons
    # the CLI
    code = main(["prov", "diff", first, second, "-d", str(d), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and {"raw-input", "config", "param", "inputs", "output"} <= {r["kind"] for r in out}
