"""``snakemake.workflow``: ``srcdir(path)`` — a path relative to the workflow file that calls
it (older Snakefiles import it; ``workflow.source_path`` is the newer spelling)."""
from __future__ import annotations

import os
import sys


def srcdir(path: str) -> str:
    """``path`` joined to the folder of the calling workflow file (absolute)."""
    frame = sys._getframe(1)
    workflow = frame.f_globals.get("workflow")
    calling = frame.f_code.co_filename
    if hasattr(workflow, "absolute"):
        calling = workflow.absolute(calling)
    return os.path.join(os.path.dirname(os.path.abspath(calling)), path)


__all__ = ["srcdir"]
