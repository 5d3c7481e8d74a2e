"""A secured cluster (issue 8, deliverable 10): only sciflow's run can use the Dask cluster.

Real clusters only: the local cluster sciflow starts (worker processes on 127.0.0.1), and a
real ``dask scheduler`` + ``dask worker`` pair started with self-signed certificates.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sciflow.execute.dask import DaskExecutor

CONNECT = textwrap.dedent("""
    import sys
    from distributed import Client
    try:
        client = Client(sys.argv[1], timeout=4)
        print("CONNECTED", client.submit(sum, [1, 2]).result(timeout=5))
    except Exception as err:
        print("REFUSED", type(err).__name__)
""")


def _connect_without_certificate(address: str) -> str:
    """What another local process gets when it tries the cluster with no certificate."""
    done = subprocess.run([sys.executable, "-c", CONNECT, address], capture_output=True,
                          text=True, timeout=60)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]


def test_the_local_cluster_refuses_processes_without_the_runs_certificate():
    with DaskExecutor(cores=1) as ex:
        assert ex.address.startswith("tls://127.0.0.1:")
        assert ex.client.submit(sum, [1, 2]).result(timeout=30) == 3  # the run's own client
        for address in (ex.address, ex.address.replace("tls://", "tcp://")):
            assert _connect_without_certificate(address).startswith("REFUSED"), address


def test_no_tls_is_an_explicit_choice():
    with DaskExecutor(cores=1, security=False) as ex:
        assert ex.address.startswith("tcp://127.0.0.1:")
        assert _connect_without_certificate(ex.address) == "CONNECTED 3"


WORKFLOW = """
rule all:
    input: "out/a.txt", "out/b.txt"

rule make:
    output: "out/{x}.txt"
    shell: "echo {wildcards.x} > {output}"
"""


def _sciflow(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sciflow", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180)


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    from services.dask_cluster import start_dask
    from services.tls import make_certificates

    certs = make_certificates(tmp_path_factory.mktemp("certs"))
    service = start_dask(n_workers=1, nthreads=1, cpus_per_worker=1, tls=certs)
    try:
        yield service, certs
    finally:
        service.stop()


def test_run_on_a_tls_scheduler_with_certificates(tls_cluster, tmp_path):
    service, certs = tls_cluster
    assert service.address.startswith("tls://127.0.0.1:")
    (tmp_path / "Snakefile").write_text(WORKFLOW)
    done = _sciflow("run", "--scheduler", service.address, "--tls-ca-file", str(certs.ca),
                    "--tls-cert", str(certs.cert), "--tls-key", str(certs.key), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out/a.txt").read_text() == "a\n"
    assert (tmp_path / "out/b.txt").read_text() == "b\n"
    # and nobody without a certificate gets in
    assert _connect_without_certificate(service.address).startswith("REFUSED")


def test_tls_scheduler_without_or_with_wrong_certificates_is_a_clean_error(tls_cluster, tmp_path):
    service, certs = tls_cluster
    (tmp_path / "Snakefile").write_text(WORKFLOW)
    bare = _sciflow("run", "--scheduler", service.address, cwd=tmp_path)
    assert bare.returncode == 2, bare.stderr
    assert "no certificates were given" in bare.stderr and "Traceback" not in bare.stderr
    wrong = _sciflow("run", "--scheduler", service.address, "--tls-ca-file", str(certs.other_ca),
                     "--tls-cert", str(certs.other_cert), "--tls-key", str(certs.other_key),
                     cwd=tmp_path)
    assert wrong.returncode == 1, wrong.stderr
    assert "cannot connect to tls://127.0.0.1" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    assert not (tmp_path / "out").exists()
    missing = _sciflow("run", "--scheduler", service.address, "--tls-ca-file",
                       str(tmp_path / "nope.pem"), "--tls-cert", str(certs.cert), cwd=tmp_path)
    assert missing.returncode == 2 and "nope.pem: no such file" in missing.stderr
