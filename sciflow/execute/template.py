"""``template_engine:`` jobs: render the rule's template input into its one output, with
Snakemake's variables (``input``, ``params``, ``wildcards``, ``config``) and engines (``jinja2``,
``yte``). Runs inside the worker: rendering is pure Python and short."""
from __future__ import annotations

from typing import Any

from sciflow.errors import JobFailedError, MissingDependencyError

ENGINES = ("yte", "jinja2")


def render(engine: str, template: str, target: str, variables: dict[str, Any],
           rule: str) -> None:
    """Render ``template`` (a path) to ``target`` (a path) with ``engine``."""
    if engine not in ENGINES:
        raise JobFailedError(f"Unsupported template engine {engine} in rule {rule}. So far, "
                             "only yte and jinja2 are supported.")
    try:
        module = __import__(engine)
    except ImportError:
        raise MissingDependencyError(f"template_engine: {engine!r} needs the {engine} package",
                                     hint=f"pip install {engine}") from None
    try:
        with open(template, encoding="utf-8") as infile:
            if engine == "jinja2":
                text = module.Template(infile.read()).render(**variables)
                with open(target, "w", encoding="utf-8") as outfile:
                    outfile.write(text)
            else:
                with open(target, "w", encoding="utf-8") as outfile:
                    module.process_yaml(infile, outfile=outfile, variables=variables)
    except Exception as exc:  # the template's own error
        raise JobFailedError(f"Error rendering template in rule {rule}: failed to render "
                             f"{engine} template {template}: {type(exc).__name__}: {exc}",
                             rule=rule) from None


def template_input(inputs: Any, rule: str) -> str:
    """The template: the only input, or the one named ``template`` (as Snakemake)."""
    if len(inputs) == 1:
        return str(inputs[0])
    named = inputs.get("template") if hasattr(inputs, "get") else None
    if named is None:
        raise JobFailedError(f"rule {rule}: more than one input file specified for "
                             "template_engine, but no input file named 'template'")
    return str(named)
