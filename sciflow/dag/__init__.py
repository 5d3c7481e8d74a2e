"""The dag stage: from targets to ``Job``s and their dependencies.

One front door, ``build_dag(workflow, targets) -> DAG``; the modules behind it:

* ``build``       the graph search (targets, producers, backtracking, errors) and ``DAG``;
* ``index``       which rules can make a path (``RuleIndex`` by constant prefix/suffix);
* ``factory``     a rule plus wildcard values → a ``Job`` (calls user input/params functions);
* ``checkpoints`` what ``checkpoints.<name>.get`` answers while the graph grows;
* ``render``      pictures: dot, Mermaid, SVG.

Data flows one way: build uses index, factory and checkpoints; render only reads a built DAG.
"""
from __future__ import annotations

from sciflow.dag.build import DAG, build_dag
from sciflow.dag.render import render_svg

__all__ = ["DAG", "build_dag", "render_svg"]
