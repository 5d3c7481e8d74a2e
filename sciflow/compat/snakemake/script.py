"""``snakemake.script``: ``from snakemake.script import snakemake`` inside a ``script:`` or a
``notebook:`` gives the job's ``snakemake`` object (input, output, params, wildcards, threads,
resources, log, config, rule, scriptdir, bench_iteration). The job's preamble sets it (see
:func:`sciflow.compat.activate`); outside a job it is None."""
from typing import Any

from sciflow.execute.script import Snakemake

snakemake: Any = None

__all__ = ["snakemake", "Snakemake"]
