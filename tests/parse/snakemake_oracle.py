"""Print, as JSON, the rules Snakemake itself reads from a Snakefile (the test oracle).

Run as a subprocess (``python snakemake_oracle.py SNAKEFILE``) from the workflow's folder:
loading a workflow through Snakemake's API changes process-wide state (logging, cwd).
Each rule: its name, and the string items of its input and output, in order.
"""
import json
import sys
from pathlib import Path


def main(path: str) -> None:
    from snakemake.api import SnakemakeApi
    from snakemake.io import strip_wildcard_constraints
    from snakemake.settings.types import OutputSettings, ResourceSettings

    with SnakemakeApi(OutputSettings(quiet=True)) as api:
        workflow = api.workflow(resource_settings=ResourceSettings(), snakefile=Path(path))._workflow
        rules = []
        for rule in workflow.rules:
            rules.append({
                "name": rule.name,
                "checkpoint": bool(rule.is_checkpoint),
                "input": [strip_wildcard_constraints(str(f)) for f in rule.input
                          if isinstance(f, str) and not callable(f) and not str(f).startswith("<")],
                "output": [strip_wildcard_constraints(str(f)) for f in rule.output],
                "details": details(rule),
            })
    print(json.dumps({"rules": rules}))


def plain(value):
    """A JSON-able view of a directive value; functions become the string "<function>"."""
    if hasattr(value, "is_evaluable"):  # a snakemake Resource
        value = "<function>" if value.is_evaluable() else value.value
    if callable(value):
        return "<function>"
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value if isinstance(value, (int, float, bool, type(None))) else str(value)


def details(rule):
    from snakemake.io import strip_wildcard_constraints
    """The other directives sciflow must read the same way."""
    cores = rule.resources.get("_cores")
    return {
        "log": [strip_wildcard_constraints(str(f)) for f in rule.log],
        "log_names": list(rule.log.keys()),
        "params": [plain(p) for p in rule.params], "param_names": list(rule.params.keys()),
        "threads": plain(cores),
        "resources": {k: plain(v) for k, v in rule.resources.items()
                      if not k.startswith("_") and k != "tmpdir"},
        "priority": rule.priority, "retries": rule._restart_times or 0,
        "docstring": rule.docstring, "message": rule.message,
        "benchmark": str(rule.benchmark) if rule.benchmark else None,
        "conda": str(rule.conda_env) if rule.conda_env else None,
        "container": rule.container_img or None,
    }


if __name__ == "__main__":
    main(sys.argv[1])
