"""The workflow namespace has every name of Snakemake 9's workflow globals: the language's
helpers and flags (``access``, ``update``/``before_update``, ``from_queue``, ``subpath``,
``prepend_param``, ``choose_*``, ``as_py_module``, ``ensure``), the plain-Python names a
Snakefile may use unimported, and a clear NameError for Snakemake's own machinery.
Helpers are checked against Snakemake's own functions on the same inputs (the oracle)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from oracle import SNAKEMAKE, dry_run_counts

from sciflow.compat.namespace import SNAKEMAKE_INTERNALS
from sciflow.compat.snakemake import ioutils
from sciflow.dag import build_dag
from sciflow.errors import SciflowError
from sciflow.parse import load_workflow

BIN = Path(sys.executable).parent


def load(tmp_path: Path, text: str):
    path = tmp_path / "Snakefile"
    path.write_text(textwrap.dedent(text))
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        return load_workflow(str(path))
    finally:
        os.chdir(old)


def jobs(tmp_path: Path, wf, targets=()):
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        return build_dag(wf, list(targets))
    finally:
        os.chdir(old)


DUMP = '''\
import json as _json
with open("globals.json", "w") as _f:
    _json.dump(sorted(k for k in globals() if not k.startswith("_")), _f)
rule all:
    output: "x"
    shell: "touch {output}"
'''


@pytest.mark.snakemake
def test_every_snakemake_global_is_provided_or_explained(tmp_path):
    """Differential: the names Snakemake 9 gives a Snakefile, against sciflow's."""
    names = {}
    for tool, argv in (("snakemake", [str(SNAKEMAKE), "-n", "-c", "1", "--quiet"]),
                       ("sciflow", [str(BIN / "sciflow"), "run", "-n"])):
        folder = tmp_path / tool
        folder.mkdir()
        (folder / "Snakefile").write_text(DUMP)
        res = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        names[tool] = set(json.loads((folder / "globals.json").read_text()))
    missing = names["snakemake"] - names["sciflow"] - SNAKEMAKE_INTERNALS
    assert not missing, f"Snakemake globals sciflow lacks: {sorted(missing)}"
    for name in ("access", "before_update", "update", "from_queue", "subpath", "prepend_param",
                 "choose_file", "choose_folder", "choose_tmp", "as_py_module", "json",
                 "datetime", "namedtuple", "partial", "WorkflowError", "snakemake"):
        assert name in names["sciflow"], name


def test_snakemake_internal_name_gets_a_clear_error(tmp_path):
    with pytest.raises(SciflowError) as info:
        load(tmp_path, "x = 1\nsettings = DAGSettings()\n")
    text = info.value.format()
    assert "Snakefile:2:" in text
    assert "DAGSettings" in text and "Snakemake's own machinery" in text
    with pytest.raises(SciflowError) as info:  # an ordinary typo stays an ordinary NameError
        load(tmp_path, "y = undefined_thing\n")
    assert "name 'undefined_thing' is not defined" in str(info.value)
    assert "machinery" not in str(info.value)


def test_unimported_python_names_as_in_snakemake(tmp_path):
    wf = load(tmp_path, """\
        P = namedtuple("P", "a b")(1, 2)
        YEAR = datetime.now().year
        DUMPED = json.dumps({"k": OrderedDict(z=1)})
        ADD = partial(lambda a, b: a + b, 1)(2)
        VERSION_OK = snakemake.__version__ >= "8"
        try:
            raise WorkflowError("mine")
        except WorkflowError as exc:
            CAUGHT = str(exc)
        """)
    g = wf.globals
    assert g["P"].b == 2 and g["YEAR"] > 2000 and g["DUMPED"] == '{"k": {"z": 1}}'
    assert g["ADD"] == 3 and g["VERSION_OK"] and "mine" in g["CAUGHT"]


# ------------------------------------------------------------------------------ flags
@pytest.mark.snakemake
def test_access_update_before_update_flags_as_snakemake(tmp_path):
    from snakemake.io.flags.access_patterns import AccessPatternFactory as SmAccess
    from snakemake.ioflags import before_update as sm_before, update as sm_update

    wf = load(tmp_path, """\
        rule all:
            input: access.random("ref.fa"), access.sequential("reads.fq"), access.multi("idx")
        rule b:
            input: before_update("state.txt")
            output: update("state2.txt")
            shell: "cp {input} {output}"
        """)
    inputs = list(wf.rules["all"].input)
    for ours, theirs in zip(inputs, (SmAccess.random("ref.fa"), SmAccess.sequential("reads.fq"),
                                     SmAccess.multi("idx"))):
        assert ours == theirs
        assert str(ours.meta["access_pattern"]) == str(theirs.flags["access_pattern"])
    assert wf.rules["b"].input[0].is_flagged("before_update")
    assert sm_before("state.txt").is_flagged("before_update")
    assert wf.rules["b"].output[0].is_flagged("update")
    assert sm_update("state2.txt").is_flagged("update")
    (tmp_path / "ref.fa").write_text(">x\n")
    (tmp_path / "reads.fq").write_text("@r\n")
    (tmp_path / "idx").write_text("i\n")
    dag = jobs(tmp_path, wf)  # access-flagged inputs plan like plain ones
    assert sorted(j.rule.name for j in dag.jobs) == ["all"]


@pytest.mark.snakemake
def test_ensure_keeps_its_checks_as_snakemake(tmp_path):
    from snakemake.io import ensure as sm_ensure

    wf = load(tmp_path, """\
        rule a:
            output: ensure("a.txt", non_empty=True), ensure("b.txt", sha256="ab12")
            shell: "touch {output}"
        """)
    first, second = wf.rules["a"].output
    assert dict(first.meta["ensure"]) == sm_ensure("a.txt", non_empty=True).flags["ensure"]
    assert dict(second.meta["ensure"]) == sm_ensure("b.txt", sha256="ab12").flags["ensure"]
    with pytest.raises(SciflowError, match="only one checksum"):
        load(tmp_path, 'x = ensure("c", sha256="a", md5="b")\n')


# ------------------------------------------------------------------------------ path helpers
CASES = [("results/foo/bar/b.txt", dict(ancestor=2)), ("a/b/c.txt", dict(parent=True)),
         ("c.txt", dict(parent=True)), ("a/b.txt", dict(ancestor=5)),
         ("a/b.txt", dict(strip_suffix=".txt", with_suffix=".bam")),
         ("a/b.txt", dict(basename=True, with_suffix=".gz")), (Path("x/y.z"), {})]


@pytest.mark.snakemake
def test_subpath_as_snakemake():
    from snakemake.ioutils.subpath import subpath as sm_subpath

    for path, kwargs in CASES:
        assert ioutils.subpath(path, **kwargs) == sm_subpath(path, **kwargs), (path, kwargs)
    for kwargs in (dict(basename=True, parent=True), dict(ancestor=0),
                   dict(strip_suffix=".bam")):
        with pytest.raises(ValueError):
            sm_subpath("a/b.txt", **kwargs)
        with pytest.raises(ValueError):
            ioutils.subpath("a/b.txt", **kwargs)


def test_subpath_of_an_output_per_job(tmp_path):
    """Snakemake's test_subpath: ``params: prefix=subpath(output.test, ancestor=2)``."""
    wf = load(tmp_path, """\
        rule all:
            input: "results/foo/bar/b.txt"
        rule a:
            output: test="results/foo/bar/{sample}.txt"
            params: prefix=subpath(output.test, ancestor=2), name=subpath(output[0], basename=True, strip_suffix=".txt")
            shell: "echo {params.prefix} > {output}"
        """)
    job = next(j for j in jobs(tmp_path, wf).jobs if j.rule.name == "a")
    assert job.params.prefix == "results/foo" and job.params.name == "b"


@pytest.mark.snakemake
def test_prepend_param_and_as_py_module_as_snakemake(tmp_path):
    from snakemake.ioutils.as_py_module import as_py_module as sm_module
    from snakemake.ioutils.prepend_param import prepend_param as sm_prepend

    for args in (("--in", ["a.txt", Path("b.txt")]), ("-I", "one"), ("-x=", ["p", "q"], False)):
        assert ioutils.prepend_param(*args) == sm_prepend(*args)
    assert ioutils.as_py_module("pkg/sub/mod.py") == sm_module("pkg/sub/mod.py")
    for bad in ("pkg/mod.txt", "1pkg/mod.py"):
        with pytest.raises(ValueError):
            ioutils.as_py_module(bad)
    wf = load(tmp_path, """\
        rule a:
            input: reads=["r1.fq", "r2.fq"], script="tools/run_me.py"
            output: "o.txt"
            params: all=prepend_param("--in", input), reads=prepend_param("-r", input.reads), mod=as_py_module()
            shell: "python -m {params.mod} {params.all} > {output}"
        """)
    for name in ("r1.fq", "r2.fq", "tools/run_me.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    job = next(iter(jobs(tmp_path, wf, ["o.txt"]).jobs))
    assert job.params.all == "--in r1.fq --in r2.fq --in tools/run_me.py"
    assert job.params.reads == "-r r1.fq -r r2.fq"
    assert job.params.mod == "tools.run_me"


@pytest.mark.snakemake
def test_choose_file_folder_tmp_as_snakemake(tmp_path):
    from snakemake.ioutils.choose_f import choose_file, choose_folder, choose_tmp

    (tmp_path / "exists.txt").write_text("x")
    (tmp_path / "dir").mkdir()
    files = [str(tmp_path / "nope.txt"), str(tmp_path / "dir"), str(tmp_path / "exists.txt")]
    folders = [str(tmp_path / "exists.txt"), str(tmp_path / "dir")]
    assert ioutils.choose_file(files) == choose_file(files) == tmp_path / "exists.txt"
    assert ioutils.choose_folder(folders) == choose_folder(folders) == tmp_path / "dir"
    new = [str(tmp_path / "new" / "tmp")]
    assert ioutils.choose_tmp(new) == choose_tmp(new) == tmp_path / "new" / "tmp"
    assert ioutils.choose_file([str(tmp_path / "nope")]) is choose_file(
        [str(tmp_path / "nope")]) is None
    assert ioutils.choose_tmp([], creatable=False) == choose_tmp([], creatable=False)


# ------------------------------------------------------------------------------ from_queue
def test_from_queue_plans_every_item_once_the_queue_is_finished(tmp_path):
    """Snakemake's test_queue_input, shortened: a thread of the workflow fills the queue;
    planning waits for the finish sentinel and then has one job per item."""
    wf = load(tmp_path, """\
        import queue, threading, time
        done = object()
        results = queue.Queue()
        def fill():
            time.sleep(0.3)
            for i in range(4):
                results.put(f"test{i}.txt")
                time.sleep(0.05)
            results.put(done)
        threading.Thread(target=fill, daemon=True).start()
        rule all:
            input: from_queue(results, finish_sentinel=done)
        rule generate:
            output: "test{i}.txt"
            shell: "echo {wildcards.i} > {output}"
        """)
    dag = jobs(tmp_path, wf)
    made = sorted(str(o) for j in dag.jobs if j.rule.name == "generate" for o in j.output)
    assert made == [f"test{i}.txt" for i in range(4)]
    assert wf.globals["results"].unfinished_tasks == 0  # every item consumed and marked done


def test_from_queue_errors(tmp_path):
    with pytest.raises(SciflowError, match="finish sentinel"):
        load(tmp_path, "import queue\nx = from_queue(queue.Queue())\n")
    wf = load(tmp_path, """\
        import queue
        q = queue.Queue()
        q.put("a"); q.put("END")
        rule b:
            input: from_queue(q, finish_sentinel="END")
            output: "{x}.out"
            shell: "touch {output}"
        """)
    with pytest.raises(SciflowError, match="may not be used in rules with wildcards"):
        jobs(tmp_path, wf, ["z.out"])



# ------------------------------------------------------------------------------ rules.NAME
RULES_PROXY = '''\
rule all:
    input: "test.out"
rule a:
    output: temp("testa.{i,[0-9]+}.txt")
    log: "logs/a.{i}.log"
    shell: "echo {wildcards.i} > {output}; touch {log}"
rule b:
    input: rules.a.output
    output: protected("testb.{i}.txt")
    shell: "cat {input} > {output}"
rule c:
    input: expand(rules.b.output, i=range(3)), expand(rules.a.log, i=range(2))
    output: "test.out"
    shell: "cat {input} > {output}"
'''


@pytest.mark.snakemake
def test_rules_proxy_gives_plain_paths_as_snakemake(tmp_path):
    """``expand(rules.b.output, ...)`` where b's output is flagged (temp, protected, pipe...)
    works in Snakemake — ``rules.NAME`` shows paths without flags or inline constraints — and
    plans the same jobs per rule in sciflow."""
    import collections

    theirs = tmp_path / "snakemake"
    theirs.mkdir()
    (theirs / "Snakefile").write_text(RULES_PROXY)
    expected = dry_run_counts(theirs, "--quiet", "rules", timeout=120)
    ours = tmp_path / "sciflow"
    ours.mkdir()
    wf = load(ours, RULES_PROXY)
    dag = jobs(ours, wf)
    assert dict(collections.Counter(j.rule.name for j in dag.jobs)) == expected
    assert expected == {"all": 1, "a": 3, "b": 3, "c": 1}
    proxy = wf.globals["rules"].a
    assert list(proxy.output) == ["testa.{i}.txt"] and not getattr(proxy.output[0], "flags", None)
    assert proxy.name == "a" and wf.rules["a"].output[0].is_flagged("temp")  # rule unchanged


@pytest.mark.snakemake
@pytest.mark.parametrize("expr", ['temp(protected("a"))', 'protected(temp("a"))',
                                  'pipe(protected("a"))', 'service(protected("a"))',
                                  'directory(pipe("a"))', 'protected(temp("a", group_jobs=True))'])
def test_exclusive_flags_refused_as_snakemake(tmp_path, expr):
    import snakemake.io as sm_io

    with pytest.raises(SyntaxError) as theirs:  # Snakemake's own refusal, same expression
        eval(expr, {name: getattr(sm_io, name) for name in
                    ("temp", "protected", "pipe", "service", "directory")})
    with pytest.raises(SciflowError) as ours:
        load(tmp_path, f"x = 1\ny = {expr}\n")
    assert str(theirs.value) in str(ours.value)
    assert ours.value.loc is not None and ours.value.loc.line == 2
    wf = load(tmp_path, 'y = temp("a", group_jobs=True)\n')
    assert wf.globals["y"].is_flagged("nodelocal") and wf.globals["y"].is_flagged("temp")
