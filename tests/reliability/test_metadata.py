"""Clean errors for a damaged or unwritable metadata database (issue 8, deliverable 7, part).

Real ``sciflow run`` processes on real files: read-only ``.sciflow/`` (immutable for root,
which ignores permission bits), a file with a bad header, corrupt pages, and a 0-byte file."""
import contextlib
import os
import sqlite3
import subprocess

import pytest

from sciflow.metadata import MetadataStore, OutputRecord

from .proctools import sciflow

SNAKEFILE = 'rule all:\n    output: "a.txt"\n    shell: "echo a > {output}"\n'


@contextlib.contextmanager
def read_only(*paths):
    """Make ``paths`` unwritable, even for root (``chattr +i``)."""
    root = os.geteuid() == 0
    for p in paths:
        if root:
            if subprocess.run(["chattr", "+i", str(p)], capture_output=True).returncode:
                pytest.skip("cannot make files immutable here (no CAP_LINUX_IMMUTABLE)")
        else:
            os.chmod(p, 0o555 if p.is_dir() else 0o444)
    try:
        yield
    finally:
        for p in paths:
            if root:
                subprocess.run(["chattr", "-i", str(p)], capture_output=True)
            else:
                os.chmod(p, 0o755 if p.is_dir() else 0o644)


def clean(proc, *needles):
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text
    for needle in needles:
        assert needle in text, text
    return text


@pytest.fixture
def wd(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    return tmp_path


def made_once(wd):
    """The state a finished run leaves: a metadata database holding a record for a.txt."""
    with MetadataStore(wd) as meta:
        meta.record([OutputRecord("a.txt", "all", "all", "p", "c", (), "", 1.0, "run1")])
    state = wd / ".sciflow"
    assert sqlite3.connect(state / "meta.sqlite").execute("SELECT count(*) FROM outputs").fetchone() == (1,)
    return state, state / "meta.sqlite"


def test_dry_run_writes_nothing(wd):
    proc = sciflow(wd, "run", "-n")
    assert proc.returncode == 0, proc.stderr
    assert not (wd / ".sciflow").exists()


def test_read_only_state_dir_dry_run_works_and_real_run_says_what_to_do(wd):
    state, meta = made_once(wd)
    before = {p.name: p.stat().st_mtime_ns for p in state.iterdir() if p.is_file()}
    with read_only(state, meta):
        dry = sciflow(wd, "run", "-n")
        assert dry.returncode == 0, dry.stdout + dry.stderr
        clean(dry, "Missing output files: a.txt")
        real = sciflow(wd, "run", "-c1")
        assert real.returncode != 0
        clean(real, "cannot write the metadata database", "writable")
    assert not (wd / "a.txt").exists()
    after = {p.name: p.stat().st_mtime_ns for p in state.iterdir() if p.is_file()}
    assert after == before


@pytest.mark.parametrize("damage", ["header", "pages"])
def test_corrupt_database_is_reported_with_what_to_do(wd, damage):
    state, meta = made_once(wd)
    raw = meta.read_bytes()
    if damage == "header":
        meta.write_bytes(b"this is not sqlite" + raw[18:])
    else:  # valid header, garbage after the first page
        meta.write_bytes(raw[:100] + os.urandom(len(raw) - 100))
    for args in (["run", "-n"], ["run", "-c1"]):
        proc = sciflow(wd, *args)
        assert proc.returncode != 0
        clean(proc, "metadata database is corrupt", "Move .sciflow/meta.sqlite aside",
              "outputs are untouched")
    assert meta.read_bytes()[:16] != b"" and not (wd / "a.txt").exists()


def test_zero_byte_database_is_used_as_empty_but_said_so(wd):
    state, meta = made_once(wd)
    meta.write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        (state / f"meta.sqlite{suffix}").unlink(missing_ok=True)
    proc = sciflow(wd, "run", "-c1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    clean(proc, "0-byte", "empty metadata database")
    rows = sqlite3.connect(meta).execute("SELECT path FROM outputs").fetchall()
    assert rows == [("a.txt",)]


def test_zero_byte_database_with_a_committed_log_is_corrupt(wd):
    state, meta = made_once(wd)
    meta.write_bytes(b"")
    (state / "meta.sqlite-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\x00" * 60)
    proc = sciflow(wd, "run", "-n")
    assert proc.returncode != 0
    clean(proc, "metadata database is corrupt", "write-ahead log")
