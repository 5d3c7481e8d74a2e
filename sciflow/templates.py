"""``template_engine:`` rules: render the rule's input template into its output file.

Snakemake compiles ``template_engine: "yte"`` (or ``"jinja2"``) into a ``run:``-like body that
calls its renderer; ``sciflow.compile`` does the same, so the job runs in the worker like a
``run:`` block and calls :func:`render_template` here. The template sees ``params``,
``wildcards``, ``config`` and ``input``, as in Snakemake. Both engines work offline; their
libraries (``yte``, ``jinja2``) are imported only when such a rule runs.
"""
from __future__ import annotations

from typing import Any

from sciflow.errors import JobFailedError, MissingDependencyError

ENGINES = ("yte", "jinja2")


def render_template(engine: Any, input: Any, output: Any, params: Any, wildcards: Any,
                    config: Any, rule: str) -> None:
    """Render the template (the one input, or the input named ``template``) into the one
    output, with ``engine``."""
    if engine not in ENGINES:
        raise JobFailedError(f"unsupported template engine {engine!r} in rule {rule}: use one "
                             f"of {', '.join(ENGINES)}")
    if len(output) != 1:
        raise JobFailedError(f"rule {rule}: a template_engine rule has exactly one output "
                             f"file, got {len(output)}")
    if len(input) == 1:
        template = input[0]
    elif "template" in input.keys():
        template = input.template
    else:
        raise JobFailedError(f"rule {rule}: a template_engine rule with several input files "
                             "must name the template one 'template' (input: template=...)")
    variables = {"params": params, "wildcards": wildcards, "config": config, "input": input}
    module = _engine_module(engine, rule)
    with open(template, encoding="utf-8") as infile, \
            open(output[0], "w", encoding="utf-8") as outfile:
        try:
            if engine == "yte":
                module.process_yaml(infile, outfile=outfile, variables=variables)
            else:
                outfile.write(module.Template(infile.read()).render(**variables))
        except Exception as exc:  # the template's own error, with its message
            raise JobFailedError(f"rule {rule}: failed to render the {engine} template "
                                 f"{template}: {type(exc).__name__}: {exc}") from exc


def _engine_module(engine: str, rule: str) -> Any:
    try:
        return __import__(engine)
    except ImportError:
        raise MissingDependencyError(
            f"rule {rule} renders a {engine} template, but the '{engine}' library is not "
            f"installed", hint=f"Install it: pip install {engine}") from None
