"""W3C PROV-O provenance of sciflow runs, in an embedded Oxigraph store.

    >>> import sciflow.provenance as prov          # doctest: +SKIP
    >>> p = prov.open(".")                         # doctest: +SKIP
    >>> p.lineage("results/summary.txt")           # doctest: +SKIP

Modules: ``record`` (the ``ProvenanceRecorder`` listener), ``store`` (the Oxigraph store),
``query`` (named audit queries as DataFrames), ``verify`` (re-hashing), ``serialize`` (every
export: Turtle, TriG, N-Quads, JSON-LD, PROV-N, PROV-JSON, RO-Crate), ``vocab``; for scientific
data ``fingerprint`` (content fingerprints of HDF5/NetCDF), ``resolve`` (which recorded version a
file is, by checksum or stamp), ``sources`` (each run's workflow/config/script files archived)
and ``reproduce`` (``sciflow prov reproduce``). The model is in provenance/README.md.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from sciflow.provenance.query import Provenance


def open(workdir=".") -> "Provenance":  # noqa: A001 - the public API name
    """The provenance recorded in ``workdir``: ``.graph``, ``.query(sparql)``, audit queries."""
    from sciflow.provenance.query import Provenance

    return Provenance(workdir)


def __getattr__(name: str):
    if name == "ProvenanceRecorder":
        from sciflow.provenance.record import ProvenanceRecorder

        return ProvenanceRecorder
    raise AttributeError(name)
