"""Issue 7, execution side: ``wrapper:``, ``conda:``, ``container:``, ``envmodules:``,
``shadow:``, ``benchmark: repeat(…)``, ``handover:`` — with Snakemake's semantics.

The differential test runs one Snakefile using all of them under Snakemake (the oracle, in the
dev venv) and under sciflow, and compares every file each left in its working directory. The
wrapper tree is written here (a made-up ``bio/demo`` wrapper), never copied from the real
snakemake-wrappers repository.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from helpers import files_below
from oracle import SNAKEMAKE, snakemake

from sciflow.engine import RunOptions, run
from sciflow.errors import DeploymentError, RuleError
from sciflow.execute import envs, wrapper
from sciflow.execute.deploy import ActionSettings

HAS_CONDA = envs.conda_frontend() is not None
HAS_APPTAINER = envs.container_runtime() is not None

WRAPPER_PY = '''\
from snakemake.shell import shell
with open(snakemake.input[0]) as fh:
    data = fh.read()
with open(snakemake.output[0], "w") as out:
    out.write(f"{snakemake.rule} {snakemake.wildcards.s} {snakemake.params.greeting} "
              f"{snakemake.threads}\\n{data}")
shell("echo logged {snakemake.wildcards.s} > {snakemake.log[0]}")
'''
ENV_YAML = "channels: [conda-forge]\ndependencies: [python=3.11]\n"


def write_wrapper(root: Path, rel: str = "v1.0.0/bio/demo", code: str = WRAPPER_PY,
                  name: str = "wrapper.py") -> Path:
    d = root / rel
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(code)
    (d / "environment.yaml").write_text(ENV_YAML)
    return d


def workflow(tmp: Path, text: str, files: dict[str, str] | None = None) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "Snakefile").write_text(textwrap.dedent(text))
    for name, content in (files or {}).items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(content)
    return tmp


def sciflow_run(wd: Path, **options):
    return run(RunOptions(directory=str(wd), cores=options.pop("cores", 1), provenance=False,
                          **options))


tree = files_below


# --------------------------------------------------------------------------- differential
DIFF_SNAKEFILE = '''
rule all:
    input:
        expand("res_{m}/out.txt", m=["minimal", "copy", "shallow", "full"]),
        "bench.txt", "bscript.txt", "wrapped/s1.txt"

rule shadow_minimal:
    input: "data/in.txt"
    output: "res_minimal/out.txt"
    shadow: "minimal"
    shell: SHADOW_CMD

rule shadow_copy:
    input: "data/in.txt"
    output: "res_copy/out.txt"
    shadow: "copy-minimal"
    shell: SHADOW_CMD

rule shadow_shallow:
    input: "data/in.txt"
    output: "res_shallow/out.txt"
    shadow: "shallow"
    shell: SHADOW_CMD

rule shadow_full:
    input: "data/in.txt"
    output: "res_full/out.txt"
    shadow: "full"
    shell: SHADOW_CMD

rule bench:
    output: "bench.txt"
    benchmark: repeat("bench/b.tsv", 3)
    shell: "echo run {bench_iteration} >> {output}"

rule bscript:
    output: "bscript.txt"
    benchmark: repeat("bench/s.tsv", 2)
    script: "iter.py"

rule wrapped:
    input: "data/in.txt"
    output: "wrapped/{s}.txt"
    params: greeting="hi"
    log: "logs/{s}.log"
    wrapper: "v1.0.0/bio/demo"
'''
SHADOW_CMD = ('SHADOW_CMD = "cat {input} > {output}; '
              "if [ -L {input} ]; then echo link >> {output}; else echo file >> {output}; fi; "
              'echo stray > stray_{rule}.txt; mkdir -p data && echo s > data/stray_{rule}.txt"\n')


@pytest.mark.snakemake
def test_same_files_as_snakemake(tmp_path):
    if not SNAKEMAKE.exists():
        pytest.skip("snakemake (the oracle) is not installed in the venv")
    wrappers = tmp_path / "wrappers"
    write_wrapper(wrappers)
    files = {"data/in.txt": "hello\n",
             "iter.py": "open(snakemake.output[0], 'a').write(f'{snakemake.bench_iteration}\\n')\n"}
    sm = workflow(tmp_path / "sm", SHADOW_CMD + DIFF_SNAKEFILE, files)
    sf = workflow(tmp_path / "sf", SHADOW_CMD + DIFF_SNAKEFILE, files)
    snakemake(sm, "-c2", "--wrapper-prefix", f"file://{wrappers}/")
    summary = sciflow_run(sf, wrapper_prefix=str(wrappers), cores=2)
    assert summary.ok
    want, got = tree(sm), tree(sf)
    for tsv in ("bench/b.tsv", "bench/s.tsv"):  # timings differ; the shape must not
        w, g = want.pop(tsv).splitlines(), got.pop(tsv).splitlines()
        assert g[0] == w[0] and len(g) == len(w) == {"bench/b.tsv": 4, "bench/s.tsv": 3}[tsv]
    assert got == want
    # what the comparison covers, spelled out
    assert got["bench.txt"] == "run 0\nrun 1\nrun 2\n" and got["bscript.txt"] == "0\n1\n"
    assert got["res_minimal/out.txt"] == "hello\nlink\n"
    assert got["res_copy/out.txt"] == "hello\nfile\n"
    assert got["wrapped/s1.txt"] == "wrapped s1 hi 1\nhello\n"
    assert got["logs/s1.log"] == "logged s1\n"
    assert not any(name.startswith("stray_") for name in got)
    # shallow mode links the real data/ directory: a write into it is not discarded
    assert "data/stray_shadow_shallow.txt" in got and "data/stray_shadow_minimal.txt" not in got
    assert not os.listdir(sf / ".sciflow" / "shadow")  # shadow directories are removed


# --------------------------------------------------------------------------- shadow
SHADOW_MODES = ("minimal", "copy-minimal", "shallow", "full")


@pytest.mark.parametrize("atomic", [False, True], ids=["real-paths", "atomic-outputs"])
def test_shadow_discards_stray_files_and_keeps_outputs_and_logs(tmp_path, atomic):
    rules = "".join(f'''
rule {mode.replace("-", "_")}:
    input: "in.txt"
    output: "out/{mode}.txt"
    log: "logs/{mode}.log"
    shadow: "{mode}"
    shell: "cp {{input}} {{output}}; echo stray > stray-{mode}.txt; echo ok > {{log}}"
''' for mode in SHADOW_MODES)
    wd = workflow(tmp_path, "rule all:\n    input: " + ", ".join(
        f'"out/{m}.txt"' for m in SHADOW_MODES) + "\n" + rules, {"in.txt": "x\n"})
    assert sciflow_run(wd, cores=2, atomic_outputs=atomic).ok
    for mode in SHADOW_MODES:
        assert (wd / f"out/{mode}.txt").read_text() == "x\n"
        assert (wd / f"logs/{mode}.log").read_text() == "ok\n"
        assert not (wd / f"stray-{mode}.txt").exists()
    assert not os.listdir(wd / ".sciflow" / "shadow")


def test_shadow_run_block_runs_in_the_shadow_directory(tmp_path):
    """``run:`` code runs in the worker process: it is moved into the shadow directory and
    back (a later job must not find itself in a removed directory)."""
    wd = workflow(tmp_path, '''
        rule all:
            input: "a.txt", "b.txt"
        rule a:
            output: "a.txt"
            shadow: "minimal"
            run:
                import os
                open("stray.txt", "w").write("x")
                open(output[0], "w").write(str(".sciflow/shadow/" in os.getcwd()))
        rule b:
            input: "a.txt"
            output: "b.txt"
            run:
                import os
                open(output[0], "w").write(os.getcwd())
        ''')
    assert sciflow_run(wd).ok
    assert (wd / "a.txt").read_text() == "True" and not (wd / "stray.txt").exists()
    assert (wd / "b.txt").read_text() == str(wd)


def test_unknown_shadow_mode_is_a_rule_error_before_running(tmp_path):
    wd = workflow(tmp_path, '''
        rule a:
            output: "a.txt"
            shadow: "deep"
            shell: "touch {output}"
        ''')
    with pytest.raises(RuleError) as err:
        sciflow_run(wd)
    assert "shadow:" in err.value.format() and "'deep'" in err.value.format()
    assert "minimal" in err.value.format()
    assert not (wd / "a.txt").exists()


# --------------------------------------------------------------------------- wrapper
def test_wrapper_prefix_forms(tmp_path):
    """A tree with one folder per version, file:// URLs, a checkout of one version, a git
    repository (the file at the ref), and a full URL as the rule's value."""
    cache = str(tmp_path / "cache")
    versioned = tmp_path / "versioned"
    d = write_wrapper(versioned)
    assert wrapper.resolve("v1.0.0/bio/demo", str(versioned), cache).script == \
        str(d / "wrapper.py")
    found = wrapper.resolve("v1.0.0/bio/demo", f"file://{versioned}", cache)
    assert found.script == str(d / "wrapper.py") and found.environment == \
        str(d / "environment.yaml")
    checkout = tmp_path / "checkout"
    c = write_wrapper(checkout, "bio/demo")
    assert wrapper.resolve("master/bio/demo", str(checkout), cache).script == \
        str(c / "wrapper.py")
    url = f"file://{c}"
    assert wrapper.resolve(url, None, cache).script == str(c / "wrapper.py")
    assert wrapper.resolve(url + "/wrapper.py", None, cache).script == str(c / "wrapper.py")
    # a git repository: the tagged version is used, not the working tree's
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(checkout)]
    subprocess.run(git[:5] + ["init", "-q", str(checkout)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "v1"], check=True)
    subprocess.run(git + ["tag", "v1.2.3"], check=True)
    (c / "wrapper.py").write_text("# changed after the tag\n")
    tagged = wrapper.resolve("v1.2.3/bio/demo", str(checkout), cache)
    assert Path(tagged.script).read_text() == WRAPPER_PY
    assert Path(tagged.environment).read_text() == ENV_YAML
    with pytest.raises(DeploymentError) as err:
        wrapper.resolve("v1.0.0/bio/nothing", str(versioned), cache, rule="r")
    assert "--wrapper-prefix" in err.value.format()


def test_wrapper_offline_default_prefix_names_the_option_before_any_job(tmp_path):
    wd = workflow(tmp_path, '''
        rule all:
            input: "plain.txt", "w.txt"
        rule plain:
            output: "plain.txt"
            shell: "touch {output}"
        rule w:
            output: "w.txt"
            wrapper: "v0.0.1/bio/sciflow-test-no-such-wrapper"
        ''')
    with pytest.raises(DeploymentError) as err:
        sciflow_run(wd)
    text = err.value.format()
    assert "--wrapper-prefix" in text and "Snakefile:9" in text
    assert not (wd / "plain.txt").exists()  # nothing ran


def test_wrapper_in_r_is_a_clear_error(tmp_path):
    wrappers = tmp_path / "wrappers"
    write_wrapper(wrappers, code="cat('hi')\n", name="wrapper.R")
    wd = workflow(tmp_path / "wd", '''
        rule w:
            output: "w.txt"
            wrapper: "v1.0.0/bio/demo"
        ''')
    with pytest.raises(DeploymentError) as err:
        sciflow_run(wd, wrapper_prefix=str(wrappers))
    assert "Python wrappers" in str(err.value) and "wrapper.R" in str(err.value)


# --------------------------------------------------------------------------- conda
CONDA_SNAKEFILE = '''
rule all:
    input: "plain.txt", "c.txt"
rule plain:
    output: "plain.txt"
    shell: "touch {output}"
rule c:
    output: "c.txt"
    conda: "envs/tools.yaml"
    shell: "echo in-env > {output}"
'''


def test_conda_directive_is_ignored_without_use_conda(tmp_path):
    wd = workflow(tmp_path, CONDA_SNAKEFILE, {"envs/tools.yaml": ENV_YAML})
    assert sciflow_run(wd).ok and (wd / "c.txt").read_text() == "in-env\n"


@pytest.mark.skipif(HAS_CONDA, reason="conda is installed here")
def test_use_conda_without_conda_fails_before_any_job(tmp_path):
    wd = workflow(tmp_path, CONDA_SNAKEFILE, {"envs/tools.yaml": ENV_YAML})
    with pytest.raises(DeploymentError) as err:
        sciflow_run(wd, use_conda=True)
    text = err.value.format()
    assert "--use-conda" in text and "'c'" in text and "Snakefile:9" in text
    assert not (wd / "plain.txt").exists()


@pytest.mark.skipif(HAS_CONDA, reason="conda is installed here")
def test_use_conda_takes_a_wrappers_environment(tmp_path):
    wrappers = tmp_path / "wrappers"
    write_wrapper(wrappers)
    wd = workflow(tmp_path / "wd", '''
        rule all:
            input: "wrapped/s1.txt"
        rule w:
            input: "in.txt"
            output: "wrapped/{s}.txt"
            params: greeting="hi"
            log: "logs/{s}.log"
            wrapper: "v1.0.0/bio/demo"
        ''', {"in.txt": "x"})
    with pytest.raises(DeploymentError) as err:
        sciflow_run(wd, use_conda=True, wrapper_prefix=str(wrappers))
    assert "'w'" in str(err.value) and "--use-conda" in str(err.value)
    assert sciflow_run(wd, wrapper_prefix=str(wrappers)).ok  # without the flag: runs


def test_conda_env_paths_are_named_by_content(tmp_path):
    a, b, c = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "c.yaml"
    a.write_text(ENV_YAML)
    b.write_text(ENV_YAML)
    c.write_text(ENV_YAML + "  - numpy\n")
    wd = str(tmp_path / "wd")
    pa = envs.env_path(str(a), wd)
    assert pa == envs.env_path(str(b), wd)  # same content, one environment
    assert pa != envs.env_path(str(c), wd)  # edited: a new one
    assert os.path.dirname(pa) == os.path.join(wd, ".sciflow", "conda")
    assert os.path.dirname(envs.env_path(str(a), wd, "shared/envs")) == \
        os.path.join(wd, "shared", "envs")
    assert ActionSettings(workdir=wd, use_conda=True).conda_env("my-named-env", None) == \
        "my-named-env"  # a name is an existing environment, used as it is
    assert envs.conda_run("/x/conda", "/p/env")[-2:] == ["-p", "/p/env"]
    assert envs.conda_run("/x/conda", "named")[-2:] == ["-n", "named"]


# --------------------------------------------------------------------------- container, modules
@pytest.mark.skipif(HAS_APPTAINER, reason="apptainer is installed here")
def test_container_needs_apptainer_only_with_the_flag(tmp_path):
    wd = workflow(tmp_path, '''
        rule all:
            input: "plain.txt", "c.txt"
        rule plain:
            output: "plain.txt"
            shell: "touch {output}"
        rule c:
            output: "c.txt"
            container: "docker://alpine:3"
            shell: "touch {output}"
        ''')
    with pytest.raises(DeploymentError) as err:
        sciflow_run(wd, use_apptainer=True)
    assert "--use-apptainer" in err.value.format() and "Snakefile:9" in err.value.format()
    assert not (wd / "plain.txt").exists()
    assert sciflow_run(wd).ok and (wd / "c.txt").exists()


@pytest.mark.skipif(envs.modules_available(), reason="environment modules are installed here")
def test_envmodules_need_module_only_with_the_flag(tmp_path):
    wd = workflow(tmp_path, '''
        rule m:
            output: "m.txt"
            envmodules: "samtools/1.9", "bwa/0.7"
            shell: "touch {output}"
        ''')
    with pytest.raises(DeploymentError) as err:
        sciflow_run(wd, use_envmodules=True)
    assert "--use-envmodules" in str(err.value) and "samtools/1.9, bwa/0.7" in str(err.value)
    assert sciflow_run(wd).ok and (wd / "m.txt").exists()


def test_envmodules_are_loaded_before_the_command(tmp_path):
    """With a ``module`` command (here a bash function exported to the job, as Lmod exports
    its own) the job's command runs after ``module purge && module load …``."""
    bash = shutil.which("bash")
    wd = workflow(tmp_path, '''
        rule m:
            output: "m.txt"
            envmodules: "samtools/1.9"
            shell: "echo $LOADED > {output}"
        ''')
    env = {"BASH_FUNC_module%%": '() { if [ "$1" = load ]; then shift; export LOADED="$*"; fi; }'}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        assert bash and envs.modules_available()
        assert sciflow_run(wd, use_envmodules=True).ok
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert (wd / "m.txt").read_text() == "samtools/1.9\n"


MODULES_INIT = "/usr/share/modules/init/bash"  # Debian's environment-modules


@pytest.mark.skipif(not os.path.exists(MODULES_INIT), reason="environment-modules not installed")
def test_envmodules_with_real_environment_modules(tmp_path, monkeypatch):
    """The real ``module`` (apt-get install environment-modules), initialised as a login shell
    would and exported to the job's shell, loads a modulefile written here."""
    mods = tmp_path / "modulefiles" / "demo"
    mods.mkdir(parents=True)
    (mods / "1.0").write_text("#%Module1.0\nsetenv DEMO_LOADED demo-1.0\n")
    dump = subprocess.run(["bash", "-c", f"source {MODULES_INIT}; export -f module; "
                           "export -f _module_raw 2>/dev/null; env -0"],
                          capture_output=True, check=True).stdout.decode()
    for item in filter(None, dump.split("\0")):
        name, _, value = item.partition("=")
        if name.startswith(("BASH_FUNC_", "MODULE")) or name in ("LOADEDMODULES",):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("MODULEPATH", str(tmp_path / "modulefiles"))
    wd = workflow(tmp_path / "wd", '''
        rule m:
            output: "m.txt"
            envmodules: "demo/1.0"
            shell: "echo $DEMO_LOADED > {output}"
        ''')
    assert sciflow_run(wd, use_envmodules=True).ok
    assert (wd / "m.txt").read_text() == "demo-1.0\n"


# --------------------------------------------------------------------------- handover, cache
def test_handover_job_gets_all_cores(tmp_path):
    wd = workflow(tmp_path, '''
        rule h:
            output: "h.txt"
            handover: True
            cache: True
            shell: "echo {threads} > {output}"
        ''')
    assert sciflow_run(wd, cores=2).ok
    assert (wd / "h.txt").read_text() == "2\n"  # as Snakemake -c2


CACHE_SNAKEFILE = '''
rule all:
    input: "{out}/b.txt"
rule a:
    input: "in.txt"
    output: "{out}/a.txt"
    cache: True
    shell: "cat {{input}} > {{output}}; echo $RANDOM$RANDOM >> {{output}}; echo a >> ran.log"
rule b:
    input: "{out}/a.txt"
    output: "{out}/b.txt"
    cache: "omit-software"
    shell: "cat {{input}} > {{output}}; echo b >> ran.log"
'''


def test_cache_needs_its_directory_only_with_the_flag(tmp_path, monkeypatch):
    monkeypatch.delenv("SNAKEMAKE_OUTPUT_CACHE", raising=False)
    wd = workflow(tmp_path, CACHE_SNAKEFILE.format(out="res"), {"in.txt": "x\n"})
    with pytest.raises(DeploymentError) as err:
        sciflow_run(wd, cache=[])
    assert "SNAKEMAKE_OUTPUT_CACHE" in err.value.format() and "a, b" in str(err.value)
    assert not (wd / "ran.log").exists()
    assert sciflow_run(wd).ok and (wd / "ran.log").read_text() == "a\nb\n"


def test_cache_is_shared_between_workflows(tmp_path, monkeypatch):
    store = tmp_path / "cache"
    monkeypatch.setenv("SNAKEMAKE_OUTPUT_CACHE", str(store))
    first = workflow(tmp_path / "one", CACHE_SNAKEFILE.format(out="res"), {"in.txt": "x\n"})
    assert sciflow_run(first).ok  # without --cache: nothing stored
    assert not store.exists() or not os.listdir(store)
    (first / "ran.log").unlink()
    assert sciflow_run(first, cache=[], forceall=True).ok
    assert (first / "ran.log").read_text() == "a\nb\n" and len(os.listdir(store)) == 2
    # another workflow, other output paths, same code and input: nothing runs
    second = workflow(tmp_path / "two", CACHE_SNAKEFILE.format(out="elsewhere"),
                      {"in.txt": "x\n"})
    assert sciflow_run(second, cache=[]).ok
    assert not (second / "ran.log").exists()
    assert (second / "elsewhere/b.txt").read_text() == (first / "res/b.txt").read_text()
    # --cache naming one rule caches only that one; a changed input misses the cache
    third = workflow(tmp_path / "three", CACHE_SNAKEFILE.format(out="res"), {"in.txt": "y\n"})
    assert sciflow_run(third, cache=["b"]).ok
    assert (third / "ran.log").read_text() == "a\nb\n"
