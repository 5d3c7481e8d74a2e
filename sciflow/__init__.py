"""sciflow: a scientific workflow manager with provenance.

Rules in a Snakemake-style language (``Sciflowfile``; real ``Snakefile``s run unchanged) are
parsed with a lark grammar, turned into a file-dependency DAG, planned incrementally, executed
on Dask, and every input, output and parameter is recorded as W3C PROV-O in an RDF store.

The pipeline, one module per stage, data flowing one way::

    parse → model → dag → plan → execute → provenance
"""
__version__ = "0.1.0"


def __getattr__(name: str):
    """Lazy exports, so ``import sciflow`` stays cheap: ``sciflow.Workflow`` (notebook API)."""
    if name == "Workflow":
        from sciflow.api import Workflow

        return Workflow
    raise AttributeError(f"module 'sciflow' has no attribute {name!r}")


def close() -> None:
    """Stop the notebook session's Dask cluster now (it is otherwise kept until the kernel
    exits, so that runs after the first one start at once)."""
    from sciflow.notebook.session import close as close_session

    close_session()


def load_ipython_extension(ipython) -> None:
    """``%load_ext sciflow``: the ``%%sciflow`` cell magic (``sciflow.notebook.magic``)."""
    from sciflow.notebook.magic import load_ipython_extension as load

    load(ipython)
