"""A Workflow Run RO-Crate (Provenance Run Crate profile 0.5) of one recorded run.

Built with the ``rocrate`` package from the run's named graph, following
https://w3id.org/ro/wfrun/provenance/0.5:

- the workflow file is the crate's main ``ComputationalWorkflow`` (also ``HowTo``); each rule is
  a ``SoftwareApplication`` tool in its ``hasPart`` with ``FormalParameter`` inputs/outputs, and
  a ``HowToStep`` in its ``step``;
- the run is a ``CreateAction`` (instrument: the workflow), each job a ``CreateAction``
  (instrument: its rule) whose ``object`` are input files and ``PropertyValue`` parameters and
  whose ``result`` are output files; a ``ControlAction`` per job links step and job; one
  ``OrganizeAction`` (instrument: sciflow) ties them together;
- the files present on disk are copied in at their workdir-relative path, and the run's full
  PROV-O graph is included as ``provenance.ttl``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sciflow.errors import ProvenanceError
from sciflow.provenance import vocab as V
from sciflow.provenance.query import Provenance

PROFILES = {
    "https://w3id.org/ro/wfrun/process/0.5": "Process Run Crate",
    "https://w3id.org/ro/wfrun/workflow/0.5": "Workflow Run Crate",
    "https://w3id.org/ro/wfrun/provenance/0.5": "Provenance Run Crate",
}

_JOBS = """SELECT ?job ?jobid ?rule ?start ?end ?status ?command WHERE { GRAPH $g {
  ?job a sf:Job ; sf:jobId ?jobid ; sf:ruleName ?rule ; sf:status ?status ;
       prov:startedAtTime ?start ; prov:endedAtTime ?end . OPTIONAL { ?job sf:command ?command } } }
  ORDER BY ?jobid"""
_USES = """SELECT ?job ?ent ?role ?kind ?path ?name ?value WHERE { GRAPH $g {
  ?job a sf:Job ; prov:qualifiedUsage ?u . ?u prov:entity ?ent ; prov:hadRole ?r .
  ?r rdfs:label ?role ; sf:roleKind ?kind .
  OPTIONAL { ?ent prov:atLocation ?path } OPTIONAL { ?ent sf:name ?name ; prov:value ?value } } }"""
_GENS = """SELECT ?job ?ent ?role ?path ?sha WHERE { GRAPH $g {
  ?ent prov:qualifiedGeneration ?q . ?q prov:activity ?job ; prov:hadRole/rdfs:label ?role .
  ?job a sf:Job . ?ent prov:atLocation ?path . OPTIONAL { ?ent sf:sha256 ?sha } } }"""
_RUN = """SELECT ?start ?end ?login ?wf WHERE { GRAPH $g {
  ?run a sf:Run ; prov:startedAtTime ?start .
  OPTIONAL { ?run prov:endedAtTime ?end }
  OPTIONAL { ?run prov:wasAssociatedWith ?u . ?u foaf:accountName ?login }
  OPTIONAL { ?run prov:used ?wfe . ?wfe a sf:WorkflowFile ; prov:atLocation ?wf } } }"""


def _present(value: Any) -> bool:
    return value is not None and value == value  # not NaN/NaT


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def build_crate(p: Provenance, run_id: str | None = None):
    """The ``rocrate.ROCrate`` of one run (the latest by default)."""
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
        return p.query(q.replace("$g", g)).to_dict("records")

    run = rows(_RUN)[0]
    crate = ROCrate(version="1.1")  # the RO-Crate version Provenance Run Crate 0.5 is built on
    crate.name = f"sciflow run {run_id}"
    crate.description = f"Workflow Run RO-Crate of sciflow run {run_id} (provenance exported from .sciflow/prov)"
    crate.license = "https://spdx.org/licenses/CC-BY-4.0"
    crate.root_dataset["datePublished"] = _iso(run["end"] if _present(run["end"]) else run["start"])
    for pid, name in PROFILES.items():
        prof = crate.add(ContextEntity(crate, pid, properties={"@type": "CreativeWork", "name": name,
                                                                "version": "0.5"}))
        crate.root_dataset.append_to("conformsTo", prof)

    wf_path = run["wf"] if _present(run["wf"]) else None
    wf_source = p.workdir / wf_path if wf_path and (p.workdir / wf_path).is_file() else None
    workflow = crate.add_workflow(source=wf_source, dest_path=wf_path or "Sciflowfile", main=True,
                                  lang="snakemake", properties={
                                      "@type": ["File", "SoftwareSourceCode",
                                                "ComputationalWorkflow", "HowTo"],
                                      "name": wf_path or "Sciflowfile"})
    engine = crate.add(ContextEntity(crate, "#sciflow", properties={
        "@type": "SoftwareApplication", "name": "sciflow", "version": _sciflow_version(),
        "url": "https://w3id.org/sciflow"}))
    person = None
    if _present(run["login"]):
        person = crate.add(ContextEntity(crate, f"#user-{run['login']}",
                                         properties={"@type": "Person", "name": run["login"]}))

    jobs = rows(_JOBS)
    uses, gens = rows(_USES), rows(_GENS)
    files: dict[str, Any] = {}

    def file_entity(path: str):
        if path in files:
            return files[path]
        src = p.workdir / path
        if path.startswith("..") or os.path.isabs(path) or not src.is_file():
            files[path] = None
        else:
            files[path] = crate.add_file(src, dest_path=path, properties={
                "name": path, "contentSize": str(src.stat().st_size)})
        return files[path]

    tools: dict[str, Any] = {}
    steps: dict[str, Any] = {}
    formal: dict[tuple[str, str, str], Any] = {}

    def tool_for(rule: str):
        if rule not in tools:
            tools[rule] = crate.add(ContextEntity(crate, f"#rule-{rule}", properties={
                "@type": "SoftwareApplication", "name": f"rule {rule}"}))
            workflow.append_to("hasPart", tools[rule])
            steps[rule] = crate.add(ContextEntity(crate, f"#step-{rule}", properties={
                "@type": "HowToStep", "name": f"step {rule}", "position": str(len(steps)),
                "workExample": {"@id": f"#rule-{rule}"}}))
            workflow.append_to("step", steps[rule])
        return tools[rule]

    def param_for(rule: str, direction: str, role: str, kind: str):
        key = (rule, direction, role)
        if key not in formal:
            formal[key] = crate.add_formal_parameter(
                name=role, additionalType="File" if kind == "file" else "Text",
                identifier=f"#param-{rule}-{direction}-{role}")
            tool_for(rule).append_to(direction, formal[key])
        return formal[key]

    controls, run_objects, run_results = [], [], []
    produced: set[str] = set()
    for job in jobs:
        jid, rule = job["jobid"], job["rule"]
        tool = tool_for(rule)
        objects, results = [], []
        for u in (x for x in uses if x["job"] == job["job"]):
            if u["kind"] == "param":
                fp = param_for(rule, "input", u["role"], "text")
                value = u["value"] if isinstance(u["value"], str) else json.dumps(u["value"])
                objects.append(crate.add(ContextEntity(crate, f"#pv-{jid}-{u['role']}", properties={
                    "@type": "PropertyValue", "name": u["role"], "value": value,
                    "exampleOfWork": {"@id": fp.id}})))
            elif _present(u["path"]):
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
        props = {"@type": "CreateAction", "name": f"job {jid}: rule {rule}",
                 "startTime": _iso(job["start"]), "endTime": _iso(job["end"]),
                 "actionStatus": "http://schema.org/CompletedActionStatus"
                 if job["status"] == "succeeded" else "http://schema.org/FailedActionStatus"}
        if isinstance(job["command"], str):
            props["description"] = job["command"]
        action = crate.add_action(tool, identifier=f"#job-{jid}", object=objects or None,
                                  result=results or None, properties=props)
        controls.append(crate.add(ContextEntity(crate, f"#control-{jid}", properties={
            "@type": "ControlAction", "name": f"orchestrate job {jid}",
            "instrument": {"@id": steps[rule].id}, "object": {"@id": action.id}})))

    run_props = {"@type": "CreateAction", "name": f"sciflow run {run_id}",
                 "startTime": _iso(run["start"])}
    if _present(run["end"]):
        run_props["endTime"] = _iso(run["end"])
    run_action = crate.add_action(workflow, identifier=f"#run-{run_id}", object=run_objects or None,
                                  result=run_results or None, properties=run_props)
    if person is not None:
        run_action["agent"] = person
    crate.root_dataset.append_to("mentions", run_action)
    org = {"@type": "OrganizeAction", "name": f"sciflow orchestration of run {run_id}",
           "startTime": run_props["startTime"]}
    if "endTime" in run_props:
        org["endTime"] = run_props["endTime"]
    crate.add_action(engine, identifier=f"#organize-{run_id}", object=controls or None,
                     result=run_action, properties=org)
    return crate, run_id


def write_crate(p: Provenance, out: str | os.PathLike, run_id: str | None = None) -> Path:
    """Writes the crate folder ``out`` (with ``ro-crate-metadata.json``, data and provenance.ttl)."""
    from sciflow.provenance.export import to_turtle

    crate, run_id = build_crate(p, run_id)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ttl = out / "provenance.ttl"
    ttl.write_bytes(to_turtle(p, run_id))
    prov_file = crate.add_file(ttl, dest_path="provenance.ttl", properties={
        "name": "W3C PROV-O provenance of the run", "encodingFormat": "text/turtle",
        "about": {"@id": f"#run-{run_id}"}})
    crate.write(out)
    del prov_file
    return out


def _sciflow_version() -> str:
    import sciflow

    return sciflow.__version__
