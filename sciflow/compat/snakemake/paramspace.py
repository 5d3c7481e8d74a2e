"""``snakemake.utils.Paramspace``: a pandas table of parameter combinations turned into file
patterns — one ``name~value`` path component per column (or some columns joined into the file
name) — and back (``instance(wildcards)`` → the row's typed values, for ``params:``)."""
from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

from sciflow.errors import WorkflowError
from sciflow.wildcards import compile_pattern


class Paramspace:
    """``Paramspace(df, filename_params=None, param_sep="~", filename_sep="_",
    single_wildcard=None)`` as in Snakemake: ``wildcard_pattern`` (``a~{a}/b~{b}``),
    ``instance_patterns`` (one per row, ``a~1/b~x``; missing values as ``NA``),
    ``instance(wildcards)``; other attributes and ``[...]`` go to the table."""

    def __init__(self, dataframe: Any, filename_params: Sequence[str] | str | None = None,
                 param_sep: str = "~", filename_sep: str = "_",
                 single_wildcard: str | None = None) -> None:
        columns = list(dataframe.columns)
        if filename_params == "*":
            filename_params = columns
        in_name = list(filename_params or [])
        unknown = [c for c in in_name if c not in columns]
        if unknown:
            raise KeyError(f"filename_params {unknown} are not columns of the parameter table")
        if len(set(in_name)) != len(in_name):
            raise ValueError("filename_params must be unique")
        self._folders = [c for c in columns if c not in in_name]
        self._in_name = in_name
        self.param_sep = param_sep
        self.filename_sep = filename_sep
        self.single_wildcard = single_wildcard
        self.ordered_columns = self._folders + in_name
        self.dataframe = dataframe[self.ordered_columns]

    def _path(self, parts: Sequence[str]) -> str:
        """Folder components, then the file-name components joined by ``filename_sep``."""
        n = len(self._folders)
        if not self._in_name:
            return "/".join(parts)
        return "/".join([*parts[:n], self.filename_sep.join(parts[n:])])

    @property
    def wildcard_pattern(self) -> str:
        if self.single_wildcard:
            return "{" + self.single_wildcard + "}"
        return self._path([f"{c}{self.param_sep}{{{c}}}" for c in self.ordered_columns])

    @property
    def instance_patterns(self) -> Iterator[str]:
        import pandas as pd

        for row in self.dataframe.itertuples(index=False):
            yield self._path([f"{c}{self.param_sep}{'NA' if pd.isna(v) else v}"
                              for c, v in zip(self.ordered_columns, row)])

    def instance(self, wildcards: Mapping[str, Any]) -> dict[str, Any]:
        """The parameter values of the job's wildcards, typed as the table's columns."""
        if self.single_wildcard:
            value = wildcards.get(self.single_wildcard)
            if value is None:
                raise WorkflowError(f"Paramspace: the rule has no wildcard "
                                    f"{self.single_wildcard!r}")
            pattern = self._path([f"{c}{self.param_sep}{{{c}}}" for c in self.ordered_columns])
            match = compile_pattern(pattern).match(value)
            if match is None:
                raise WorkflowError(f"Paramspace: {self.single_wildcard}={value!r} does not "
                                    f"match {pattern!r}")
            values = match.groupdict()
        else:
            values = {k: v for k, v in wildcards.items() if k in self.ordered_columns}
        return {name: self._typed(name, value) for name, value in values.items()}

    def _typed(self, name: str, value: str) -> Any:
        import pandas as pd

        dtype = self.dataframe.dtypes[name]
        if dtype == bool and value == "False":
            return False  # astype(bool) would make any non-empty string True
        if value == "NA":
            return pd.NA
        return pd.Series([value]).astype(dtype)[0]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "dataframe":
            raise AttributeError(name)
        return self._wrap(getattr(self.dataframe, name))

    def __getitem__(self, key: Any) -> Any:
        return self._wrap(self.dataframe[key])

    @staticmethod
    def _wrap(value: Any) -> Any:
        import pandas as pd
        return Paramspace(value) if isinstance(value, pd.DataFrame) else value


__all__ = ["Paramspace"]
