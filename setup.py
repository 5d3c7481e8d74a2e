"""Maps the top-level data folders into the wheel.

`grammar/` becomes the package data of `sciflow.grammar` and `provenance/` (queries, SHACL
shapes, JSON-LD context) becomes `sciflow.vocab`, so an installed sciflow finds them with
importlib.resources. Everything else is in pyproject.toml.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["sciflow", "sciflow.*"])
    + ["sciflow.grammar", "sciflow.vocab"],
    package_dir={"sciflow.grammar": "grammar", "sciflow.vocab": "provenance"},
    package_data={
        "sciflow.grammar": ["*.lark"],
        "sciflow.vocab": ["*.jsonld", "*.md", "queries/*.rq", "shapes/*.ttl"],
    },
)
