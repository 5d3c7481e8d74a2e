"""``runtime`` limits every action (issue 8, deliverable 8): ``run:`` blocks and ``script:``
jobs too, reported as a timeout (``JobTimeoutError``) that names the limit."""
from __future__ import annotations

import os
import sys
import time

import pytest

from .proctools import alive, sleepers, token
from sciflow.engine import RunOptions, run
from sciflow.errors import JobTimeoutError, RunFailedError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork()")


def _run(tmp_path, **kw):
    return run(RunOptions(directory=str(tmp_path), cores=2, command_line=["sciflow", "run"], **kw))


def test_run_and_script_jobs_are_killed_at_their_runtime_limit(tmp_path):
    tok = token(40)
    (tmp_path / "slow.py").write_text(
        "import subprocess, time\n"
        f"subprocess.run(['sleep', '{tok}'])\n"
        "open(snakemake.output[0], 'w').write('late')\n")
    (tmp_path / "Snakefile").write_text(f'''
rule all:
    input: "run.txt", "script.txt", "ok.txt", "bad.txt"

rule by_run:
    output: "run.txt"
    resources: runtime="2s"
    run:
        import subprocess
        subprocess.run(["sleep", "{tok}"])
        open(output[0], "w").write("late")

rule by_script:
    output: "script.txt"
    resources: runtime="2s"
    script: "slow.py"

# within their limits: the child process still writes outputs, captures print() in the
# job's log, reports the user's exception -- and is not the worker process itself
rule ok:
    output: "ok.txt"
    resources: runtime=5
    run:
        import os
        print("hello from pid", os.getpid())
        with open(output[0], "w") as fh:
            fh.write(str(os.getppid()))

rule bad:
    output: "bad.txt"
    resources: runtime=5
    run:
        raise ValueError("broken on purpose")
''')
    t0 = time.monotonic()
    with pytest.raises(RunFailedError) as info:
        _run(tmp_path, keep_going=True)
    took = time.monotonic() - t0
    failures = {f.rule: f for f in info.value.failures}
    assert set(failures) == {"by_run", "by_script", "bad"}
    for rule in ("by_run", "by_script"):
        assert isinstance(failures[rule], JobTimeoutError), failures[rule].format()
        assert "runtime limit ('2s' = 2 s)" in failures[rule].format()
    assert not isinstance(failures["bad"], JobTimeoutError)
    assert "ValueError: broken on purpose" in failures["bad"].format()
    (log,) = (tmp_path / ".sciflow" / "logs" / "ok").glob("*.log")
    assert "hello from pid" in log.read_text()
    parent = int((tmp_path / "ok.txt").read_text())
    assert parent != os.getpid()  # its parent was a worker, not this driver: a child process
    assert took < 30, took  # not the 40 s the actions wanted
    assert not alive(sleepers(tok))
    assert not (tmp_path / "run.txt").exists() and not (tmp_path / "script.txt").exists()
