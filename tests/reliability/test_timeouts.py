"""``runtime`` limits every action (issue 8, deliverable 8): ``run:`` blocks and ``script:``
jobs too, reported as a timeout (``JobTimeoutError``) that names the limit."""
from __future__ import annotations

import sys
import time

import pytest

from proctools import alive, sleepers, token
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
    input: "run.txt", "script.txt"

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
''')
    t0 = time.monotonic()
    with pytest.raises(RunFailedError) as info:
        _run(tmp_path, keep_going=True)
    took = time.monotonic() - t0
    failures = {f.rule: f for f in info.value.failures}
    assert set(failures) == {"by_run", "by_script"}
    for failure in failures.values():
        assert isinstance(failure, JobTimeoutError), failure.format()
        assert "runtime limit ('2s' = 2 s)" in failure.format()
    assert took < 30, took  # not the 40 s the actions wanted
    assert not alive(sleepers(tok))
    assert not (tmp_path / "run.txt").exists() and not (tmp_path / "script.txt").exists()


def test_a_run_block_within_its_limit_behaves_as_in_the_worker(tmp_path):
    """The child process still writes outputs, captures print() in the job's log and
    reports the user's exception."""
    (tmp_path / "Snakefile").write_text('''
rule all:
    input: "ok.txt", "bad.txt"

rule ok:
    output: "ok.txt"
    resources: runtime=5
    run:
        print("hello from the child")
        with open(output[0], "w") as fh:
            fh.write("ok")

rule bad:
    output: "bad.txt"
    resources: runtime=5
    run:
        raise ValueError("broken on purpose")
''')
    with pytest.raises(RunFailedError) as info:
        _run(tmp_path, keep_going=True)
    (failure,) = info.value.failures
    assert failure.rule == "bad" and "ValueError: broken on purpose" in failure.format()
    assert (tmp_path / "ok.txt").read_text() == "ok"
    logs = list((tmp_path / ".sciflow" / "logs" / "ok").glob("*.log"))
    assert logs and "hello from the child" in logs[0].read_text()
