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
            })
    print(json.dumps({"rules": rules}))


if __name__ == "__main__":
    main(sys.argv[1])
