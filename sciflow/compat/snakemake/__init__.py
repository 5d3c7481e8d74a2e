"""What workflow code gets for ``import snakemake`` (see :mod:`sciflow.compat`).

``__version__`` is the Snakemake language level sciflow implements: ``min_version("8.0")``
and version checks written against it behave as under a current Snakemake.
"""
from sciflow.compat.snakemake import (exceptions, io, iocontainers, ioutils, logging, script,
                                      shell, utils, workflow)

__version__ = "9.0.0"

__all__ = ["exceptions", "io", "iocontainers", "ioutils", "logging", "script", "shell", "utils",
           "workflow", "__version__"]
