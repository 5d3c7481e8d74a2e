"""Maps the top-level data folders into the wheel.

`grammar/` becomes the package data of `sciflow.grammar` and `provenance/` (queries, SHACL
shapes, JSON-LD context) becomes `sciflow.vocab`, so an installed sciflow finds them with
importlib.resources. Everything else is in pyproject.toml.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["sciflow", "sciflow.*"])
    + ["sciflow.grammar", "sciflow.vocab", "sciflow.vocab.queries", "sciflow.vocab.shapes"],
    # the data subfolders are listed as packages of their own: setuptools treats every folder
    # as an importable (namespace) package and warns about any it was not told of
    package_dir={"sciflow.grammar": "grammar", "sciflow.vocab": "provenance",
                 "sciflow.vocab.queries": "provenance/queries",
                 "sciflow.vocab.shapes": "provenance/shapes"},
    package_data={
        "sciflow.grammar": ["*.lark"],
        "sciflow.vocab": ["*.jsonld", "*.md"],
        "sciflow.vocab.queries": ["*.rq"],
        "sciflow.vocab.shapes": ["*.ttl"],
    },
)
