"""A small workflow over a raw NetCDF input, run by the real engine (shared by the content
tests): data/in.nc (raw: tas in K) -> rule mean -> results/mean.txt; -> rule scale ->
data/scaled.nc (NetCDF, stamped) -> rule total -> results/total.txt."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

import sciflow.engine as engine

SNAKEFILE = '''configfile: "config.yaml"

rule all:
    input: "results/mean.txt", "results/total.txt"

rule mean:
    input: "data/in.nc"
    output: "results/mean.txt"
    run:
        import xarray as xr
        with xr.open_dataset(input[0]) as ds:
            value = float(ds.tas.mean())
        with open(output[0], "w") as fh:
            fh.write(f"{value:.6f}\\n")

rule scale:
    input: "data/in.nc"
    output: "data/scaled.nc"
    params: factor=config["factor"]
    run:
        import xarray as xr
        with xr.open_dataset(input[0]) as ds:
            out = (ds.tas * params.factor).to_dataset(name="tas_scaled")
            out.tas_scaled.attrs["units"] = "K"
            out.to_netcdf(output[0])

rule total:
    input: "data/scaled.nc"
    output: "results/total.txt"
    run:
        import xarray as xr
        with xr.open_dataset(input[0]) as ds:
            total = float(ds.tas_scaled.sum())
        shell(f"echo {total:.4f} > {output}")
'''


def write_input(path: Path, bump: float = 0.0, compress: bool = False) -> None:
    tas = np.linspace(270.0, 280.0, 24).reshape(2, 3, 4)
    tas[0, 0, 0] += bump
    ds = xr.Dataset({"tas": (("time", "lat", "lon"), tas, {"units": "K"})},
                    coords={"lat": [10.0, 20.0, 30.0], "lon": [0.0, 90.0, 180.0, 270.0]})
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path, encoding={"tas": {"zlib": True}} if compress else None)


def make(workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "Sciflowfile").write_text(SNAKEFILE)
    (workdir / "config.yaml").write_text("factor: 2\n")
    write_input(workdir / "data/in.nc")
    return workdir


def run(workdir: Path, dry_run: bool = False, **kw):
    opts = engine.RunOptions(directory=str(workdir), snakefile=str(workdir / "Sciflowfile"),
                             cores=1, dry_run=dry_run, command_line=["sciflow", "run"], **kw)
    summary = engine.run(opts)
    assert summary.ok
    return summary
