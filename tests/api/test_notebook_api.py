"""The notebook features of the API, in this process (the kernel-only behaviour, widgets and
the cell magic, is in test_kernel.py): rules from text seeing a namespace, a caller's Dask
client, the session cluster, past runs, job logs. Real Dask clusters, real runs."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

import sciflow
from sciflow.api import Workflow
from sciflow.errors import SciflowError
from sciflow.notebook import session

RULES = '''
rule all:
    input: expand("out/{i}.txt", i=range(N))

rule make:
    output: "out/{i}.txt"
    run:
        print("making", wildcards.i)
        with open(output[0], "w") as fh:
            fh.write(shout(wildcards.i))
'''




def notebook(**names):
    """A namespace as a notebook's (``__main__``): its functions exist in no importable module."""
    ns = {"__name__": "__main__"}
    exec('def shout(text):\n    return f"{text}!".upper() + "\\n"\n', ns)
    ns.update(names)
    return ns


def test_from_text_sees_the_namespace_on_the_workers(tmp_path):
    wf = Workflow.from_text(RULES, tmp_path, name="cell", namespace=notebook(N=3))
    assert wf.snakefile == str(tmp_path / "cell.smk")
    assert wf.plan().counts() == {"all": 1, "make": 3}
    run = wf.run(cores=2)
    assert run.ok, run
    # the run: block ran in Dask worker processes, which never imported this test module
    assert {run.to_frame().set_index("id").loc[j.jobid, "host"] for j in run.summary.jobs}
    assert (tmp_path / "out" / "2.txt").read_text() == "2!\n"


def test_a_namespace_changed_later_is_the_one_the_next_run_uses(tmp_path):
    ns = notebook(N=1)
    wf = Workflow.from_text(RULES, tmp_path, name="cell", namespace=ns)
    assert wf.run(cores=1).ok
    ns["shout"] = lambda text: f"quiet {text}\n"  # "redefined in a later cell"
    assert wf.run(cores=1, forceall=True).ok
    assert (tmp_path / "out" / "0.txt").read_text() == "quiet 0\n"


def test_errors_in_text_point_at_the_cell_line(tmp_path):
    broken = 'rule a:\n    output: "a.txt"\n    shell "touch {output}"\n'
    with pytest.raises(SciflowError) as info:
        Workflow.from_text(broken, tmp_path, name="cell", first_line=2).load()
    assert info.value.loc.line == 4  # line 3 of the text is line 4 of a %%sciflow cell
    with pytest.raises(SciflowError) as info:
        Workflow.from_text(broken, tmp_path, name="plain").load()
    assert info.value.loc.line == 3


def test_run_on_a_callers_client_leaves_it_open(tmp_path, dask_scheduler):
    from distributed import Client

    wf = Workflow.from_text(RULES, tmp_path, name="cell", namespace=notebook(N=2))
    with Client(dask_scheduler, set_as_default=False) as client:
        first = wf.run(client=client)
        assert first.ok and client.status == "running"
        assert first.summary.run.executor == client.scheduler.address
        again = wf.run(client=client, forceall=True)
        assert again.ok and client.status == "running"
        workers = set(client.scheduler_info()["workers"])
        assert set(again.to_frame()["host"]) and workers  # ran there
    runs = wf.runs()
    # both runs, whatever their order (two runs can start in the same second; ids end in
    # a random suffix, so sorting ids says nothing about order)
    assert sorted(runs["run_id"]) == sorted([first.run_id, again.run_id])


def test_session_cluster_is_kept_between_runs_and_closed_on_request(tmp_path):
    wf = Workflow.from_text(RULES, tmp_path, name="cell", namespace=notebook(N=2))
    try:
        assert wf.run(cores=2, session=True).ok
        client = session.session_client(2)
        address = client.scheduler.address
        assert wf.run(cores=2, session=True, forceall=True).ok
        assert session.session_client(2) is client and client.status == "running"
        assert session.session_info()["scheduler"] == address
    finally:
        sciflow.close()
    assert client.status in ("closed", "closing")
    assert session.session_info() is None


def test_runs_is_empty_before_the_first_run(tmp_path):
    wf = Workflow.from_text(RULES, tmp_path, name="cell", namespace=notebook(N=1))
    assert len(wf.runs()) == 0


def test_job_logs_and_failed_tail_in_the_display(tmp_path):
    (tmp_path / "Snakefile").write_text(
        'rule all:\n    input: "b.txt"\n\n'
        'rule a:\n    output: "a.txt"\n    shell: "echo made a; echo a > {output}"\n\n'
        'rule b:\n    input: "a.txt"\n    output: "b.txt"\n'
        '    shell: "echo first line; echo the cause >&2; exit 3"\n')
    run = Workflow(tmp_path).run(cores=1)
    assert not run.ok
    frame = run.to_frame().set_index("rule")
    assert frame.loc["a", "log"].endswith(".sciflow/logs/a/%d.log" % frame.loc["a", "id"])
    assert "made a" in frame.loc["a", "log_tail"]
    assert "the cause" in frame.loc["b", "log_tail"]
    log = run.logs("b")
    assert log.path == frame.loc["b", "log"]
    assert log.tail(1) == "the cause"
    assert "first line" in run.logs(int(frame.loc["b", "id"])).text()
    with pytest.raises(KeyError):
        run.logs(999)
    html = ET.tostring(ET.fromstring(run._repr_html_()), encoding="unicode")
    assert "the cause" in html  # the failed job's last lines, in the run's own display
    ET.fromstring(log._repr_html_())
