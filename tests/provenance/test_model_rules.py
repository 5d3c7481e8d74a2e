"""Every rule of the provenance model (issue 9, item 1) is checked: a store recorded by the real
engine passes `sciflow prov check` (SHACL shapes + check queries), and breaking one rule at a
time with a SPARQL UPDATE makes `prov check` fail and name what broke.

The store (tests/helpers.py ``model_store``) has a config file and a parameter from a config
key, an included file, a ``script:`` rule, a ``run:`` rule calling ``shell()`` and writing
NetCDF, a shell rule running ``sort``, and a researcher's ORCID, so every rule has something
to hold for."""
from __future__ import annotations

import shutil

import pyoxigraph as ox
import pytest

from helpers import MODEL_ORCID, model_store
from sciflow import layout
from sciflow.cli import main

PREFIXES = """PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX sf: <https://w3id.org/sciflow/ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX provone: <http://purl.dataone.org/provone/2015/01/15/ontology#>
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    return model_store(tmp_path_factory.mktemp("model") / "wf")


def _check(workdir, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["prov", "check", "-d", str(workdir)])
    out = capsys.readouterr()
    return code, out.out + out.err


def _broken(recorded, tmp_path, update: str):
    """A copy of the recorded workdir whose store had ``update`` applied (it must change it)."""
    work = shutil.copytree(recorded, tmp_path / "wf", symlinks=True)
    store = ox.Store(str(layout.prov_store(work)))
    before = set(store)
    store.update(PREFIXES + update)
    changed = set(store) != before
    store.flush()
    del store
    assert changed, "the update matched nothing: the rule under test has nothing recorded"
    return work


def test_the_recorded_store_passes(recorded, capsys):
    code, out = _check(recorded, capsys)
    assert code == 0, out
    assert "SHACL conforms" in out


# (rule, SPARQL UPDATE breaking it, text prov check must print)
BREAKS = [
    # one entity per generation
    ("one generation per entity",
     """INSERT { GRAPH ?g { ?f prov:wasGeneratedBy ?other } } WHERE { GRAPH ?g {
          ?f sf:path "results/sorted.txt" ; prov:wasGeneratedBy ?j .
          ?other a sf:Job ; sf:ruleName "scale" } }""",
     "two-generations"),
    ("version specializes its path-level entity",
     """DELETE { GRAPH ?g { ?f prov:specializationOf ?p } } WHERE { GRAPH ?g {
          ?f sf:path "results/sorted.txt" ; prov:specializationOf ?p } }""",
     "specializationOf"),
    ("a revision is of a version at the same path",
     """INSERT { GRAPH ?g { ?f prov:wasRevisionOf ?raw } } WHERE { GRAPH ?g {
          ?f sf:path "results/sorted.txt" ; prov:wasGeneratedBy ?j .
          ?raw a sf:File ; sf:path "data/words.txt" } }""",
     "a revision must be of a version at the same path"),
    # prov:Location + sf:path
    ("prov:atLocation is a prov:Location",
     """DELETE { GRAPH ?g { ?f prov:atLocation ?l } } INSERT { GRAPH ?g { ?f prov:atLocation "results/sorted.txt" } }
        WHERE { GRAPH ?g { ?f sf:path "results/sorted.txt" ; prov:atLocation ?l } }""",
     "Location"),
    ("the location carries the path",
     """DELETE { GRAPH ?g { ?l sf:path ?p } } WHERE { GRAPH ?g {
          ?f sf:path "results/sorted.txt" ; prov:atLocation ?l . ?l sf:path ?p } }""",
     "a file's prov:Location carries its path"),
    # source files with sha256, used by the jobs they shaped
    ("config file has a sha256",
     """DELETE { GRAPH ?g { ?c sf:sha256 ?s } } WHERE { GRAPH ?g { ?c a sf:ConfigFile ; sf:sha256 ?s } }""",
     "config or script file has its sha256"),
    ("job uses the workflow file",
     """DELETE { GRAPH ?g { ?j prov:used ?w . ?j prov:qualifiedUsage ?u } } WHERE { GRAPH ?g {
          ?j a sf:Job ; sf:ruleName "listing" ; prov:used ?w ; prov:qualifiedUsage ?u .
          ?w a sf:WorkflowFile . ?u prov:entity ?w } }""",
     "WorkflowFile"),
    ("job uses the included files",
     """DELETE { GRAPH ?g { ?j prov:used ?w . ?j prov:qualifiedUsage ?u } } WHERE { GRAPH ?g {
          ?j a sf:Job ; sf:ruleName "listing" ; prov:used ?w ; prov:qualifiedUsage ?u .
          ?w a sf:IncludedFile . ?u prov:entity ?w } }""",
     "an included or config file used by the run is not used by the job"),
    ("job uses the config files",
     """DELETE { GRAPH ?g { ?j prov:used ?w . ?j prov:qualifiedUsage ?u } } WHERE { GRAPH ?g {
          ?j a sf:Job ; sf:ruleName "scale" ; prov:used ?w ; prov:qualifiedUsage ?u .
          ?w a sf:ConfigFile . ?u prov:entity ?w } }""",
     "an included or config file used by the run is not used by the job"),
    ("job uses its script file",
     """DELETE { GRAPH ?g { ?j prov:used ?w . ?j prov:qualifiedUsage ?u } } WHERE { GRAPH ?g {
          ?j a sf:Job ; sf:ruleName "by_script" ; prov:used ?w ; prov:qualifiedUsage ?u .
          ?w a sf:ScriptFile . ?u prov:entity ?w } }""",
     "does not use its script file"),
    # parameters linked to config keys
    ("parameter linked to its config value",
     """DELETE { GRAPH ?g { ?p prov:wasDerivedFrom ?cv } } WHERE { GRAPH ?g {
          ?p a sf:Parameter ; sf:configKey "scale.factor" ; prov:wasDerivedFrom ?cv } }""",
     "config key is not linked"),
    ("parameter derived from the value of the key it names",
     """DELETE { GRAPH ?g { ?p sf:configKey ?k } } INSERT { GRAPH ?g { ?p sf:configKey "scale.other" } }
        WHERE { GRAPH ?g { ?p a sf:Parameter ; sf:configKey ?k } }""",
     "a parameter is derived from the config value of a key it does not name"),
    ("config value has its key",
     """DELETE { GRAPH ?g { ?cv sf:key ?k } } WHERE { GRAPH ?g { ?cv a sf:ConfigValue ; sf:key ?k } }""",
     "a config value names its dotted key"),
    # software per job
    ("every job lists the operating system",
     """DELETE { GRAPH ?g { ?j prov:wasAssociatedWith ?os } } WHERE { GRAPH ?g {
          ?j a sf:Job ; sf:ruleName "listing" ; prov:wasAssociatedWith ?os . ?os sf:softwareKind "os" } }""",
     "wasAssociatedWith"),
    ("a job touching NetCDF lists the C libraries",
     """DELETE { GRAPH ?g { ?j prov:wasAssociatedWith ?lib } } WHERE { GRAPH ?g {
          ?j a sf:Job ; sf:ruleName "scale" ; prov:wasAssociatedWith ?lib .
          ?lib sf:softwareKind "library" } }""",
     "lists no C library"),
    ("a program has its sha256",
     """DELETE { GRAPH ?g { ?s sf:sha256 ?h } } WHERE { GRAPH ?g {
          ?s sf:softwareKind "program" ; sf:name "sort" ; sf:sha256 ?h } }""",
     "a program has the sha256 of its executable"),
    ("a program has its absolute path",
     """DELETE { GRAPH ?g { ?s sf:executablePath ?h } } INSERT { GRAPH ?g { ?s sf:executablePath "sort" } }
        WHERE { GRAPH ?g { ?s sf:softwareKind "program" ; sf:name "sort" ; sf:executablePath ?h } }""",
     "a program has the absolute path of its executable"),
    # what ran for run: jobs, the code hash
    ("a run: job calling shell() records the command",
     """DELETE { GRAPH ?g { ?j sf:shellCommand ?c } } WHERE { GRAPH ?g {
          ?j a sf:Job ; sf:ruleName "scale" ; sf:shellCommand ?c } }""",
     "records no sf:shellCommand"),
    ("a job of a rule with code has its code hash",
     """DELETE { GRAPH ?g { ?j sf:codeSha256 ?c } } WHERE { GRAPH ?g {
          ?j a sf:Job ; sf:ruleName "listing" ; sf:codeSha256 ?c } }""",
     "has no sf:codeSha256"),
    ("the code hash is a sha256",
     """DELETE { GRAPH ?g { ?j sf:codeSha256 ?c } } INSERT { GRAPH ?g { ?j sf:codeSha256 "abc" } }
        WHERE { GRAPH ?g { ?j a sf:Job ; sf:ruleName "listing" ; sf:codeSha256 ?c } }""",
     "a job's sf:codeSha256 is one hex sha256"),
    # qualified associations with roles; the researcher
    ("every association has a role",
     """DELETE { GRAPH ?g { ?a prov:hadRole ?r } } WHERE { GRAPH ?g {
          ?j a sf:Job ; sf:ruleName "listing" ; prov:qualifiedAssociation ?a . ?a prov:hadRole ?r } }""",
     "hadRole"),
    ("the user is the job's operator",
     """DELETE { GRAPH ?g { ?j prov:qualifiedAssociation ?a } } WHERE { GRAPH ?g {
          ?j a sf:Job ; sf:ruleName "listing" ; prov:qualifiedAssociation ?a .
          ?a prov:hadRole/rdfs:label "operator" } }""",
     "qualifiedAssociation"),
    ("the researcher is associated with every job",
     """DELETE { GRAPH ?g { ?j prov:wasAssociatedWith ?p . ?j prov:qualifiedAssociation ?a } } WHERE { GRAPH ?g {
          ?j a sf:Job ; sf:ruleName "listing" ; prov:wasAssociatedWith ?p ; prov:qualifiedAssociation ?a .
          ?a prov:agent ?p . FILTER(STRSTARTS(STR(?p), "https://orcid.org/")) } }""",
     "is not associated with the job"),
    ("the researcher's IRI is its ORCID iD",
     """DELETE { GRAPH ?g { ?p sf:orcid ?o } } INSERT { GRAPH ?g { ?p sf:orcid "https://orcid.org/1234" } }
        WHERE { GRAPH ?g { ?p a prov:Person ; sf:orcid ?o } }""",
     "recorded as sf:orcid"),
    # content fingerprints
    ("a NetCDF version has both fingerprint halves",
     """DELETE { GRAPH ?g { ?f sf:dataFingerprint ?d } } WHERE { GRAPH ?g {
          ?f sf:path "results/scaled.nc" ; sf:dataFingerprint ?d } }""",
     "an HDF5/NetCDF version has one sf:dataFingerprint"),
    ("a content fingerprint is a hex sha256",
     """DELETE { GRAPH ?g { ?f sf:contentFingerprint ?d } } INSERT { GRAPH ?g { ?f sf:contentFingerprint "same" } }
        WHERE { GRAPH ?g { ?f sf:path "results/scaled.nc" ; sf:contentFingerprint ?d } }""",
     "an HDF5/NetCDF version has one sf:contentFingerprint"),
    ("a NetCDF version whose structure was read has a fingerprint",
     """DELETE { GRAPH ?g { ?f sf:contentFingerprint ?a ; sf:dataFingerprint ?b ; sf:attributesFingerprint ?c } }
        WHERE { GRAPH ?g { ?f sf:path "data/in.nc" ; sf:contentFingerprint ?a ; sf:dataFingerprint ?b ;
                           sf:attributesFingerprint ?c } }""",
     "an HDF5/NetCDF version has one sf:contentFingerprint"),
]


@pytest.mark.parametrize("rule,update,expected", BREAKS, ids=[b[0] for b in BREAKS])
def test_breaking_a_rule_is_reported(recorded, tmp_path, capsys, rule, update, expected):
    work = _broken(recorded, tmp_path, update)
    code, out = _check(work, capsys)
    assert code == 1, f"{rule}: prov check passed a broken store\n{out}"
    assert expected in out, f"{rule}: {expected!r} not in\n{out}"


def test_the_recorded_facts_the_rules_hold_for(recorded):
    """The store has what the rules check (so a rule is never vacuously true)."""
    import sciflow.provenance as prov

    p = prov.open(recorded)
    ask = lambda q: p.query(PREFIXES + q)  # noqa: E731
    assert ask('ASK { ?j sf:ruleName "scale" ; sf:shellCommand ?c ; sf:codeSha256 ?h }')
    assert ask('ASK { ?j sf:ruleName "by_script" ; prov:used ?s . ?s a sf:ScriptFile ; sf:sha256 ?h }')
    assert ask('ASK { ?j sf:ruleName "listing" ; prov:used ?i . ?i a sf:IncludedFile }')
    assert ask('ASK { ?p sf:configKey "scale.factor" ; prov:wasDerivedFrom ?cv . ?cv sf:key "scale.factor" }')
    assert ask('ASK { ?j sf:ruleName "listing" ; prov:wasAssociatedWith ?s . '
               '?s sf:softwareKind "program" ; sf:name "sort" ; sf:executablePath ?x }')
    assert ask(f'ASK {{ ?j sf:ruleName "listing" ; prov:qualifiedAssociation ?a . '
               f'?a prov:agent <https://orcid.org/{MODEL_ORCID}> ; prov:hadRole/rdfs:label "researcher" }}')
    assert ask('ASK { ?f sf:path "results/scaled.nc" ; sf:contentFingerprint ?c ; '
               'prov:atLocation/sf:path "results/scaled.nc" }')


@pytest.fixture(scope="module")
def rerun(tmp_path_factory):
    """The model store with a second run that regenerated results/sorted.txt (same bytes)."""
    import sciflow.engine as engine

    work = model_store(tmp_path_factory.mktemp("model2") / "wf")
    opts = engine.RunOptions(directory=str(work), snakefile=str(work / "Sciflowfile"), cores=1,
                             command_line=["sciflow", "run"], forcerun=["listing"])
    assert engine.run(opts).ok
    return work


REVISION_BREAKS = [
    ("versions of a path form one chain of revisions",
     """DELETE { GRAPH ?g { ?new prov:wasRevisionOf ?old } } WHERE { GRAPH ?g {
          ?new sf:path "results/sorted.txt" ; prov:wasRevisionOf ?old } }""",
     "two-latest-versions"),
    ("a revision names a version (sf:File)",
     """DELETE { GRAPH ?g { ?new prov:wasRevisionOf ?old } } INSERT { GRAPH ?g { ?new prov:wasRevisionOf ?p } }
        WHERE { GRAPH ?g { ?new sf:path "results/sorted.txt" ; prov:wasRevisionOf ?old ;
                           prov:specializationOf ?p } }""",
     "wasRevisionOf"),
    ("a replaced version is invalidated once",
     """INSERT { GRAPH ?g { ?old prov:wasInvalidatedBy ?other } } WHERE { GRAPH ?g {
          ?new sf:path "results/sorted.txt" ; prov:wasRevisionOf ?old } .
          GRAPH ?g1 { ?other a sf:Job ; sf:ruleName "scale" } }""",
     "two-invalidations"),
]


def test_the_rerun_store_passes(rerun, capsys):
    code, out = _check(rerun, capsys)
    assert code == 0, out


@pytest.mark.parametrize("rule,update,expected", REVISION_BREAKS, ids=[b[0] for b in REVISION_BREAKS])
def test_breaking_a_version_rule_is_reported(rerun, tmp_path, capsys, rule, update, expected):
    work = _broken(rerun, tmp_path, update)
    code, out = _check(work, capsys)
    assert code == 1, f"{rule}: prov check passed a broken store\n{out}"
    assert expected in out, f"{rule}: {expected!r} not in\n{out}"
