"""Issue 7, Snakemake's own cases test_update_flag, test_cyclic_dependency_single, test_shadow,
test_shadow_copy and test_shadowed_log, as small workflows of our own run by Snakemake (the
oracle) and by sciflow: the same files must come out.

- ``update(f)`` output: the job changes ``f`` in place (it is not removed before the job);
  ``before_update(f)`` input: ``f`` as it is before, so no producer is looked for (a job may
  read and update the same file: no cycle), and a reader runs before the job updating ``f``;
- an output that is a symlink to a write-protected file is replaced, not refused;
- ``shadow:``: a symlink the job makes, with an absolute path into the shadow directory or a
  relative one, comes back as a working link; a log the job did not write is created empty.
"""
from __future__ import annotations

import os

from oracle import needs_snakemake
from tests.compat.test_exec import same_outputs

pytestmark = needs_snakemake

UPDATE = '''
    shell("touch -t 201604010000 state.txt self.txt; touch in.txt")
    rule all:
        input: "copy.txt", "state.txt", "self.txt"
    rule copy:
        input: before_update("state.txt")
        output: "copy.txt"
        shell: "cat {input} > {output}; echo copied >> {output}"
    rule grow:
        input: "in.txt"
        output: update("state.txt")
        shell: "sleep 1; echo more >> {output}"
    rule self_update:
        input: before_update("self.txt"), "in.txt"
        output: update("self.txt")
        shell: "echo again >> {output}"
'''


def test_update_and_before_update_as_in_snakemake(tmp_path):
    files = {"state.txt": "first\n", "self.txt": "start\n"}
    out = same_outputs(tmp_path, UPDATE, files=files)
    assert out["state.txt"] == b"first\nmore\n" and out["copy.txt"] == b"first\ncopied\n"
    assert out["self.txt"] == b"start\nagain\n"


SHADOW = '''
    rule all:
        input: "abs_link.out", "rel_link.out", "quiet.out"
    rule links:
        output: "made.out", "abs_link.out", "rel_link.out"
        shadow: "shallow"
        shell:
            """
            echo 1 > made.out
            ln -s "$PWD/made.out" abs_link.out
            ln -s made.out rel_link.out
            echo junk > junk.out
            """
    rule quiet:
        output: touch("quiet.out")
        log: "quiet.log"
        shadow: "minimal"
'''


def test_shadow_symlinks_and_unwritten_logs_as_in_snakemake(tmp_path):
    out = same_outputs(tmp_path, SHADOW)
    assert (tmp_path / "sciflow" / "abs_link.out").read_text() == "1\n"
    assert "junk.out" not in out and out["quiet.log"] == b""


PROTECTED_LINK = '''
    import os
    if not os.path.exists("link.out"):
        shell("echo one > p1; echo two > p2; ln -s p1 link.out; chmod a-w p1 p2")
    rule main:
        output: "copy.out", "link.out"
        shell: "test ! -e link.out; ln -s p2 link.out; cat link.out > copy.out"
'''


def test_a_symlink_to_a_protected_file_is_replaced_as_in_snakemake(tmp_path):
    out = same_outputs(tmp_path, PROTECTED_LINK)
    assert out["copy.out"] == b"two\n"
    assert os.readlink(tmp_path / "sciflow" / "link.out") == "p2"
