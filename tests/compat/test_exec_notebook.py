"""Issue 8 item 2 for ``notebook:`` jobs: the Jupyter kernel (its own session, as Jupyter
starts it) and whatever the notebook starts are guarded like a ``script:`` job's process
group, so they die with a SIGKILLed worker or driver. Real ``sciflow run`` subprocesses, real
Dask workers and kernels, psutil to look for survivors."""
from __future__ import annotations

import os
import signal
import sys
import time

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
nbformat = pytest.importorskip("nbformat")

from reliability.proctools import alive, sleepers, start_run, token, wait_for, worker_of  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux process tree")


def notebook_workflow(tmp_path, tok: str, late: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import subprocess\n"
        f"subprocess.Popen(['bash', '-c', 'sleep {late}; echo late > late.txt'])\n"
        f"subprocess.run(['sleep', '{tok}'])\n"
        "open(snakemake.output[0], 'w').write('done')\n")]
    nbformat.write(nb, str(tmp_path / "job.ipynb"))
    (tmp_path / "Snakefile").write_text('''
rule nb:
    output: "out.txt"
    notebook: "job.ipynb"
''')


@pytest.mark.parametrize("victim", ["worker", pytest.param("driver", marks=pytest.mark.slow)])
def test_sigkill_kills_a_notebook_job_s_kernel_and_its_children(tmp_path, victim):
    tok, late = token(), token(4)
    notebook_workflow(tmp_path, tok, late)
    proc = start_run(tmp_path, "-c", "1")
    try:
        (sleeper,) = wait_for(lambda: sleepers(tok), timeout=120)
        started = time.monotonic()
        kernel = sleeper.parent()
        assert "ipykernel" in " ".join(kernel.cmdline())
        doomed = [sleeper, kernel, *sleepers(late)]
        if victim == "worker":
            worker_of(kernel).send_signal(signal.SIGKILL)
        else:
            proc.send_signal(signal.SIGKILL)  # the driver only, not its process group
        wait_for(lambda: not alive(doomed), timeout=15)
    finally:  # the run itself is not under test: end it (a retry may be sleeping again)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        for p in alive(sleepers(tok) + sleepers(late)):  # never leave them to other tests
            p.kill()
    time.sleep(max(0.0, float(late) + 1 - (time.monotonic() - started)))
    assert not (tmp_path / "late.txt").exists() and not (tmp_path / "out.txt").exists()
