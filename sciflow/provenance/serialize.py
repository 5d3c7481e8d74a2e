"""Every export of the provenance store, in one module (``sciflow prov export``).

- RDF: ``turtle`` and ``jsonld`` (the union of every run, or one run: triples, named graphs
  flattened), ``trig`` and ``nquads`` (quads: each run's named graph kept), written by
  pyoxigraph (JSON-LD by rdflib, compacted with ``provenance/context.jsonld``).
- PROV-DM: ``provn`` and ``provjson``, written by the ``prov`` package from a ``ProvDocument``
  that the same package reads from the store's TriG, so each run is a ``bundle`` and every
  recorded fact of an entity, activity or agent (command, host, worker, job → run, checksums,
  parameter values…) is an attribute. The ``prov`` package reads the PROV-N back with the
  same number of records (tests/provenance/test_serialize.py round-trips it).
- ``ro-crate``: a Workflow Run RO-Crate of one run (``--run``, default the latest), Provenance
  Run Crate 0.5 — see ``write_crate``; the main workflow's id is its published address when it
  has one (``_workflow_url``, permalink.py), else its path in the crate.

Formerly ``export.py`` and ``rocrate_export.py``, which imported each other.
"""
from __future__ import annotations

import json
import mimetypes
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pyoxigraph as ox

from sciflow.errors import ProvenanceError, UsageError
from sciflow.hashing import checksum, sha256_file, sha256_text
from sciflow.provenance import vocab as V
from sciflow.provenance.sources import archived
from sciflow.resources import vocab_dir

if TYPE_CHECKING:  # pragma: no cover
    from sciflow.provenance.query import Provenance

FORMATS = ("turtle", "trig", "nquads", "jsonld", "provn", "provjson", "ro-crate")


# ---------------------------------------------------------------------- RDF
def quads(p: "Provenance", run_id: str | None = None) -> list[ox.Quad]:
    """The quads of one run's named graph, or of every graph."""
    graph = ox.NamedNode(V.graph_iri(run_id)) if run_id else None
    return list(p.store.quads_for_pattern(None, None, None, graph))


def triples(p: "Provenance", run_id: str | None = None) -> list[ox.Triple]:
    """The triples of one run's graph, or of the union of all runs (duplicates merged)."""
    if run_id:
        return [q.triple for q in quads(p, run_id)]
    return list(p.store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
                              use_default_graph_as_union=True))


def rdflib_graph(p: "Provenance", run_id: str | None = None):
    """An in-memory rdflib Graph of one run (or all); what SHACL and JSON-LD work on."""
    from rdflib import Graph

    g = Graph()
    data = ox.serialize(triples(p, run_id), format=ox.RdfFormat.N_TRIPLES)
    g.parse(data=data.decode("utf-8"), format="nt")
    for prefix, ns in V.PREFIXES.items():
        g.bind(prefix, ns)
    return g


def to_turtle(p: "Provenance", run_id: str | None = None) -> bytes:
    return ox.serialize(triples(p, run_id), format=ox.RdfFormat.TURTLE, prefixes=V.PREFIXES)


def to_trig(p: "Provenance", run_id: str | None = None) -> bytes:
    """TriG: each run's named graph (``urn:sciflow:bundle:<run>``) kept."""
    return ox.serialize(quads(p, run_id), format=ox.RdfFormat.TRIG, prefixes=_PROV_PREFIXES)


def to_nquads(p: "Provenance", run_id: str | None = None) -> bytes:
    return ox.serialize(quads(p, run_id), format=ox.RdfFormat.N_QUADS)


def to_jsonld(p: "Provenance", run_id: str | None = None) -> str:
    context = json.loads((vocab_dir() / "context.jsonld").read_text())["@context"]
    return rdflib_graph(p, run_id).serialize(format="json-ld", context=context, indent=1)


# ---------------------------------------------------------------------- PROV-N, PROV-JSON
# ``sciflow:`` abbreviates every sciflow URN, so PROV-N qualified names stay readable
# (``sciflow:run\:r1\:job\:2``) instead of one generated prefix per IRI stem.
_PROV_PREFIXES = {**V.PREFIXES, "sciflow": "urn:sciflow:"}


def prov_document(p: "Provenance", run_id: str | None = None):
    """A ``prov.model.ProvDocument`` with one bundle per run, read by the ``prov`` package
    from the store's TriG (its PROV-O reader maps every PROV-O term and keeps the other
    properties as attributes)."""
    import warnings

    from prov.model import ProvDocument
    from rdflib import Dataset
    from rdflib.namespace import NamespaceManager

    ds = Dataset()
    ds.namespace_manager = NamespaceManager(ds, bind_namespaces="none")
    for prefix, ns in _PROV_PREFIXES.items():
        ds.bind(prefix, ns)
    ds.parse(data=to_trig(p, run_id).decode("utf-8"), format="trig")
    with warnings.catch_warnings():
        # nodes that are no PROV record (roles, locations, bundles, variables) stay values of
        # the attributes that name them; the reader warns that it made no record of them
        warnings.simplefilter("ignore", UserWarning)
        from prov.serializers.provrdf import ProvRDFSerializer

        doc = ProvDocument()
        ProvRDFSerializer(doc).decode_document(ds, doc)
    return doc


def _used_prefixes(provn: str) -> str:
    """PROV-N with the namespace declarations nothing uses dropped."""
    lines = provn.splitlines()
    body = "\n".join(line for line in lines if not line.lstrip().startswith(("prefix ", "default ")))
    keep = []
    for line in lines:
        m = re.match(r"\s*prefix (\S+) <", line)
        if m and f"{m.group(1)}:" not in body:
            continue
        keep.append(line)
    return "\n".join(keep) + "\n"


def to_provn(p: "Provenance", run_id: str | None = None) -> str:
    return _used_prefixes(prov_document(p, run_id).get_provn())


def to_provjson(p: "Provenance", run_id: str | None = None) -> str:
    return prov_document(p, run_id).serialize(format="json", indent=1)


def count_records(doc) -> int:
    """Records of a ProvDocument, its bundles' included (what a round trip must keep)."""
    return len(doc.get_records()) + sum(len(b.get_records()) for b in doc.bundles)


# ---------------------------------------------------------------------- RO-Crate
PROFILES = {
    "https://w3id.org/ro/wfrun/process/0.5": "Process Run Crate",
    "https://w3id.org/ro/wfrun/workflow/0.5": "Workflow Run Crate",
    "https://w3id.org/ro/wfrun/provenance/0.5": "Provenance Run Crate",
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": "Workflow RO-Crate",
}
BIOSCHEMAS_WORKFLOW = "https://bioschemas.org/profiles/ComputationalWorkflow/1.0-RELEASE"
SCIFLOW_URL = "https://w3id.org/sciflow"
# Tools need absolute http ids in the profile; a rule has no web address of its own, so its id
# is a name in sciflow's namespace made from the hash of the rule's code: equal code, equal id.
RULE_ID_BASE = "https://w3id.org/sciflow/rule/"
_PATH = "?{v} (sf:path|prov:atLocation) ?{p} . FILTER(isLiteral(?{p}))"

_JOBS = """SELECT ?job ?jobid ?rule ?start ?end ?status ?command ?error WHERE { GRAPH $g {
  ?job a sf:Job ; sf:jobId ?jobid ; sf:ruleName ?rule ; sf:status ?status ;
       prov:startedAtTime ?start ; prov:endedAtTime ?end . OPTIONAL { ?job sf:command ?command }
  OPTIONAL { ?job sf:error ?error } } } ORDER BY ?jobid"""
_USES = """SELECT ?job ?ent ?role ?kind ?path ?name ?value WHERE { GRAPH $g {
  ?job a sf:Job ; prov:qualifiedUsage ?u . ?u prov:entity ?ent ; prov:hadRole ?r .
  ?r rdfs:label ?role ; sf:roleKind ?kind .
  OPTIONAL { %s } OPTIONAL { ?ent sf:name ?name ; prov:value ?value } } }""" % _PATH.format(v="ent", p="path")
_GENS = """SELECT ?job ?ent ?role ?path ?sha WHERE { GRAPH $g {
  ?ent prov:qualifiedGeneration ?q . ?q prov:activity ?job ; prov:hadRole/rdfs:label ?role .
  ?job a sf:Job . %s OPTIONAL { ?ent sf:sha256 ?sha } } }""" % _PATH.format(v="ent", p="path")
_RUN = """SELECT ?start ?end ?login ?person ?wf ?wfsha ?host ?cmd ?config WHERE { GRAPH $g {
  ?run a sf:Run ; prov:startedAtTime ?start .
  OPTIONAL { ?run prov:wasAssociatedWith ?person . ?person a prov:Person .
             FILTER(STRSTARTS(STR(?person), "https://orcid.org/")) }
  OPTIONAL { ?run prov:endedAtTime ?end } OPTIONAL { ?run sf:host ?host }
  OPTIONAL { ?run sf:commandLine ?cmd }
  OPTIONAL { ?run prov:used ?cfg . ?cfg a sf:Config ; prov:value ?config }
  OPTIONAL { ?run prov:wasAssociatedWith ?u . ?u foaf:accountName ?login }
  OPTIONAL { ?run prov:used ?wfe . ?wfe a sf:WorkflowFile ; sf:sha256 ?wfsha . %s } } }""" \
    % _PATH.format(v="wfe", p="wf")
_RULES = """SELECT ?name ?kind ?source ?loc WHERE { GRAPH $g {
  ?r a sf:Rule ; sf:ruleName ?name . OPTIONAL { ?r sf:actionKind ?kind }
  OPTIONAL { ?r sf:source ?source } OPTIONAL { ?r sf:sourceLocation ?loc } } } ORDER BY ?loc ?name"""
_SHA = """SELECT ?path ?sha WHERE { GRAPH $g { ?f sf:sha256 ?sha . %s } }""" % _PATH.format(v="f", p="path")


def _iso(value: Any) -> str:
    """ISO 8601 with milliseconds and a numeric offset, the form the profile's pattern allows."""
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="milliseconds")
    return str(value)


def _media_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    known = {".h5": "application/x-hdf5", ".hdf5": "application/x-hdf5", ".he5": "application/x-hdf5",
             ".nc": "application/x-netcdf", ".nc4": "application/x-netcdf", ".cdf": "application/x-netcdf",
             ".tsv": "text/tab-separated-values", ".smk": "text/x-python", ".yaml": "application/yaml",
             ".yml": "application/yaml", "": "text/plain"}
    if suffix in known:
        return known[suffix]
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def _rule_id(name: str, source: Any) -> tuple[str, str]:
    """(absolute id, version) of a rule: both from the sha256 of its name and code."""
    code = sha256_text(f"{name}\0{source or ''}")
    return f"{RULE_ID_BASE}{code[:16]}/{name}", code[:12]


def _workflow_url(given: str | None, config: dict[str, Any], workflow: Path | None,
                  sha256: str | None) -> str | None:
    """The published address of the run's workflow file, which becomes the main workflow's
    ``@id`` (Process Run Crate wants an http id there): ``given`` (``--workflow-url``), else
    ``$SCIFLOW_WORKFLOW_URL``, else the run's config key ``workflow_url``, else the git
    permalink of the committed, pushed file (permalink.py). ``""`` given: none, no lookup.
    The address must serve the bytes the run recorded (sha256): sciflow cannot fetch it to
    check, except through git, whose permalink names exactly the committed bytes."""
    from sciflow.provenance.permalink import git_permalink

    if given is None:
        given = os.environ.get("SCIFLOW_WORKFLOW_URL") or str(config.get("workflow_url") or "") or None
    if given is None:
        return git_permalink(workflow, sha256) if workflow is not None else None
    if given and not re.match(r"^https?://[^/\s]+", given):
        raise UsageError(f"the workflow URL {given!r} is no http(s) URL",
                         hint="Give the address the workflow file is published at, e.g. "
                              "https://raw.githubusercontent.com/OWNER/REPO/COMMIT/Snakefile.")
    return given or None


def build_crate(p: "Provenance", run_id: str | None = None, workflow_url: str | None = None):
    """The ``rocrate.ROCrate`` of one run (the latest by default) and that run's id.

    ``workflow_url``: the main workflow's published address (see ``_workflow_url``); ``""``
    keeps the workflow a file of the crate without looking for one."""
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    runs = p.run_ids()
    if not runs:
        raise ProvenanceError("no run recorded: nothing to export")
    run_id = run_id or runs[-1]
    if run_id not in runs:
        raise ProvenanceError(f"no run {run_id!r} recorded", hint="See `sciflow prov runs`.")
    g = f"<{V.graph_iri(run_id)}>"

    def rows(q: str) -> list[dict[str, Any]]:
        return p.select(q.replace("$g", g)).records()

    run = rows(_RUN)[0]
    shas = {r["path"]: r["sha"] for r in rows(_SHA)}
    crate = ROCrate(version="1.1")  # the RO-Crate version Provenance Run Crate 0.5 is built on
    crate.name = f"sciflow run {run_id}"
    crate.description = (f"Workflow Run RO-Crate of sciflow run {run_id}: the workflow, every rule, "
                         "each job with its inputs, parameters and outputs (provenance exported "
                         "from .sciflow/prov)")
    root = crate.root_dataset
    root["datePublished"] = _iso(run["end"] or run["start"])
    lic = crate.add(ContextEntity(crate, "https://spdx.org/licenses/CC-BY-4.0", properties={
        "@type": "CreativeWork", "name": "Creative Commons Attribution 4.0 International",
        "identifier": "CC-BY-4.0"}))
    root["license"] = lic
    for pid, name in PROFILES.items():
        prof = crate.add(ContextEntity(crate, pid, properties={
            "@type": "CreativeWork", "name": name, "version": pid.rsplit("/", 1)[-1]}))
        root.append_to("conformsTo", prof)
    login = run["login"] or "unknown"
    host = run["host"] or "unknown"
    config = run["config"]
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            config = None
    config = config if isinstance(config, dict) else {}
    # the publisher: $SCIFLOW_ORGANIZATION(_URL), else the run's config keys organization and
    # organization_url (recorded with the run, as its orcid is), else the recording host
    org_name = os.environ.get("SCIFLOW_ORGANIZATION") or str(config.get("organization") or "") or host
    org_url = os.environ.get("SCIFLOW_ORGANIZATION_URL") or str(config.get("organization_url") or "")
    org_props = {"@type": "Organization", "name": org_name,
                 "description": "the organisation the crate is published by (SCIFLOW_ORGANIZATION "
                                "or the config key organization; without them, the machine the "
                                f"run was recorded on: {host})"}
    if org_url:
        org_props["url"] = org_url
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", org_name).strip("-") or "unknown"
    org = crate.add(ContextEntity(crate, f"#organization-{slug}", properties=org_props))
    user = re.sub(r"[^A-Za-z0-9._-]+", "-", login)
    person = crate.add(ContextEntity(crate, run["person"] or f"#user-{user}", properties={
        "@type": "Person", "name": login, "affiliation": {"@id": org.id},
        "description": "the researcher or account that ran the workflow"}))
    root["author"] = person
    root["publisher"] = org

    files: dict[str, Any] = {}

    def file_entity(path: str):
        """The file's data entity; a file no longer present as this run had it (rewritten
        by a later run, deleted) is a CreativeWork naming its path and recorded checksum (the
        profile then misses that file's FormalParameter: no data entity is its exampleOfWork)."""
        if path in files:
            return files[path]
        entity = _file_entity(path)
        if entity is None and shas.get(path):
            entity = crate.add(ContextEntity(crate, f"#version-{shas[path][:16]}-{quote(path, safe='')}",
                                             properties={
                "@type": "CreativeWork", "name": path, "sha256": shas[path],
                "description": "not included: the file at this path is no longer the version "
                               "this run recorded (rewritten or deleted since)"}))
        files[path] = entity
        return entity

    def _file_entity(path: str):
        if path in files:
            return files[path]
        src = p.workdir / path
        if path.startswith("..") or os.path.isabs(path) or not src.is_file():
            files[path] = None
        elif shas.get(path) and checksum(src) != shas[path]:
            files[path] = None  # rewritten since this run: its bytes are not this run's
        else:
            props = {"name": path, "contentSize": str(src.stat().st_size),
                     "encodingFormat": _media_type(path)}
            if shas.get(path):
                props["sha256"] = shas[path]
            files[path] = crate.add_file(src, dest_path=path, properties=props)
        return files[path]

    wf_path = run["wf"] or "Sciflowfile"
    wf_disk = p.workdir / wf_path
    # the run's workflow bytes: the file while it is the recorded version, else the copy the
    # recorder archived when the run started (sources.py); without either, the file as it is
    wf_bytes = None
    if run["wfsha"] and wf_disk.is_file() and checksum(wf_disk) == run["wfsha"]:
        wf_bytes = wf_disk
    elif run["wfsha"] and archived(p.workdir, run["wfsha"]).is_file():
        wf_bytes = archived(p.workdir, run["wfsha"])
    wf_source = wf_bytes or (wf_disk if wf_disk.is_file() else None)
    url = _workflow_url(workflow_url, config, wf_disk, run["wfsha"])
    wf_props = {"@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
                "name": wf_path, "encodingFormat": "text/x-python", "url": url or wf_path,
                "version": (run["wfsha"] or "unknown")[:12],
                "conformsTo": {"@id": BIOSCHEMAS_WORKFLOW},
                "description": "the workflow file as it was when the run started "
                               "(version: the first 12 hex digits of its sha256)"}
    if run["wfsha"]:
        wf_props["sha256"] = run["wfsha"]
    if url:
        # a web-based data entity (RO-Crate 1.1): its size and when it was taken to be these
        # bytes; the copy in the crate names it as its download link (``url``)
        wf_props["sdDatePublished"] = _iso(datetime.now(timezone.utc))
        wf_props["description"] = (f"the workflow file {wf_path} as it was when the run started, "
                                   "at its published address (version: the first 12 hex digits "
                                   "of its sha256)")
        if wf_bytes:
            wf_props["contentSize"] = str(wf_bytes.stat().st_size)
        workflow = crate.add_workflow(source=url, main=True, lang="snakemake", properties=wf_props)
        if wf_bytes:
            files[wf_path] = crate.add_file(wf_bytes, dest_path=wf_path, properties={
                "name": wf_path, "encodingFormat": "text/x-python", "url": url,
                "contentSize": str(wf_bytes.stat().st_size), "sha256": run["wfsha"],
                "description": f"a copy of the main workflow {url} (the same bytes)"})
    else:
        workflow = crate.add_workflow(source=wf_source, dest_path=wf_path, main=True,
                                      lang="snakemake", properties=wf_props)
    files.setdefault(wf_path, workflow)
    crate.add(ContextEntity(crate, BIOSCHEMAS_WORKFLOW, properties={
        "@type": "CreativeWork", "name": "Bioschemas ComputationalWorkflow profile",
        "version": "1.0-RELEASE"}))
    engine = crate.add(ContextEntity(crate, SCIFLOW_URL, properties={
        "@type": "SoftwareApplication", "name": "sciflow", "softwareVersion": _sciflow_version(),
        "url": SCIFLOW_URL}))

    tools: dict[str, Any] = {}
    steps: dict[str, Any] = {}
    for r in rows(_RULES):  # every rule of the workflow, whether or not it ran
        rid, version = _rule_id(r["name"], r["source"])
        props = {"@type": "SoftwareApplication", "name": f"rule {r['name']}",
                 "softwareVersion": version, "url": SCIFLOW_URL,
                 "description": f"{r['kind'] or 'rule'} rule {r['name']} at {r['loc'] or wf_path} "
                                "(version: the first 12 hex digits of the sha256 of its code)"}
        tools[r["name"]] = crate.add(ContextEntity(crate, rid, properties=props))
        steps[r["name"]] = crate.add(ContextEntity(crate, f"#step-{r['name']}", properties={
            "@type": "HowToStep", "name": f"step {r['name']}", "position": str(len(steps)),
            "workExample": {"@id": rid}}))
        workflow.append_to("step", steps[r["name"]])

    formal: dict[tuple[str, str, str], Any] = {}

    def param_for(rule: str, direction: str, role: str, kind: str):
        key = (rule, direction, role)
        if key not in formal:
            formal[key] = crate.add_formal_parameter(
                name=role, additionalType="File" if kind == "file" else "Text",
                identifier=f"#param-{rule}-{direction}-{role}")
            tools[rule].append_to(direction, formal[key])
        return formal[key]

    uses, gens = rows(_USES), rows(_GENS)
    controls, mentions, run_objects, run_results = [], [], [], []
    produced: set[str] = set()
    for job in rows(_JOBS):
        jid, rule = job["jobid"], job["rule"]
        if rule not in tools:  # a rule the run's graph did not describe (older stores)
            rid, version = _rule_id(rule, None)
            tools[rule] = crate.add(ContextEntity(crate, rid, properties={
                "@type": "SoftwareApplication", "name": f"rule {rule}", "softwareVersion": version,
                "url": SCIFLOW_URL}))
            steps[rule] = crate.add(ContextEntity(crate, f"#step-{rule}", properties={
                "@type": "HowToStep", "name": f"step {rule}", "position": str(len(steps)),
                "workExample": {"@id": rid}}))
            workflow.append_to("step", steps[rule])
        objects, results = [], []
        for u in (x for x in uses if x["job"] == job["job"]):
            if u["kind"] == "source":  # workflow/config/script files: described as the workflow
                continue
            if u["kind"] == "param":
                fp = param_for(rule, "input", u["role"], "text")
                value = u["value"] if isinstance(u["value"], str) else json.dumps(u["value"])
                objects.append(crate.add(ContextEntity(crate, f"#pv-{jid}-{u['role']}", properties={
                    "@type": "PropertyValue", "name": u["role"], "value": value,
                    "exampleOfWork": {"@id": fp.id}})))
            elif u["path"]:
                fp = param_for(rule, "input", u["role"], "file")
                ent = file_entity(u["path"])
                if ent is not None:
                    ent.append_to("exampleOfWork", fp)
                    objects.append(ent)
                    if u["path"] not in produced and ent not in run_objects:
                        run_objects.append(ent)
        for gen in (x for x in gens if x["job"] == job["job"]):
            fp = param_for(rule, "output", gen["role"], "file")
            ent = file_entity(gen["path"])
            produced.add(gen["path"])
            if ent is not None:
                ent.append_to("exampleOfWork", fp)
                results.append(ent)
                run_results.append(ent)
        ok = job["status"] == "succeeded"
        # A job that generated nothing (a target rule such as `all`, a failed job) is an
        # ActivateAction, Process Run Crate's type for running a tool that created no entity
        # (a CreateAction SHOULD have a result).
        props = {"@type": "CreateAction" if results else "ActivateAction",
                 "name": f"job {jid}: rule {rule}",
                 "startTime": _iso(job["start"]), "endTime": _iso(job["end"]),
                 "description": job["command"] or f"job {jid} of rule {rule}",
                 "agent": {"@id": person.id},
                 "actionStatus": "http://schema.org/CompletedActionStatus" if ok
                 else "http://schema.org/FailedActionStatus"}
        if not ok and job["error"]:
            props["error"] = job["error"]
        action = crate.add_action(tools[rule], identifier=f"#job-{jid}", object=objects or None,
                                  result=results or None, properties=props)
        mentions.append(action)
        controls.append(crate.add(ContextEntity(crate, f"#control-{jid}", properties={
            "@type": "ControlAction", "name": f"orchestrate job {jid}",
            "instrument": {"@id": steps[rule].id}, "object": {"@id": action.id}})))

    # the other files that shaped the run (config, included and script files), with checksums
    for u in uses:
        if u["kind"] == "source" and u["path"] and u["path"] != wf_path and u["path"] not in files:
            ent = file_entity(u["path"])
            if ent is not None:
                ent["description"] = f"{u['role']} file of the workflow, as the run used it"
    ran = {job["rule"] for job in rows(_JOBS)}
    for name, tool in tools.items():
        if name in ran:  # the profile wants every tool in hasPart to be an action's instrument
            workflow.append_to("hasPart", tool)
        else:  # a rule that did not run here stays a step of the workflow (workExample)
            tool["description"] = tool.get("description", f"rule {name}") + "; it did not run in this run"

    run_props = {"@type": "CreateAction", "name": f"sciflow run {run_id}",
                 "description": f"the run `{run['cmd'] or 'sciflow run'}` on {host}",
                 "startTime": _iso(run["start"]), "agent": {"@id": person.id}}
    if run["end"]:
        run_props["endTime"] = _iso(run["end"])
    run_action = crate.add_action(workflow, identifier=f"#run-{run_id}", object=run_objects or None,
                                  result=run_results or None, properties=run_props)
    for action in [run_action, *mentions]:
        root.append_to("mentions", action)
    org_props = {"@type": "OrganizeAction", "name": f"sciflow orchestration of run {run_id}",
                 "startTime": run_props["startTime"], "agent": {"@id": person.id}}
    if "endTime" in run_props:
        org_props["endTime"] = run_props["endTime"]
    crate.add_action(engine, identifier=f"#organize-{run_id}", object=controls or None,
                     result=run_action, properties=org_props)
    return crate, run_id


_README = """# sciflow run {run_id}

A Workflow Run RO-Crate (Provenance Run Crate 0.5) written by `sciflow prov export --format
ro-crate`. `ro-crate-metadata.json` describes the workflow (every rule as a tool with its
steps), the run and each job as actions with their inputs, parameters and outputs, with
sha256 checksums; `provenance.ttl` holds the run's full W3C PROV-O record.
"""


def _single_values(crate) -> None:
    """RO-Crate 1.1 wants one value, not a one-element list: ``append_to`` makes lists."""
    for entity in crate.get_entities():
        for key, value in list(entity._jsonld.items()):
            if isinstance(value, list) and len(value) == 1 and key != "@type":
                entity._jsonld[key] = value[0]


def write_crate(p: "Provenance", out: str | os.PathLike, run_id: str | None = None,
                workflow_url: str | None = None) -> Path:
    """Writes the crate folder ``out``: ro-crate-metadata.json, the files, and the run's
    PROV-O as ``provenance.ttl``. ``workflow_url``: as for ``build_crate``."""
    crate, run_id = build_crate(p, run_id, workflow_url)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ttl = out / "provenance.ttl"
    ttl.write_bytes(to_turtle(p, run_id))
    crate.add_file(ttl, dest_path="provenance.ttl", properties={
        "name": "W3C PROV-O provenance of the run", "encodingFormat": "text/turtle",
        "about": {"@id": f"#run-{run_id}"},
        "sha256": sha256_file(ttl)})
    readme = out / "README.md"
    readme.write_text(_README.format(run_id=run_id), encoding="utf-8")
    crate.add_file(readme, dest_path="README.md", properties={
        "name": "README", "encodingFormat": "text/markdown", "about": {"@id": "./"}})
    crate.metadata.extra_terms["sha256"] = "http://schema.org/sha256"
    _single_values(crate)
    crate.write(out)
    return out


def _sciflow_version() -> str:
    import sciflow

    return sciflow.__version__


# ---------------------------------------------------------------------- entry point
def export(workdir: str | os.PathLike, fmt: str, out: str | os.PathLike,
           run_id: str | None = None, workflow_url: str | None = None) -> Path:
    """Writes the provenance of ``workdir`` as ``fmt`` to ``out`` (a folder for ro-crate;
    ``workflow_url``: the address the run's workflow file is published at, see
    ``_workflow_url``)."""
    from sciflow.provenance.query import Provenance

    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}", hint=f"Use one of: {', '.join(FORMATS)}.")
    if workflow_url and fmt != "ro-crate":
        raise UsageError("a workflow URL is for the ro-crate export only",
                         hint="Drop --workflow-url, or use --format ro-crate.")
    p = Provenance(workdir)
    if run_id is not None and run_id not in p.run_ids():
        raise UsageError(f"no run {run_id!r} recorded", hint="See `sciflow prov runs`.")
    out = Path(out)
    writers = {"turtle": to_turtle, "trig": to_trig, "nquads": to_nquads, "jsonld": to_jsonld,
               "provn": to_provn, "provjson": to_provjson}
    if fmt == "ro-crate":
        write_crate(p, out, run_id, workflow_url)
        return out
    data = writers[fmt](p, run_id)
    if isinstance(data, bytes):
        out.write_bytes(data)
    else:
        out.write_text(data, encoding="utf-8")
    return out


__all__ = ["FORMATS", "build_crate", "count_records", "export", "prov_document", "quads",
           "rdflib_graph", "to_jsonld", "to_nquads", "to_provjson", "to_provn", "to_trig",
           "to_turtle", "triples", "write_crate"]
