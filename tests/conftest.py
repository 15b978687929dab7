"""Shared fixtures of the project's own tests."""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rivaverify.settings import SEED_VARIABLES

ROOT = Path(__file__).resolve().parents[1]

# The pytester dirs register exactly the plugins and fixtures the root conftest.py registers.
PLUGINS = f"pytest_plugins = {runpy.run_path(str(ROOT / 'conftest.py'))['pytest_plugins']!r}\n"


# The project's tests on one process more than the cores (pytest-xdist), at most 4: much of a test's time is a
# subprocess starting or audio streamed at real time, so a third process keeps 2 cores busy (about 4 min, not 5)
WORKERS = min((os.cpu_count() or 1) + 1, 4)
DOCKER_TESTS = "tests/test_docker_"  # one engine, one riva-lite image: these run one after another, on one worker


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """`pytest tests/` (the whole folder, no -n given) runs on WORKERS processes; `-n 0` runs everything in one
    process, and a test or file named alone runs there too. Where PYTHONDONTWRITEBYTECODE is set (this machine kind
    sets it), it is unset for this run's processes: each of them (xdist's workers, every suite run, riva-lite, serve,
    locust) compiled the checkout's modules and pytest rewrote the test files again; now they are cached in the
    (git-ignored) __pycache__ folders, as Python does by default (the quick tier 33 s instead of 42)."""
    if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        sys.dont_write_bytecode = False
    if (config.option.numprocesses is not None or hasattr(config, "workerinput")
            or not config.pluginmanager.hasplugin("xdist")
            or {Path(a).resolve() for a in config.args} != {Path(__file__).parent}):
        return
    config.option.numprocesses = WORKERS
    if config.option.dist == "no":
        config.option.dist = "load"


def pytest_configure(config: pytest.Config) -> None:
    """Each xdist worker picks ports from its own slice of riva-lite's free-port range (RIVALITE_FREE_PORTS, which
    its riva-lite, suite runs and serve inherit): two workers never pick the same port before one of them binds it."""
    worker = getattr(config, "workerinput", None)
    if worker is None:
        return
    from rivalite.launcher import FREE_PORTS, PORTS_ENV

    index, count = int(worker["workerid"].removeprefix("gw")), int(worker["workercount"])
    size = len(FREE_PORTS) // count
    first = FREE_PORTS.start + index * size
    os.environ[PORTS_ENV] = f"{first}-{first + size - 1}"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Load balancing test by test, but the docker test files as one scope (xdist's loadgroup, which would do it
    by mark, does not group on this pytest)."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "docker" if nodeid.startswith(DOCKER_TESTS) else nodeid

    return Scheduling(config, log)


HEAVY = ("stress", "faults", "heavy")  # minutes each: run only when -m names them; .ci/run runs them after the tests
# line (heavy: the heaviest end-to-end cases, one test each: NIM cold and warm, a Docker engine over ssh, ...)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The stress tests (200 server starts), the fault matrix and the heaviest end-to-end cases run only when -m
    names them: `pytest tests/ -m "stress or faults or heavy"`."""
    named = config.getoption("markexpr") or ""
    heavy = [item for item in items if any(item.get_closest_marker(m) and m not in named for m in HEAVY)]
    if heavy:
        config.hook.pytest_deselected(items=heavy)
        items[:] = [item for item in items if item not in heavy]


@pytest.fixture(autouse=True)
def _clean_riva_env(monkeypatch):
    """Each test starts from default settings: no RIVA__* (nor the seed's names for them) from the caller's
    environment."""
    for name in list(os.environ):
        if name.upper().startswith("RIVA__") or name in SEED_VARIABLES.values():
            monkeypatch.delenv(name)


@pytest.fixture
def suite_dir(pytester, monkeypatch):
    """A pytester dir whose conftest registers riva-verify's plugins, importable in subprocesses too."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    pytester.makeconftest(PLUGINS)
    return pytester


# riva-lite: the default artifact is packed and deployed once per session.
@pytest.fixture(scope="session")
def rivalite_artifact(tmp_path_factory):
    pytest.importorskip("pytriton", reason="riva-lite needs the lite extra: pip install -e '.[lite]'")
    import rivalite

    return rivalite.pack(tmp_path_factory.mktemp("artifact"))


@pytest.fixture(scope="session")
def rivalite_models(rivalite_artifact, tmp_path_factory):
    import rivalite

    return rivalite.deploy(rivalite_artifact, tmp_path_factory.mktemp("deploy"))


def started_riva(models, workdir):
    """start-riva (behind the shim) on `models` until riva_server listens; after: stopped, no process left."""
    from testing.local_riva import LocalRiva

    args = ("--triton-ready-timeout=90",)  # start-riva gives up (and says why) before the test does
    deployment = LocalRiva(models, workdir, args=args)
    deployment.start().wait_ready(120)
    try:
        yield deployment
    finally:
        deployment.stop()
    assert deployment.kill_leftovers() == [], "processes outlived start-riva"


def asr_service(riva):
    """NVIDIA's riva.client ASRService on a started riva-lite; its channel closed after."""
    riva_client = pytest.importorskip("riva.client")
    auth = riva_client.Auth(uri=riva.riva_uri)
    yield riva_client.ASRService(auth)
    auth.channel.close()


class SharedRiva:
    """One riva-lite per worker for the modules that only read it: started on first use, started again when a
    test stopped it or killed one of its children (start-riva exits then), stopped at the end of the session
    with nothing left behind. Under xdist's test-by-test balancing, a module-scoped deployment was started
    again each time a worker came back to the module."""

    def __init__(self, models, factory) -> None:
        self.models, self.factory = models, factory
        self.running = None  # the started_riva generator of the live deployment and the deployment

    def get(self):
        if self.running is not None and not self.running[1].alive():
            self.close()  # a test stopped or broke it: its leftovers checked, then a fresh one
        if self.running is None:
            gen = started_riva(self.models, self.factory.mktemp("riva"))
            self.running = (gen, next(gen))
        return self.running[1]

    def close(self) -> None:
        gen, self.running = self.running[0], None
        next(gen, None)  # stop it and check that no process outlived it


@pytest.fixture(scope="session")
def shared_riva(rivalite_models, tmp_path_factory):
    pytest.importorskip("pytriton", reason="riva-lite needs the lite extra: pip install -e '.[lite]'")
    shared = SharedRiva(rivalite_models, tmp_path_factory)
    yield shared
    if shared.running is not None:
        shared.close()


@pytest.fixture(scope="module")
def riva(shared_riva):
    """riva-lite deployed like Riva, shared by the modules of this worker (SharedRiva); about 1-2 s to start."""
    return shared_riva.get()


@pytest.fixture(scope="module")
def asr(riva):
    yield from asr_service(riva)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A self-signed certificate for localhost/127.0.0.1 and its key (PEM)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
    cmd += " -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
    subprocess.run(
        [*cmd.split(), "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60
    )
    return cert, key


# Docker: the engine (skip without one; RIVA__REQUIRE_DOCKER turns that skip into a failure) and the riva-lite
# image the docker target picks when RIVA__IMAGE is unset, built once and reused.
@pytest.fixture(scope="session")
def docker_engine():
    from rivaverify.runtime import docker_engine

    try:
        return docker_engine.client()
    except docker_engine.DockerError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def riva_lite_image(docker_engine):
    pytest.importorskip("pytriton", reason="needs the lite extra: pip install -e '.[lite]'")
    from rivalite import image
    from rivalite.errors import RivaLiteError

    try:
        return image.build(client=docker_engine, log=lambda _: None)
    except RivaLiteError as exc:
        pytest.skip(f"cannot build the riva-lite image here: {exc}")
