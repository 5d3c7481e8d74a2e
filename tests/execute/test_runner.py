"""run_job on real files and real processes: atomic outputs, logs, timeouts, scripts, benchmarks."""
from __future__ import annotations

import os
import re
import shutil
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from helpers import sha256
from sciflow.execute.runner import run_job
from sciflow.execute.spec import TEMP_PREFIX, make_spec, runtime_seconds
from sciflow.model import IOFile


def run(jobs, *args, atomic=False, **kwargs):
    job = jobs(*args, **kwargs)
    spec = make_spec(job, jobs.workflow, str(jobs.root), atomic_outputs=atomic)
    return spec, run_job(spec)


both_modes = pytest.mark.parametrize("atomic", [False, True], ids=["direct", "atomic"])


def leftovers(root: Path) -> list[str]:
    return [str(p) for p in root.rglob(f"{TEMP_PREFIX}*")]


@both_modes
def test_success_puts_output_in_place_and_records_result(jobs, atomic):
    spec, res = run(jobs, "shell", "echo {config[greeting]} {wildcards.s} > {output}",
                    output=["out/a.txt"], wildcards={"s": "x"}, atomic=atomic)
    assert res.ok and res.exit_code == 0 and res.error is None
    assert (jobs.root / "out/a.txt").read_text() == "hello x\n"
    assert res.command == "echo hello x > out/a.txt"
    assert (TEMP_PREFIX in spec.exec_command) == atomic and res.host
    assert res.started <= res.ended and not leftovers(jobs.root)


def test_default_mode_writes_the_files_snakemake_writes(jobs):
    """A command that prints {output} into the file, and one that appends to an old output."""
    (jobs.root / "out").mkdir()
    (jobs.root / "out/app.txt").write_text("old line\n")
    _, res = run(jobs, "shell", "for f in {output}; do echo $f >> $f; done",
                 output=["out/app.txt", "out/b.txt"])
    assert res.ok
    assert (jobs.root / "out/app.txt").read_text() == "out/app.txt\n"  # old output was removed
    assert (jobs.root / "out/b.txt").read_text() == "out/b.txt\n"


def test_default_mode_failure_leaves_outputs_for_the_scheduler(jobs):
    _, res = run(jobs, "shell", "echo partial > {output}; exit 2", output=["out/p.txt"])
    assert not res.ok and res.exit_code == 2
    assert (jobs.root / "out/p.txt").exists()  # removed by the scheduler unless --keep-incomplete


def test_failing_command_leaves_no_partial_output(jobs):
    spec, res = run(jobs, "shell", "echo partial > {output}; echo oops >&2; exit 3",
                    output=["out/b.txt"], atomic=True)
    assert not res.ok and res.exit_code == 3
    assert "exited with status 3" in res.error
    assert not (jobs.root / "out/b.txt").exists() and not leftovers(jobs.root)
    assert "oops" in res.log_tail  # captured stderr
    assert Path(res.stdout_log).read_text().strip() == "oops"


def test_failure_keeps_the_previous_output_untouched(jobs):
    (jobs.root / "out").mkdir()
    (jobs.root / "out/c.txt").write_text("old\n")
    old = os.stat(jobs.root / "out/c.txt").st_mtime
    time.sleep(0.1)
    _, res = run(jobs, "shell", "echo new > {output}; false", output=["out/c.txt"], atomic=True)
    assert not res.ok and (jobs.root / "out/c.txt").read_text() == "old\n"
    assert os.stat(jobs.root / "out/c.txt").st_mtime == old


@both_modes
def test_missing_output_is_named(jobs, atomic):
    _, res = run(jobs, "shell", "echo {output.a} > {output.a}",
                 output=[("a", "out/a.txt"), ("b", "out/b.txt")], atomic=atomic)
    assert not res.ok and res.error_type == "MissingOutputError"
    assert "out/b.txt" in res.error and "out/a.txt" not in res.error.split("missing:")[1]


@both_modes
def test_command_writing_final_path_itself_is_accepted(jobs, atomic):
    (jobs.root / "res").mkdir()
    (jobs.root / "res/s.bam").write_text("stale")
    _, res = run(jobs, "shell", "echo fresh > {params.prefix}.bam",
                 output=["res/s.bam"], params={"prefix": "res/s"}, atomic=atomic)
    assert res.ok and (jobs.root / "res/s.bam").read_text() == "fresh\n"


@both_modes
def test_stale_output_not_rewritten_is_missing(jobs, atomic):
    (jobs.root / "res").mkdir()
    (jobs.root / "res/old.txt").write_text("stale")
    past = time.time() - 100
    os.utime(jobs.root / "res/old.txt", (past, past))
    _, res = run(jobs, "shell", "true", output=["res/old.txt"], atomic=atomic)
    assert not res.ok and "res/old.txt" in res.error


@both_modes
def test_undeclared_sidecar_files_move_along(jobs, atomic):
    _, res = run(jobs, "shell", "echo x > {output}; echo i > {output}.bai",
                 output=["aln/s.bam"], atomic=atomic)
    assert res.ok
    assert (jobs.root / "aln/s.bam.bai").read_text() == "i\n" and not leftovers(jobs.root)


@both_modes
def test_directory_output_replaces_old_directory(jobs, atomic):
    (jobs.root / "d/old").mkdir(parents=True)
    (jobs.root / "d/old/stale.txt").write_text("x")
    job = jobs("shell", "mkdir {output}; echo 1 > {output}/a.txt",
               output=[IOFile("d/old", {"directory"})])
    spec = make_spec(job, jobs.workflow, str(jobs.root), atomic_outputs=atomic)
    assert spec.directory_outputs == ("d/old",)
    res = run_job(spec)
    assert res.ok, res.error
    assert sorted(os.listdir(jobs.root / "d/old")) == ["a.txt"]


@both_modes
def test_touch_output_is_created(jobs, atomic):
    job = jobs("shell", "true", output=[IOFile("flags/done", {"touch"})])
    res = run_job(make_spec(job, jobs.workflow, str(jobs.root), atomic_outputs=atomic))
    assert res.ok and (jobs.root / "flags/done").exists()


def test_timeout_kills_the_whole_process_group(jobs):
    pids = jobs.root / "pids"
    spec, res = run(jobs, "shell", f"sleep 60 & echo $! > {pids}; sleep 60; touch {{output}}",
                    output=["t.txt"], resources={"runtime": "1s"})
    assert spec.timeout_s == 1.0
    assert not res.ok and res.error_type == "JobTimeoutError"
    assert (res.ended - res.started).total_seconds() < 30
    child = int(pids.read_text())
    deadline = time.time() + 5
    while psutil.pid_exists(child) and psutil.Process(child).status() != psutil.STATUS_ZOMBIE \
            and time.time() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    assert not (jobs.root / "t.txt").exists()


def test_runtime_units():
    assert runtime_seconds(2) == 120 and runtime_seconds("90s") == 90
    assert runtime_seconds("2h") == 7200 and runtime_seconds(None) is None


def test_logs_get_parent_dirs_and_tail_on_failure(jobs):
    _, res = run(jobs, "shell", "for i in $(seq 1 50); do echo line$i; done > {log} 2>&1; false",
                 output=["o.txt"], log=["logs/deep/x.log"])
    assert not res.ok and (jobs.root / "logs/deep/x.log").exists()
    tail = res.log_tail.splitlines()
    assert tail[-1] == "line50" and len(tail) <= 20


def test_benchmark_tsv_has_snakemake_columns(jobs):
    from snakemake.benchmark import BenchmarkRecord
    _, res = run(jobs, "shell", "python3 -c 'b = bytearray(80 * 2**20); import time; "
                 "time.sleep(0.6)'; touch {output}", output=["b.txt"], benchmark="bench/b.tsv")
    assert res.ok
    header, row = (jobs.root / "bench/b.tsv").read_text().splitlines()
    assert header.split("\t") == BenchmarkRecord.get_header()
    values = dict(zip(header.split("\t"), row.split("\t")))
    assert float(values["s"]) >= 0.6 and re.fullmatch(r"0:00:\d\d", values["h:m:s"])
    assert float(values["max_rss"]) >= 80  # the bytearray was seen by the sampler
    assert res.max_rss_mb and res.max_rss_mb >= 80


SCRIPT = '''\
from __future__ import annotations
import json, os
data = {
    "input": list(snakemake.input), "ref": snakemake.input.ref,
    "output0": os.path.basename(snakemake.output[0]), "k": snakemake.params.k,
    "kk": snakemake.params["k"], "sample": snakemake.wildcards.sample,
    "sample2": snakemake.wildcards["sample"], "threads": snakemake.threads,
    "mem": snakemake.resources.mem_mb, "log": list(snakemake.log),
    "greeting": snakemake.config["greeting"], "rule": snakemake.rule,
    "fmt": snakemake.log_fmt_shell(), "file": os.path.basename(__file__),
}
with open(snakemake.output[0], "w") as fh:
    json.dump(data, fh)
'''


@both_modes
def test_python_script_gets_the_snakemake_object(jobs, atomic):
    import json
    (jobs.root / "scripts").mkdir()
    (jobs.root / "scripts/report.py").write_text(SCRIPT)
    (jobs.root / "in.txt").write_text("x")
    job = jobs("script", "scripts/report.py", output=["out/report.json"],
               wildcards={"sample": "S1"}, threads=2, resources={"mem_mb": 300},
               params={"k": 7}, log=["logs/r.log"])
    job.input = type(job.input)(["in.txt"], {"ref": "ref.fa"})
    spec = make_spec(job, jobs.workflow, str(jobs.root), atomic_outputs=atomic)
    assert spec.script == str(jobs.root / "scripts/report.py")
    res = run_job(spec)
    assert res.ok, (res.error, res.log_tail)
    data = json.loads((jobs.root / "out/report.json").read_text())
    assert data == {"input": ["in.txt", "ref.fa"], "ref": "ref.fa", "output0": "report.json",
                    "k": 7, "kk": 7, "sample": "S1", "sample2": "S1", "threads": 2,
                    "mem": 300, "log": ["logs/r.log"], "greeting": "hello",
                    "rule": job.rule.name, "fmt": " > logs/r.log 2>&1", "file": "report.py"}
    assert res.software.get("python") and not leftovers(jobs.root)


def test_script_that_imports_a_package_records_its_version(jobs):
    import importlib.metadata
    (jobs.root / "s.py").write_text("import yaml\nopen(snakemake.output[0], 'w').write('y')\n")
    _, res = run(jobs, "script", "s.py", output=["y.txt"])
    assert res.ok and res.software.get("PyYAML") == importlib.metadata.version("PyYAML")


def test_failing_script_reports_traceback(jobs):
    (jobs.root / "bad.py").write_text("raise ValueError('broken input')\n")
    _, res = run(jobs, "script", "bad.py", output=["z.txt"])
    assert not res.ok and "broken input" in res.log_tail


def test_unsupported_script_type(jobs):
    (jobs.root / "plot.R").write_text("x <- 1\n")
    _, res = run(jobs, "script", "plot.R", output=["p.pdf"])
    assert not res.ok and "unsupported script type .R" in res.error


@pytest.mark.skipif(shutil.which("conda") or shutil.which("mamba") or shutil.which("micromamba"),
                    reason="conda is installed here")
def test_use_conda_without_conda_is_a_clear_error(jobs):
    job = jobs("shell", "touch {output}", output=["c.txt"])
    job.rule.conda = "envs/tools.yaml"
    spec = make_spec(job, jobs.workflow, str(jobs.root), use_conda=True)
    res = run_job(spec)
    assert not res.ok and "conda is not installed" in res.error
    # without --use-conda the environment is only recorded
    spec = make_spec(job, jobs.workflow, str(jobs.root))
    assert spec.conda == str(jobs.root / "envs/tools.yaml") and run_job(spec).ok


@pytest.mark.skipif(shutil.which("apptainer") or shutil.which("singularity"),
                    reason="apptainer is installed here")
def test_use_apptainer_without_apptainer_is_a_clear_error(jobs):
    job = jobs("shell", "touch {output}", output=["c.txt"])
    job.rule.container = "docker://alpine:3"
    res = run_job(make_spec(job, jobs.workflow, str(jobs.root), use_apptainer=True))
    assert not res.ok and "apptainer is not installed" in res.error


def test_notebook_gets_the_snakemake_object(jobs):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        "open(snakemake.output[0], 'w').write(snakemake.wildcards.sample)"))
    nbformat.write(nb, str(jobs.root / "nb.ipynb"))
    _, res = run(jobs, "notebook", "nb.ipynb", output=["nb.txt"], wildcards={"sample": "S9"})
    assert res.ok, (res.error, res.log_tail)
    assert (jobs.root / "nb.txt").read_text() == "S9"


RUN_SNAKEFILE = textwrap.dedent('''\
    import json
    import yaml

    rule all:
        input: "out/a.json"

    rule make:
        output: "out/{name}.json"
        params: k=3
        run:
            data = {"name": wildcards.name, "k": params.k, "greeting": config["greeting"]}
            with open(output[0], "w") as fh:
                json.dump(data, fh)
            shell("echo from-shell > {output[0]}.txt")
            print("printed", yaml.safe_dump({"k": params.k}).strip())
    ''')


@both_modes
def test_run_block_from_a_real_snakefile(tmp_path, atomic):
    import sciflow.parse as parse
    import json
    from sciflow.jobs import Job
    from sciflow.model import NamedList, Wildcards
    (tmp_path / "Snakefile").write_text(RUN_SNAKEFILE)
    wf = parse.load_workflow(str(tmp_path / "Snakefile"), config_overrides={"greeting": "hi"})
    rule = wf.rules["make"]
    job = Job(jobid=2, rule=rule, wildcards=Wildcards({"name": "a"}), input=NamedList(),
              output=NamedList(["out/a.json"]), params=rule.params)
    spec = make_spec(job, wf, str(tmp_path), atomic_outputs=atomic)
    res = run_job(spec)
    assert res.ok, (res.error, res.log_tail)
    assert json.loads((tmp_path / "out/a.json").read_text()) == {
        "name": "a", "k": 3, "greeting": "hi"}
    assert (tmp_path / "out/a.json.txt").read_text() == "from-shell\n"
    assert "printed k: 3" in Path(res.stdout_log).read_text()
    import importlib.metadata
    assert res.software["python"] and not leftovers(tmp_path)
    assert res.software["PyYAML"] == importlib.metadata.version("PyYAML")  # used by the block


@both_modes
def test_digest_outputs_hashes_each_output_where_it_was_written(jobs, atomic):
    job = jobs("shell", "printf 'one' > {output[0]}; printf 'two' > {output[1]}",
               output=["out/a.txt", "out/b.txt"])
    spec = make_spec(job, jobs.workflow, str(jobs.root), atomic_outputs=atomic)
    spec.digest_outputs = True
    res = run_job(spec)
    assert res.ok, res.error
    assert set(res.digests) == {"out/a.txt", "out/b.txt"}
    for out, (size, mtime_ns, inode, sha) in res.digests.items():
        st = (jobs.root / out).stat()  # the version now in place, after any os.replace
        assert (size, mtime_ns, inode) == (st.st_size, st.st_mtime_ns, st.st_ino)
        assert sha == sha256(jobs.root / out)
    spec_off = make_spec(job, jobs.workflow, str(jobs.root), atomic_outputs=atomic)
    assert run_job(spec_off).digests is None  # not asked: nothing read back
