"""Random small workflows (overlapping output patterns, ruleorder, files on disk, rules
feeding on their own outputs) built by sciflow and by Snakemake: the jobs per rule must be
the same, or both must refuse. Slow (one Snakemake run each)."""
from __future__ import annotations

import collections
import os
import random
import subprocess

import pytest

from oracle import job_stats, needs_snakemake, snakemake


pytestmark = [pytest.mark.slow, pytest.mark.snakemake]

DIRS, EXTS = ["a", "b", "c"], ["txt", "csv"]
FORMS = ["{d}/{{s}}.{e}", "{d}/{{s}}_x.{e}", "{d}/pre_{{s}}.{e}", "{d}/{{s}}/{{t}}.{e}"]
KINDS = (("ambiguous", ("Ambiguous",)), ("cyclic", ("Cyclic",)),
         ("periodic", ("periodic", "Periodic")), ("missing", ("MissingInput",)),
         ("unknown", ("No rule to produce", "UnknownTarget", "MissingRule")))


def generate(seed: int) -> tuple[str, list[str]]:
    rng = random.Random(seed)

    def pattern(wildcards: bool = True) -> str:
        d, e = rng.choice(DIRS), rng.choice(EXTS)
        return rng.choice(FORMS).format(d=d, e=e) if wildcards else f"{d}/fixed.{e}"

    def fill(p: str) -> str:
        return p.replace("{s}", rng.choice(["k", "q"])).replace("{t}", "m")

    rules = []
    for i in range(rng.randint(3, 6)):
        out = pattern(rng.random() < 0.85)
        names = ["s", "t"] if "{t}" in out else (["s"] if "{s}" in out else [])
        ins = []
        for _ in range(rng.randint(0, 2)):
            p = pattern()
            need = ["s", "t"] if "{t}" in p else ["s"]
            if all(x in names for x in need):
                ins.append(p)
            elif not names:
                ins.append(p.replace("{s}", "k").replace("{t}", "m"))
        rules.append((f"r{i}", ins, out))
    text = ""
    if rng.random() < 0.3:
        a, b = rng.sample(range(len(rules)), 2)
        text += f"ruleorder: r{a} > r{b}\n"
    files = {fill(p) for _, ins, _ in rules for p in ins if rng.random() < 0.6}
    files |= {fill(pattern()) for _ in range(rng.randint(0, 2))}
    targets = [fill(rng.choice(rules)[2]) for _ in range(2)]
    text += "rule all:\n    input: " + ", ".join(repr(t) for t in targets) + "\n"
    for name, ins, out in rules:
        text += f"rule {name}:\n"
        if ins:
            text += "    input: " + ", ".join(repr(p) for p in ins) + "\n"
        text += f"    output: {out!r}\n    shell: 'touch {{output}}'\n"
    return text, sorted(files)


def kinds_of(text: str) -> set[str]:
    return {kind for kind, words in KINDS if any(w in text for w in words)}


@needs_snakemake
@pytest.mark.parametrize("seed", range(300, 330))
def test_random_workflow_agrees_with_snakemake(seed, tmp_path):
    from sciflow.dag import build_dag
    from sciflow.errors import SciflowError
    from sciflow.parse import load_workflow

    text, files = generate(seed)
    for who in ("ours", "theirs"):
        d = tmp_path / who
        d.mkdir()
        (d / "Snakefile").write_text(text)
        for f in files:
            (d / f).parent.mkdir(parents=True, exist_ok=True)
            (d / f).write_text("x")
    try:
        proc = snakemake(tmp_path / "theirs", "-n", "-F", "--quiet", "rules", "--cores", "1",
                         check=False, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.skip("Snakemake explores this workflow for more than a minute")
    old = os.getcwd()
    os.chdir(tmp_path / "ours")
    try:
        dag = build_dag(load_workflow("Snakefile"))
        ours: object = dict(collections.Counter(j.rule.name for j in dag.jobs))
    except SciflowError as err:
        ours = {type(e).__name__ + ": " + str(e) for e in getattr(err, "errors", [err])}
    finally:
        os.chdir(old)
    if proc.returncode == 0:
        assert ours == job_stats(proc.stdout + proc.stderr), text
    else:  # both refuse (which of several problems is listed first may differ)
        assert isinstance(ours, set), text + proc.stderr
        assert kinds_of(" ".join(ours)), ours
