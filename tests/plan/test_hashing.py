"""The sha256 cache: one hash per file version (path, size, mtime_ns, inode), persisted."""
import hashlib
import os

from sciflow.hashing import HashCache, sha256_file


def test_streamed_hash_matches_hashlib_beyond_one_chunk(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * (1 << 20) + 17))  # more than three 1 MiB chunks
    assert sha256_file(big) == hashlib.sha256(big.read_bytes()).hexdigest()


def digest_in_new_process_cache(db, f):
    """A fresh cache (as a new process would open), closed so its new hashes are persisted."""
    cache = HashCache(db)
    try:
        return cache.digest(f)
    finally:
        cache.close()


def test_cache_is_keyed_by_file_version_and_persisted(tmp_path):
    db = tmp_path / "h.sqlite"
    f = tmp_path / "x.txt"
    f.write_text("aaaa")
    st = f.stat()
    first = digest_in_new_process_cache(db, f)
    assert first.sha256 == hashlib.sha256(b"aaaa").hexdigest() and first.size == 4
    # same size, mtime and inode: a new cache (new process) trusts the stored hash without
    # reading the bytes -- shown by rewriting the content in place and restoring the mtime
    with open(f, "r+b") as fh:
        fh.write(b"bbbb")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert digest_in_new_process_cache(db, f).sha256 == first.sha256
    # any change of the version key (here the mtime) re-hashes
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert digest_in_new_process_cache(db, f).sha256 == hashlib.sha256(b"bbbb").hexdigest()
    # atomic replace (new inode), as the runner writes outputs
    tmp = tmp_path / "x.tmp"
    tmp.write_text("cccc")
    os.replace(tmp, f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert digest_in_new_process_cache(db, f).sha256 == hashlib.sha256(b"cccc").hexdigest()


def test_directory_hash_covers_names_and_contents(tmp_path):
    d = tmp_path / "out"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("1")
    (d / "sub/b.txt").write_text("22")
    cache = HashCache(None)
    one = cache.digest(d)
    assert one.is_dir and one.size == 3
    (d / "sub/b.txt").rename(d / "sub/c.txt")
    assert cache.digest(d).sha256 != one.sha256


def test_primed_digest_is_trusted_only_for_its_file_version(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("aaaa")
    st = f.stat()
    version = (st.st_size, st.st_mtime_ns, st.st_ino)
    cache = HashCache(tmp_path / "h.sqlite")
    try:
        # a (deliberately wrong) worker-side digest for exactly this version is taken as is
        cache.prime(f, version, "0" * 64)
        assert cache.digest(f).sha256 == "0" * 64
        # a digest for another version (the file was rewritten since) is not
        cache.prime(f, (st.st_size, st.st_mtime_ns - 1, st.st_ino), "1" * 64)
        assert cache.digest(f).sha256 == hashlib.sha256(b"aaaa").hexdigest()
    finally:
        cache.close()


def test_one_digest_per_file_version_shared_by_every_cache(tmp_path, monkeypatch):
    """The worker's, planner's, scheduler's and recorder's caches share one table in a process:
    a version hashed (or primed) by one is not read again by another."""
    from sciflow import hashing

    f = tmp_path / "data.bin"
    f.write_bytes(b"x" * 4096)
    first = HashCache(None).digest(f).sha256
    calls = []
    real = hashing.sha256_file
    monkeypatch.setattr(hashing, "sha256_file", lambda p: calls.append(p) or real(p))
    assert HashCache(tmp_path / "other.sqlite").digest(f).sha256 == first
    assert hashing.checksum(f) == first
    assert calls == []
    f.write_bytes(b"y" * 4096)  # a new version is hashed again
    assert hashing.checksum(f) == hashlib.sha256(b"y" * 4096).hexdigest()
    assert len(calls) == 1


def test_a_touched_input_larger_than_a_megabyte_with_the_same_content_reruns_nothing(tmp_path):
    """No size cap on input checksums (Snakemake stops at 1 MB): a 3 MB input touched but
    unchanged is recognised by content, while a changed one reruns its job."""
    import time

    from sciflow.engine import RunOptions, run

    (tmp_path / "Snakefile").write_text(
        'rule all:\n    input: "out.txt"\n\n'
        'rule count:\n    input: "big.bin"\n    output: "out.txt"\n'
        '    shell: "wc -c < {input} > {output}"\n')
    big = tmp_path / "big.bin"
    big.write_bytes(b"0123456789" * 300_000)

    def plan() -> list[str]:
        jobs = run(RunOptions(workdir=str(tmp_path), dry_run=True, cores=1,
                              provenance=False)).plan.jobs
        return sorted(job.rule.name for job in jobs)

    summary = run(RunOptions(workdir=str(tmp_path), cores=1, provenance=False))
    assert summary.ok
    time.sleep(0.05)
    os.utime(big)  # newer than out.txt, same bytes
    assert plan() == []
    big.write_bytes(b"9876543210" * 300_000)
    assert plan() == ["all", "count"]
