"""``snakemake.settings`` (Snakemake 8/9): the enums published workflows test settings with,
e.g. ``DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method``."""
from sciflow.compat.snakemake.settings import types

__all__ = ["types"]
