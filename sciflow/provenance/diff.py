"""``sciflow prov diff RUN_A RUN_B``: what changed between two runs, and why each output changed.

Both runs are read from their own named graphs (each is self-contained). A job of A and a job
of B are "the same job" when rule and wildcards match. The differences, one row each:

- ``raw-input``: a file no job generated (data) with different content at the same path, or
  read by one run only;
- ``source``: the workflow file, an included file, a config file or a script with different
  content (sha256);
- ``config``: a config value (dotted key) that differs in the merged config;
- ``param``: a parameter value of the same job (with the config key it came from, if any);
- ``code``: the code of a rule (``sf:codeSha256``: the shell text, the ``run:`` block);
- ``software``: a program or package at a different version (per rule);
- ``inputs``: the set of input paths of the same job (e.g. ``climatology``: 2 → 3 files);
- ``output``: a path both runs generated with different content; ``cause`` gives the chain of
  causes upstream (``a ← b ← raw input c changed``), from the differences above; ``reasons``
  the reasons the planner recorded for the job in B.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sciflow.provenance import vocab as V

_JOBS = """SELECT ?job ?rule ?wc ?code ?reason WHERE { GRAPH $g {
  ?job a sf:Job ; sf:ruleName ?rule .
  OPTIONAL { ?job sf:wildcards ?wc } OPTIONAL { ?job sf:codeSha256 ?code }
  OPTIONAL { ?job sf:reason ?reason } } }"""
_USES = """SELECT ?job ?e ?kind ?role ?path ?sha ?name ?value ?key WHERE { GRAPH $g {
  ?job a sf:Job ; prov:qualifiedUsage ?u . ?u prov:entity ?e ; prov:hadRole ?r .
  ?r rdfs:label ?role ; sf:roleKind ?kind .
  OPTIONAL { ?e sf:path ?path ; sf:sha256 ?sha }
  OPTIONAL { ?e sf:name ?name ; prov:value ?value OPTIONAL { ?e sf:configKey ?key } } } }"""
_GENS = """SELECT ?job ?path ?sha WHERE { GRAPH $g {
  ?e prov:qualifiedGeneration/prov:activity ?job ; sf:path ?path ; sf:sha256 ?sha .
  ?job a sf:Job } }"""
_SOFT = """SELECT ?job ?name ?version WHERE { GRAPH $g {
  ?job a sf:Job ; prov:wasAssociatedWith ?ag . ?ag a prov:SoftwareAgent ; sf:name ?name ;
  sf:version ?version } }"""
_RUNFILES = """SELECT ?path ?sha ?role WHERE { GRAPH $g {
  ?run a sf:Run ; prov:qualifiedUsage ?u . ?u prov:entity ?e ; prov:hadRole/rdfs:label ?role .
  ?e sf:path ?path ; sf:sha256 ?sha } }"""
_CONFIG = """SELECT ?value WHERE { GRAPH $g { ?run a sf:Run ; prov:used ?c . ?c a sf:Config ;
  prov:value ?value } }"""


@dataclass
class Job:
    rule: str
    wildcards: str
    code: str | None = None
    reasons: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)     # path -> sha256
    params: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # name -> (value, key)
    outputs: dict[str, str] = field(default_factory=dict)    # path -> sha256
    software: dict[str, str] = field(default_factory=dict)   # name -> version

    @property
    def label(self) -> str:
        wc = json.loads(self.wildcards) if self.wildcards else {}
        return self.rule + ("[" + ",".join(f"{k}={v}" for k, v in sorted(wc.items())) + "]" if wc else "")


@dataclass
class RunView:
    """One run's jobs, files and config, as recorded in its graph."""

    run_id: str
    jobs: dict[tuple[str, str], Job] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)        # path -> sha of raw inputs read
    sources: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (sha, role)
    config: dict[str, Any] = field(default_factory=dict)
    producer: dict[str, tuple[str, str]] = field(default_factory=dict)  # output path -> job key


def _rows(p: Any, query: str, run_id: str) -> list[tuple]:
    text = query.replace("$g", f"<{V.graph_iri(run_id)}>")
    return [tuple(None if t is None else t.value for t in sol)
            for sol in p.store.query(text, prefixes=V.PREFIXES)]


def load_run(p: Any, run_id: str) -> RunView:
    view = RunView(run_id)
    by_iri: dict[str, Job] = {}
    for job, rule, wc, code, reason in _rows(p, _JOBS, run_id):
        j = by_iri.get(job)
        if j is None:
            j = by_iri[job] = Job(rule, wc or "{}", code)
            view.jobs[(rule, wc or "{}")] = j
        if reason and reason not in j.reasons:
            j.reasons.append(reason)
    for job, ent, kind, role, path, sha, name, value, key in _rows(p, _USES, run_id):
        j = by_iri.get(job)
        if j is None:
            continue
        if kind == "input" and path:
            j.inputs[path] = sha
            if ":gen:" not in ent:  # no job generated it: raw data (or a file edited by hand)
                view.raw[path] = sha
        elif kind == "param" and name is not None:
            j.params[name] = (value, key)
        elif kind == "source" and path:
            view.sources[path] = (sha, role)
    for job, path, sha in _rows(p, _GENS, run_id):
        j = by_iri.get(job)
        if j is not None:
            j.outputs[path] = sha
            view.producer[path] = (j.rule, j.wildcards)
    for job, name, version in _rows(p, _SOFT, run_id):
        j = by_iri.get(job)
        if j is not None and name != "sciflow":
            j.software[name] = version
    for path, sha, role in _rows(p, _RUNFILES, run_id):
        view.sources.setdefault(path, (sha, role))
    for (value,) in _rows(p, _CONFIG, run_id):
        try:
            view.config = json.loads(value)
        except ValueError:
            pass
    return view


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def diff(p: Any, run_a: str, run_b: str) -> list[dict[str, Any]]:
    """Rows ``{kind, what, run1, run2, cause, reasons}`` (see the module docstring)."""
    a, b = load_run(p, run_a), load_run(p, run_b)
    rows: list[dict[str, Any]] = []

    def row(kind: str, what: str, v1: Any, v2: Any, cause: str = "", reasons: str = "") -> None:
        rows.append({"kind": kind, "what": what, "run1": v1, "run2": v2, "cause": cause,
                     "reasons": reasons})

    # what was given: raw inputs, workflow/config/script files, config values
    changed_raw = {path for path in set(a.raw) | set(b.raw)
                   if path in a.raw and path in b.raw and a.raw[path] != b.raw[path]}
    for path in sorted(set(a.raw) | set(b.raw)):
        if a.raw.get(path) != b.raw.get(path):
            row("raw-input", path, a.raw.get(path), b.raw.get(path))
    changed_sources: dict[str, str] = {}
    for path in sorted(set(a.sources) | set(b.sources)):
        s1, s2 = a.sources.get(path, (None, "")), b.sources.get(path, (None, ""))
        if s1[0] != s2[0]:
            changed_sources[path] = s2[1] or s1[1]
            row("source", path, s1[0], s2[0], cause=s2[1] or s1[1])
    c1, c2 = _flatten(a.config), _flatten(b.config)
    changed_keys: dict[str, tuple[Any, Any]] = {}
    for key in sorted(set(c1) | set(c2)):
        if c1.get(key, None) != c2.get(key, None) or (key in c1) != (key in c2):
            changed_keys[key] = (c1.get(key), c2.get(key))
            row("config", key, _show(c1.get(key)) if key in c1 else None,
                _show(c2.get(key)) if key in c2 else None)

    # what each job did differently
    own: dict[tuple[str, str], list[str]] = defaultdict(list)  # job key -> its own changes
    for key, j2 in sorted(b.jobs.items()):
        j1 = a.jobs.get(key)
        if j1 is None:
            continue
        for name in sorted(set(j1.params) | set(j2.params)):
            v1, k1 = j1.params.get(name, (None, None))
            v2, k2 = j2.params.get(name, (None, None))
            if v1 != v2:
                ckey = k2 or k1
                src = ""
                if ckey:
                    old, new = changed_keys.get(ckey, (None, None))
                    src = f"config {ckey}" + (f": {_show(old)} → {_show(new)}" if ckey in changed_keys else "")
                row("param", f"{j2.label}.{name}", v1, v2, cause=src)
                own[key].append(f"param {name} {v1} → {v2}" + (f" (from {src})" if src else ""))
        if j1.code != j2.code and (j1.code or j2.code):
            row("code", j2.label, j1.code, j2.code)
            own[key].append(f"code of rule {j2.rule} changed")
        for name in sorted(set(j1.software) | set(j2.software)):
            if j1.software.get(name) != j2.software.get(name):
                own[key].append(f"{name} {j1.software.get(name)} → {j2.software.get(name)}")
        if set(j1.inputs) != set(j2.inputs):
            added = sorted(set(j2.inputs) - set(j1.inputs))
            removed = sorted(set(j1.inputs) - set(j2.inputs))
            detail = "; ".join(filter(None, ["+" + ", +".join(added) if added else "",
                                             "-" + ", -".join(removed) if removed else ""]))
            row("inputs", j2.label, len(j1.inputs), len(j2.inputs), cause=detail)
            own[key].append(f"inputs {len(j1.inputs)} → {len(j2.inputs)} ({detail})")
        for path in sorted(set(j1.inputs) & set(j2.inputs)):
            if path in changed_raw and j1.inputs[path] != j2.inputs[path]:
                own[key].append(f"raw input {path} changed")
    # software rows, once per rule
    seen_sw: set[tuple[str, str]] = set()
    for key, j2 in sorted(b.jobs.items()):
        j1 = a.jobs.get(key)
        if j1 is None:
            continue
        for name in sorted(set(j1.software) | set(j2.software)):
            v1, v2 = j1.software.get(name), j2.software.get(name)
            if v1 != v2 and (j2.rule, name) not in seen_sw:
                seen_sw.add((j2.rule, name))
                row("software", f"{j2.rule}: {name}", v1, v2)

    # outputs with different content, each with its chain of causes
    outputs1 = {path: sha for j in a.jobs.values() for path, sha in j.outputs.items()}
    outputs2 = {path: sha for j in b.jobs.values() for path, sha in j.outputs.items()}
    memo: dict[str, str] = {}

    def causes(path: str, depth: int = 0) -> str:
        """Why ``path`` differs: its job's own changes, and the changed inputs upstream."""
        if path in memo:
            return memo[path]
        memo[path] = "…"  # a cycle guard; replaced below
        key = b.producer.get(path)
        if key is None:
            memo[path] = "raw input changed" if path in changed_raw else "not generated in run 2"
            return memo[path]
        j2, j1 = b.jobs[key], a.jobs.get(key)
        parts = list(own.get(key, []))
        if j1 is None:
            parts.append(f"job {j2.label} did not run in run 1")
        else:
            for inp in sorted(j2.inputs):
                if inp in j1.inputs and j1.inputs[inp] != j2.inputs[inp] and inp not in changed_raw:
                    if depth >= 50:
                        parts.append(inp)
                        continue
                    why = causes(inp, depth + 1)
                    parts.append(f"{inp} ← ({why})" if "; " in why else f"{inp} ← {why}")
        if not parts:
            changed_src = ", ".join(sorted(changed_sources))
            parts.append(f"workflow files changed ({changed_src})" if changed_src else
                         "same inputs, parameters, code and software: not deterministic?")
        memo[path] = "; ".join(parts)
        return memo[path]

    for path in sorted(set(outputs1) & set(outputs2)):
        if outputs1[path] != outputs2[path]:
            key = b.producer.get(path)
            reasons = "; ".join(b.jobs[key].reasons) if key else ""
            row("output", path, outputs1[path], outputs2[path], cause=causes(path), reasons=reasons)
    return rows


COLUMNS = ["kind", "what", "run1", "run2", "cause", "reasons"]


def as_table(rows: list[dict[str, Any]]):
    """The rows as a pandas-free ``Table`` (the CLI prints it without importing pandas)."""
    from sciflow.provenance.query import Table

    return Table(list(COLUMNS), [tuple(r.get(c) for c in COLUMNS) for r in rows])


def as_frame(rows: list[dict[str, Any]]):
    import pandas as pd

    return pd.DataFrame(rows, columns=COLUMNS)
