"""``snakemake.logging``: ``logger`` (``logger.info``/``warning``/``error``/``debug``), a
standard-library logger under sciflow's tree so sciflow's handlers decide where it goes."""
import logging as _logging

logger = _logging.getLogger("sciflow.workflow")

__all__ = ["logger"]
