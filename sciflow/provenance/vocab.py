"""Namespaces and identifier schemes of sciflow's provenance (documented in provenance/README.md).

Terms come from W3C PROV-O wherever PROV-O has one; ProvONE adds ``provone:Execution`` and
``provone:wasPartOf``; the few facts PROV-O has no term for (checksums, exit status, the command
run...) use the small ``sf:`` vocabulary. Identifiers are URNs so that the same file version,
parameter value or run gets the same IRI in every run and every store.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote, unquote

PROV = "http://www.w3.org/ns/prov#"
PROVONE = "http://purl.dataone.org/provone/2015/01/15/ontology#"
SF = "https://w3id.org/sciflow/ns#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
FOAF = "http://xmlns.com/foaf/0.1/"

PREFIXES = {"prov": PROV, "provone": PROVONE, "sf": SF, "rdf": RDF, "rdfs": RDFS, "xsd": XSD,
            "foaf": FOAF}

RDF_JSON = RDF + "JSON"  # datatype of list/dict parameter values (RDF 1.1 JSON literals)


def run_iri(run_id: str) -> str:
    return f"urn:sciflow:run:{quote(run_id, safe='')}"


def graph_iri(run_id: str) -> str:
    """The named graph (a ``prov:Bundle``) holding everything recorded about one run."""
    return f"urn:sciflow:bundle:{quote(run_id, safe='')}"


def job_iri(run_id: str, jobid: int) -> str:
    return f"{run_iri(run_id)}:job:{jobid}"


def rule_iri(run_id: str, rule_name: str) -> str:
    return f"{run_iri(run_id)}:rule:{quote(rule_name, safe='')}"


def file_iri(sha256: str, relpath: str) -> str:
    """A file version no job generated (raw data, the workflow file, a config file): its
    content (sha256) at its location. Two identical files at two paths stay two entities, so
    lineage never jumps between unrelated files with equal bytes; the same raw bytes seen by
    two runs are one entity."""
    return f"urn:sciflow:file:{sha256}:{quote(relpath, safe='/')}"


def generated_file_iri(sha256: str, relpath: str, run_id: str, jobid: int) -> str:
    """A file version a job generated: one entity per generation, even when a later run
    writes the same bytes again (then the two are linked by ``prov:wasRevisionOf``)."""
    return f"{file_iri(sha256, relpath)}:gen:{quote(run_id, safe='')}:{jobid}"


def parse_file_iri(iri: str) -> tuple[str | None, str | None]:
    """(sha256, path) from either form of file-version IRI, else (None, None). The path is
    quoted with ``:`` escaped, so the first ``:`` after it starts the generation suffix."""
    if iri.startswith(FILE_PREFIX):
        sha, sep, rest = iri[len(FILE_PREFIX):].partition(":")
        if sep and len(sha) == 64:
            return sha, unquote(rest.split(":", 1)[0])
    return None, None


def run_of_file_iri(iri: str) -> str | None:
    """The run that generated a file version (``generated_file_iri``), else None (raw data)."""
    _, sep, generation = iri.partition(":gen:")
    run, sep2, _job = generation.rpartition(":")
    return unquote(run) if sep and sep2 else None


def job_of_file_iri(iri: str) -> str | None:
    """The job that generated a file version (``job_iri`` of ``generated_file_iri``'s run and
    job id), else None (raw data, or an IRI of another form)."""
    _, sep, generation = iri.partition(":gen:")
    run, sep2, jobid = generation.rpartition(":")
    return f"urn:sciflow:run:{run}:job:{jobid}" if sep and sep2 and jobid.isdigit() else None


FILE_PREFIX = "urn:sciflow:file:"


def path_iri(relpath: str) -> str:
    """The file at a path through all its versions (``prov:specializationOf`` target)."""
    return f"urn:sciflow:path:{quote(relpath, safe='/')}"


def location_iri(relpath: str) -> str:
    """The ``prov:Location`` of a file: its path relative to the working directory."""
    return f"urn:sciflow:location:{quote(relpath, safe='/')}"


def missing_file_iri(run_id: str, relpath: str) -> str:
    return f"{run_iri(run_id)}:missing:{quote(relpath, safe='/')}"


def param_iri(rule_name: str, name: str, value_json: str) -> str:
    digest = hashlib.sha256(f"{rule_name}\0{name}\0{value_json}".encode()).hexdigest()[:32]
    return f"urn:sciflow:param:{digest}"


def software_iri(name: str, version: str) -> str:
    return f"urn:sciflow:software:{quote(name, safe='')}:{quote(version, safe='')}"


def program_iri(path: str, sha256: str) -> str:
    """An executable a shell command ran: its resolved path and content."""
    return f"urn:sciflow:program:{sha256}:{quote(path, safe='/')}"


def orcid_iri(orcid: str) -> str:
    """The ORCID iD as its IRI (``https://orcid.org/0000-0002-1825-0097``), or "" if none."""
    orcid = (orcid or "").strip()
    if not orcid:
        return ""
    if orcid.startswith(("http://", "https://")):
        return "https://orcid.org/" + orcid.rstrip("/").rsplit("/", 1)[-1]
    return "https://orcid.org/" + orcid


def user_iri(login: str) -> str:
    return f"urn:sciflow:user:{quote(login or 'unknown', safe='')}"


def host_iri(host: str) -> str:
    return f"urn:sciflow:host:{quote(host or 'unknown', safe='')}"


def canonical_json(value: Any) -> str:
    """Stable JSON for a parameter value (sorted keys, non-JSON objects as their repr)."""
    return json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))
