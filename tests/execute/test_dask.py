"""DaskExecutor on real Dask: a loopback LocalCluster, and external scheduler/worker processes."""
from __future__ import annotations

import time

import pytest

from sciflow.errors import ExecutorError
from sciflow.execute.dask import DaskExecutor
from sciflow.execute.spec import make_spec


def run_all(executor, specs, timeout=120):
    for spec in specs:
        executor.submit(spec)
    results, deadline = {}, time.time() + timeout
    while len(results) < len(specs) and time.time() < deadline:
        for res in executor.wait(timeout=5):
            results[res.jobid] = res
    assert len(results) == len(specs), "timed out waiting for jobs"
    return results


@pytest.fixture(scope="module")
def local():
    ex = DaskExecutor(cores=2, cluster_options={"resources": {"mem_mb": 1000}})
    ex.start()
    yield ex
    ex.shutdown()


def test_local_cluster_is_loopback_only_and_runs_jobs(local, jobs):
    assert local.address.startswith("tls://127.0.0.1:")
    info = local.client.scheduler_info()
    assert all(addr.startswith("tls://127.0.0.1:") for addr in info["workers"])
    assert len(info["workers"]) == 2
    specs = [make_spec(jobs("shell", "echo {wildcards.i} > {output}", output=[f"o/{i}.txt"],
                            wildcards={"i": str(i)}), jobs.workflow, str(jobs.root))
             for i in range(20)]
    results = run_all(local, specs)
    assert all(r.ok for r in results.values()), [r.error for r in results.values()]
    assert {r.worker for r in results.values()} <= set(info["workers"])
    for i in range(20):
        assert (jobs.root / f"o/{i}.txt").read_text() == f"{i}\n"


def test_failed_job_comes_back_as_a_result(local, jobs):
    spec = make_spec(jobs("shell", "exit 7", output=["f.txt"]), jobs.workflow, str(jobs.root))
    (res,) = run_all(local, [spec]).values()
    assert not res.ok and res.exit_code == 7 and "status 7" in res.error


def test_wait_with_timeout_returns_empty_when_nothing_finished(local, jobs):
    spec = make_spec(jobs("shell", "sleep 1.5; touch {output}", output=["s.txt"]),
                     jobs.workflow, str(jobs.root))
    local.submit(spec)
    t0 = time.time()
    assert local.wait(timeout=0.2) == []
    assert time.time() - t0 < 1.0
    assert local.wait(timeout=0) == []
    results = []
    while not results:
        results = local.wait(timeout=10)
    assert results[0].ok and results[0].jobid == spec.jobid


def test_unsatisfiable_resources_fail_fast(local, jobs):
    spec = make_spec(jobs("shell", "touch {output}", output=["m.txt"],
                          resources={"mem_mb": 5000}), jobs.workflow, str(jobs.root))
    t0 = time.time()
    local.submit(spec)
    (res,) = local.wait(timeout=30)
    assert time.time() - t0 < 5
    assert not res.ok and "mem_mb=5000" in res.error and "1000" in res.error
    # a request that fits runs (and an unknown resource is not a constraint)
    spec = make_spec(jobs("shell", "touch {output}", output=["m2.txt"],
                          resources={"mem_mb": 800, "gpu_hours": 3}), jobs.workflow, str(jobs.root))
    (res,) = run_all(local, [spec]).values()
    assert res.ok


def test_unpicklable_params_fail_the_job_not_the_run(local, jobs):
    import threading
    spec = make_spec(jobs("shell", "touch {output}", output=["p.txt"],
                          params={"lock": threading.Lock()}), jobs.workflow, str(jobs.root))
    local.submit(spec)
    (res,) = local.wait(timeout=30)
    assert not res.ok and "cannot be sent to a worker" in res.error


def test_print_in_run_blocks_goes_to_the_job_log_per_thread(jobs, capsys):
    """Two run: jobs printing in parallel threads of one process each log only their own."""
    from concurrent.futures import ThreadPoolExecutor
    from sciflow.execute.stdout import capture_python_output

    def fake_job(name):
        path = jobs.root / f"{name}.log"
        with open(path, "ab", buffering=0) as raw, capture_python_output(raw):
            for _ in range(200):
                print(name)
        return path.read_text().split()

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(fake_job, ["alpha", "beta"])
    assert set(a) == {"alpha"} and set(b) == {"beta"} and len(a) == len(b) == 200
    print("after")
    assert "after" in capsys.readouterr().out


def test_killed_worker_becomes_a_failed_result(jobs):
    ex = DaskExecutor(cores=1)
    with ex:
        spec = make_spec(jobs("shell", "kill -9 $PPID; sleep 5", output=["k.txt"]),
                         jobs.workflow, str(jobs.root))
        (res,) = run_all(ex, [spec]).values()
        assert not res.ok and res.error_type == "KilledWorker"
        assert "died" in res.error
        # the cluster recovers: the nanny restarts the worker and the next job runs
        spec = make_spec(jobs("shell", "touch {output}", output=["after.txt"]),
                         jobs.workflow, str(jobs.root))
        (res,) = run_all(ex, [spec]).values()
        assert res.ok


def test_external_scheduler_runs_jobs_and_is_left_running(external_scheduler, jobs):
    ex = DaskExecutor(scheduler_address=external_scheduler)
    with ex:
        assert ex.address == external_scheduler
        spec = make_spec(jobs("shell", "echo $$ > {output}", output=["e.txt"], threads=2),
                         jobs.workflow, str(jobs.root))
        (res,) = run_all(ex, [spec]).values()
        assert res.ok and res.worker.startswith("tcp://127.0.0.1:")
        assert (jobs.root / "e.txt").exists()
        too_big = make_spec(jobs("shell", "true", output=["t.txt"], threads=64),
                            jobs.workflow, str(jobs.root))
        (res,) = run_all(ex, [too_big]).values()  # threads are capped, as Snakemake caps them
        assert not res.ok and "outputs are missing" in res.error
    # shutting down our client left the external scheduler alive: a new client connects
    with DaskExecutor(scheduler_address=external_scheduler) as again:
        spec = make_spec(jobs("shell", "touch {output}", output=["e2.txt"]),
                         jobs.workflow, str(jobs.root))
        assert run_all(again, [spec])[spec.jobid].ok


def test_unreachable_scheduler_is_an_executor_error():
    ex = DaskExecutor(scheduler_address="tcp://127.0.0.1:9", connect_timeout=2)
    with pytest.raises(ExecutorError, match="cannot connect"):
        ex.start()


RUN_SNAKEFILE = '''\
import os
rule make:
    output: "out/{name}.txt"
    run:
        with open(output[0], "w") as fh:
            fh.write(f"{wildcards.name} {os.getpid()}\\n")
'''


def test_run_blocks_execute_in_worker_processes_that_load_the_workflow(local, tmp_path):
    """The worker never receives the live namespace: it loads the Snakefile itself, once."""
    import sciflow.parse as parse
    import os
    from sciflow.jobs import Job
    from sciflow.model import NamedList, Wildcards
    (tmp_path / "Snakefile").write_text(RUN_SNAKEFILE)
    wf = parse.load_workflow(str(tmp_path / "Snakefile"))
    rule = wf.rules["make"]
    specs = [make_spec(Job(jobid=i, rule=rule, wildcards=Wildcards({"name": f"n{i}"}),
                           input=NamedList(), output=NamedList([f"out/n{i}.txt"])),
                       wf, str(tmp_path)) for i in range(8)]
    results = run_all(local, specs)
    assert all(r.ok for r in results.values()), [r.error for r in results.values()]
    pids = set()
    for i in range(8):
        name, pid = (tmp_path / f"out/n{i}.txt").read_text().split()
        assert name == f"n{i}"
        pids.add(int(pid))
    assert os.getpid() not in pids  # ran in worker processes, not here


def test_script_without_main_guard_gets_a_clear_error(tmp_path):
    import subprocess
    import sys
    script = tmp_path / "noguard.py"
    script.write_text("from sciflow.execute.dask import DaskExecutor\n"
                      "from sciflow.errors import ExecutorError\n"
                      "try:\n"
                      "    DaskExecutor(cores=1).start()\n"
                      "except ExecutorError as err:\n"
                      "    import multiprocessing\n"
                      "    if multiprocessing.parent_process() is None:\n"
                      "        print('CLEAR', err.hint)\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert "CLEAR" in proc.stdout and "__main__" in proc.stdout


def test_short_jobs_of_a_rule_are_batched_and_each_reports_alone(local, jobs):
    from sciflow.jobs import Job
    from sciflow.model import NamedList, Wildcards

    first = jobs("shell", "test {wildcards.i} != 13 && echo {wildcards.i} > {output}",
                 output=["b/0.txt"], wildcards={"i": "0"}, name="quick")

    def spec(i):
        job = Job(jobid=1000 + i, rule=first.rule, wildcards=Wildcards({"i": str(i)}),
                  input=NamedList(), output=NamedList([f"b/{i}.txt"]), params=NamedList())
        return make_spec(job, jobs.workflow, str(jobs.root))

    warmup = run_all(local, [spec(i) for i in range(10)])  # one by one: nothing known yet
    assert all(r.ok for r in warmup.values())
    later = [spec(i) for i in range(10, 22)]
    for s in later:
        local.submit(s)
    local._flush()
    assert any(len(items) > 1 for items in local._pending.values())  # sent as batches
    results = {}
    deadline = time.time() + 60
    while len(results) < len(later) and time.time() < deadline:
        for res in local.wait(timeout=5):
            results[res.jobid] = res
    assert set(results) == {s.jobid for s in later}
    for s in later:  # a failing job in a batch fails alone; the others made their files
        i = s.jobid - 1000
        assert results[s.jobid].ok == (i != 13), results[s.jobid].error
        assert (jobs.root / f"b/{i}.txt").exists() == (i != 13)


def test_slow_rules_are_never_batched(local, jobs):
    from sciflow.jobs import Job
    from sciflow.model import NamedList, Wildcards

    first = jobs("shell", "sleep 0.25; touch {output}", output=["s/0.txt"], name="slowish")

    def spec(i):
        job = Job(jobid=2000 + i, rule=first.rule, wildcards=Wildcards({}), input=NamedList(),
                  output=NamedList([f"s/{i}.txt"]), params=NamedList())
        return make_spec(job, jobs.workflow, str(jobs.root))

    assert all(r.ok for r in run_all(local, [spec(i) for i in range(8)]).values())
    more = [spec(i) for i in range(8, 12)]
    for s in more:
        local.submit(s)
    local._flush()
    assert all(len(items) == 1 for items in local._pending.values())
    results = {}
    deadline = time.time() + 60
    while len(results) < len(more) and time.time() < deadline:
        for res in local.wait(timeout=5):
            results[res.jobid] = res
    assert all(r.ok for r in results.values()) and len(results) == len(more)
