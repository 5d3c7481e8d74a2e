"""What shaped each job, recorded deterministically: software found from the rule's text (the
same on every job of a rule, whatever the worker), shell programs with path/version/sha256,
the commands a run: block's shell() ran, the rule's code hash, the workflow/config files used
by every job, parameters linked to their config keys, the user and researcher per job."""
import shutil
import textwrap
from pathlib import Path

from helpers import sha256

import sciflow.engine as engine
import sciflow.provenance as sp
from sciflow.provenance.shapes import validate

SNAKEFILE = textwrap.dedent('''
    configfile: "config.yaml"
    SAMPLES = ["a", "b", "c", "d"]

    rule all:
        input: expand("stats/{s}.txt", s=SAMPLES), "report.txt"

    rule first:
        output: "first.txt"
        run:
            import numpy
            with open(output[0], "w") as fh:
                fh.write(str(numpy.zeros(2).sum()))

    rule stats:
        input: "data/{s}.txt", "first.txt"
        output: "stats/{s}.txt"
        params: scale=config["scale"], label=lambda wildcards: config["labels"]["prefix"] + wildcards.s
        run:
            import numpy
            n = numpy.array([float(x) for x in open(input[0]).read().split()]).sum()
            shell("echo {params.label} " + str(n * params.scale) + " > {output}")

    rule report:
        input: expand("stats/{s}.txt", s=SAMPLES)
        output: "report.txt"
        shell: "cat {input} | awk '{{ print $1, $2 }}' | sed 's/^/row /' > {output}"
''')


def make(tmp_path):
    d = tmp_path / "wf"
    (d / "data").mkdir(parents=True)
    (d / "Snakefile").write_text(SNAKEFILE)
    (d / "config.yaml").write_text("scale: 2\nlabels:\n  prefix: s-\n")
    for i, s in enumerate("abcd"):
        (d / "data" / f"{s}.txt").write_text(f"{i} 1\n")
    return d


def run(d, **kw):
    summary = engine.run(engine.RunOptions(directory=str(d), cores=2,
                                           command_line=["sciflow", "run"], **kw))
    assert summary.ok
    return summary.run.run_id


def software_by_job(p, rule):
    df = p.query(f"SELECT DISTINCT ?job ?name ?version WHERE {{ ?job sf:ruleName '{rule}' ;"
                 f" prov:wasAssociatedWith ?ag . ?ag a prov:SoftwareAgent ; sf:name ?name ;"
                 f" sf:version ?version }}")
    out = {}
    for r in df.itertuples():
        out.setdefault(r.job, set()).add((r.name, r.version))
    return out


def test_what_shaped_each_job(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIFLOW_ORCID", "0000-0002-1825-0097")
    d = make(tmp_path)
    rid = run(d)
    p = sp.open(d)
    # software: identical for the 4 stats jobs, whichever worker ran them and whatever it had
    # imported before (rule first imported numpy on a worker already)
    per_job = software_by_job(p, "stats")
    assert len(per_job) == 4 and len({frozenset(v) for v in per_job.values()}) == 1
    names = {n for n, _ in next(iter(per_job.values()))}
    assert {"numpy", "python"} <= names
    import numpy
    assert ("numpy", numpy.__version__) in next(iter(per_job.values()))
    # the shell programs of the report job, resolved: path, sha256, and a version line
    progs = p.query("SELECT DISTINCT ?name ?path ?sha ?version WHERE { ?job sf:ruleName 'report' ;"
                    " prov:wasAssociatedWith ?ag . ?ag sf:softwareKind 'program' ; sf:name ?name ;"
                    " sf:executablePath ?path ; sf:sha256 ?sha ; sf:version ?version }")
    got = {r.name: r for r in progs.itertuples()}
    assert set(got) == {"cat", "awk", "sed"}
    for name, r in got.items():
        assert r.path == shutil.which(name) and r.sha == sha256(Path(r.path).resolve()), name
    assert got["sed"].version != "unknown" and "sed" in got["sed"].version.lower()
    # the operating system, on every job
    assert p.query("ASK { ?job sf:ruleName 'report' ; prov:wasAssociatedWith ?os ."
                   " ?os sf:softwareKind 'os' ; sf:version ?v }")
    # a run: job's shell() command as it ran, and the hash of the rule's code
    cmds = p.query("SELECT ?s ?cmd ?code WHERE { ?job sf:ruleName 'stats' ; sf:wildcards ?w ;"
                   " sf:shellCommand ?cmd ; sf:codeSha256 ?code . BIND(?w AS ?s) }")
    assert len(cmds) == 4 and cmds.code.nunique() == 1
    assert any(c == "echo s-a 2.0 > stats/a.txt" for c in cmds.cmd), list(cmds.cmd)
    # the workflow file and the config file: entities with sha256, used by every job
    for path in ("Snakefile", "config.yaml"):
        users = p.query(f"SELECT DISTINCT ?job WHERE {{ ?f sf:path '{path}' ; sf:sha256 '{sha256(d / path)}' ."
                        f" ?job a sf:Job ; prov:used ?f }}")
        assert len(users) == 4 + 1 + 1 + 1, path  # stats x4, first, report, all
    # a walk from an output reaches the config file through the parameter it shaped
    assert p.query("ASK { ?out sf:path 'stats/b.txt' ; prov:wasGeneratedBy ?job . ?job prov:used ?par ."
                   " ?par a sf:Parameter ; sf:name 'label' ; sf:configKey 'labels.prefix' ;"
                   " prov:wasDerivedFrom ?cv . ?cv sf:key 'labels.prefix' ; prov:value 's-' ;"
                   " prov:wasDerivedFrom ?cf . ?cf sf:path 'config.yaml' }")
    assert p.query("ASK { ?par a sf:Parameter ; sf:name 'scale' ; sf:configKey 'scale' }")
    # the user and the researcher, each associated with every job in a role
    assoc = p.query("SELECT DISTINCT ?job ?role ?agent WHERE { ?job a sf:Job ; prov:qualifiedAssociation ?a ."
                    " ?a prov:agent ?agent ; prov:hadRole/rdfs:label ?role . ?agent a prov:Person }")
    assert set(assoc.role) == {"operator", "researcher"} and len(assoc) == 2 * 7
    assert "https://orcid.org/0000-0002-1825-0097" in set(assoc.agent)
    assert all(r.conforms for r in validate(p, [rid])), [r.text for r in validate(p, [rid])]
