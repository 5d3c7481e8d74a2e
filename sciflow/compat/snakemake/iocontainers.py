"""``snakemake.iocontainers`` (Snakemake 9's home of ``Namedlist``, ``InputFiles``, ...; older
Snakemake had them in ``snakemake.io``, where sciflow offers them too)."""
from sciflow.compat.snakemake.io import (InputFiles, Log, Namedlist, OutputFiles, Params,
                                         Resources, Wildcards)

__all__ = ["Namedlist", "InputFiles", "OutputFiles", "Params", "Log", "Resources", "Wildcards"]
