"""``snakemake.remote.*`` (Snakemake 7's remote providers): importable as in Snakemake 9 —
pipelines import them and often never use them — while making a provider stops the workflow
with a clear error at the workflow's file:line saying to download the file first."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from oracle import SNAKEMAKE
from sciflow.compat.snakemake.remote import PROVIDERS
from sciflow.dag import build_dag
from sciflow.directives import STORAGE_HINT
from sciflow.errors import WorkflowError
from sciflow.parse import load_workflow

BIN = Path(sys.executable).parent


def load(tmp_path: Path, text: str):
    (tmp_path / "Snakefile").write_text(textwrap.dedent(text))
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        return load_workflow("Snakefile")
    finally:
        os.chdir(old)


def test_every_snakemake9_provider_module_exists():
    import snakemake.remote as real

    shipped = {p.stem for p in Path(real.__file__).parent.glob("*.py")} - {"__init__"}
    assert shipped <= set(PROVIDERS)


def test_importing_providers_is_fine(tmp_path):
    wf = load(tmp_path, """\
        from snakemake.remote import FTP, GS
        from snakemake.remote.HTTP import RemoteProvider as HTTPRemoteProvider
        import snakemake.remote.S3
        import snakemake.remote.zenodo as z
        rule all:
            output: "x.txt"
            shell: "touch {output}"
        """)
    assert "all" in wf.rules
    assert wf.globals["FTP"].RemoteProvider.__name__ == "RemoteProvider"


@pytest.mark.parametrize("line", [
    "ftp = FTP.RemoteProvider()",
    "http = HTTPRemoteProvider(keep_local=True)",
])
def test_making_a_provider_is_a_clear_error_at_its_line(tmp_path, line):
    with pytest.raises(WorkflowError) as info:
        load(tmp_path, f"""\
            from snakemake.remote import FTP
            from snakemake.remote.HTTP import RemoteProvider as HTTPRemoteProvider

            {line}
            """)
    err = info.value
    assert err.loc is not None and err.loc.line == 4 and err.loc.path.endswith("Snakefile")
    assert "remote providers" in str(err) and "not supported" in str(err)
    assert err.hint == STORAGE_HINT  # the storage error's wording: download the file first
    assert "Traceback" not in err.format()


def test_provider_made_in_an_input_function_names_the_workflow_line(tmp_path):
    wf = load(tmp_path, """\
        from snakemake.remote import FTP

        def remote_input(wildcards):
            return FTP.RemoteProvider().remote("ftp.example.org/x.txt")

        rule all:
            input: remote_input
        """)
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(WorkflowError) as info:
            build_dag(wf, [])
    finally:
        os.chdir(old)
    assert info.value.loc is not None and info.value.loc.line == 4
    assert "download the file first" in (info.value.hint or "")


def test_snakemake7_auto_provider_is_the_same_error(tmp_path):
    with pytest.raises(WorkflowError) as info:
        load(tmp_path, "from snakemake.remote import AUTO\n")
    assert info.value.loc.line == 1 and "snakemake.remote.AUTO" in str(info.value)


@pytest.mark.snakemake
def test_cli_as_snakemake_imports_then_stops_on_use(tmp_path):
    """Differential: Snakemake 9 plans a workflow that only imports a provider, and stops on
    making one; so does sciflow (with its own message)."""
    for tool, argv in (("snakemake", [str(SNAKEMAKE), "-n", "-c", "1", "--quiet"]),
                       ("sciflow", [str(BIN / "sciflow"), "run", "-n"])):
        folder = tmp_path / tool
        folder.mkdir()
        (folder / "Snakefile").write_text(
            "from snakemake.remote import FTP\nrule all:\n    output: 'x'\n    shell: 'touch x'\n")
        assert subprocess.run(argv, cwd=folder, capture_output=True, timeout=120).returncode == 0
        (folder / "Snakefile").write_text("from snakemake.remote import FTP\nftp = FTP.RemoteProvider()\n")
        res = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=120)
        assert res.returncode != 0
        if tool == "sciflow":
            assert "Snakefile:2:" in res.stderr and "download the file first" in res.stderr
            assert "Traceback" not in res.stderr
