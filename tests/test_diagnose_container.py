"""`rivaverify diagnose --container NAME` against a real Docker engine: a container from riva-lite:latest prints a
published real log (tests/data/real-logs/, its INDEX row gives the source) and exits; the console script reads that
container's log through the engine and names the finding. test_diagnose_cli.py covers the same path with a stand-in
Docker client; this one holds the real engine's log stream (chunks, stdout) to it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_artifact_support import make_archive

pytestmark = pytest.mark.slow

LOG = ROOT / "tests" / "data" / "real-logs" / "nim-nemotron-asr-ucx-segfault.log"  # 7 lines, Caught signal 11 at 3
RIVAVERIFY = Path(sys.executable).parent / "rivaverify"  # the console script of this environment


@pytest.fixture(scope="module")
def lite_latest(docker_engine):
    """riva-lite:latest as it is on this engine (the image is not built here: absent, the test is skipped)."""
    from rivalite.image import REPOSITORY, find

    tag = f"{REPOSITORY}:latest"
    if find(docker_engine, tag) is None:
        pytest.skip(f"no {tag} image on this Docker engine (build it: `rivalite image build`)")
    return tag


def test_diagnose_reads_a_real_containers_log_and_names_the_finding(docker_engine, lite_latest, tmp_path):
    assert RIVAVERIFY.exists(), f"no console script at {RIVAVERIFY} (pip install -e .)"
    name = f"rivaverify-diagnose-{uuid.uuid4().hex[:10]}"
    # The log goes into the container (put_archive), not through a bind mount: the engine need not see this host's
    # filesystem (DOCKER_HOST=ssh://, a rootless engine).
    container = docker_engine.containers.create(lite_latest, ["cat", "/log"], name=name, entrypoint=[])
    try:
        assert container.put_archive("/", make_archive(tmp_path / "log.tar", [("log", LOG.read_bytes())], "w")
                                     .read_bytes())
        container.start()
        assert container.wait(timeout=120)["StatusCode"] == 0
        got = subprocess.run([str(RIVAVERIFY), "diagnose", "--container", name], capture_output=True, text=True,
                             timeout=120)
        assert got.returncode == 1, (got.stdout, got.stderr)
        assert got.stdout.startswith(f"container {name}: 7 lines"), got.stdout
        assert "segfault at line 3" in got.stdout and "Caught signal 11" in got.stdout, got.stdout
        assert "process-exited" in got.stdout, got.stdout

        as_json = subprocess.run([str(RIVAVERIFY), "diagnose", "--json", "--container", name], capture_output=True,
                                 text=True, timeout=120)
        assert as_json.returncode == 1 and '"segfault"' in as_json.stdout, (as_json.stdout, as_json.stderr)
    finally:
        container.remove(force=True)
    gone = subprocess.run([str(RIVAVERIFY), "diagnose", "--container", name], capture_output=True, text=True,
                          timeout=120)
    assert gone.returncode == 2 and f"no container named {name}" in gone.stderr, (gone.stdout, gone.stderr)
