"""The suites against the riva-lite image in a container, as a user runs them (`RIVA__TARGET=docker pytest suites/
-m smoke` with no RIVA__IMAGE): the fix, the bug without the shim mount, Ctrl-C, an image that cannot be pulled;
and the runtime alone with the seed's fallbacks. After each, no container of the run is left."""

from __future__ import annotations

import json
import urllib.request
import uuid

import docker
import pytest

from rivaverify.readiness import wait_until
from rivaverify.runtime import container
from rivaverify.runtime import docker as docker_rt
from tests.test_suites_on_riva_lite import CTRL_C, Run, _plugin, free_ports

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory, riva_lite_image):
    return tmp_path_factory.mktemp("work")


class DockerRun(Run):
    def __init__(self, tmp_path, work_dir, extra_env=None):
        self.label = uuid.uuid4().hex
        super().__init__(tmp_path, work_dir, {"RIVA__TARGET": "docker", "RIVA__DOCKER_RUN_LABEL": self.label,
                                              **(extra_env or {})})

    def containers(self, docker_engine) -> list[str]:
        return docker_rt.leftovers(self.label, docker_engine)


def test_smoke_passes_in_a_container_with_no_image_set(tmp_path, work_dir, docker_engine, riva_lite_image):
    run = DockerRun(tmp_path, work_dir)
    assert "RIVA__IMAGE" not in run.env
    result = run.pytest("-m", "smoke")
    assert result.returncode == 0, Run.why(result)
    for phase in ("010", "030", "040", "050"):
        assert run.state_of(phase)["status"] == "passed"
    facts = run.state_of("040")["facts"]
    assert facts["tritonserver_argv"].count("--model-repository=/data/models") == 1, facts["tritonserver_argv"]
    path = facts["launcher_path"]
    assert path["tritonserver"] == f"{container.SHIM_MOUNT}/bin/tritonserver"
    assert path["PATH"].startswith(f"{container.SHIM_MOUNT}/bin:/opt/riva-lite/bin:")
    assert path["source"].startswith("/proc/") and path["source"].endswith("/environ")  # read in the container
    assert run.state_of("050")["figures"]["recognize.wer"]["transcript"] == "what is natural language processing"
    log = (run.reports / "logs" / "riva-docker.log").read_text()
    assert "[SHIM] Injected --model-repository=/data/models" in log and "  > Triton server is ready..." in log
    assert "Riva Conversational AI Server listening on 0.0.0.0:50051" in log and "Riva server is ready" not in log
    plan = json.loads((run.reports / "plan.json").read_text())
    assert any(a["what"].startswith("docker run -d --init") and f" {riva_lite_image} start-riva" in a["what"]
               for a in plan["actions"])
    assert run.containers(docker_engine) == [] and run.leftovers() == []


@pytest.mark.heavy  # a second smoke in a container (about 25 s): CI's heavy lane, .ci/run
def test_direct_launch_runs_riva_server_without_start_riva(tmp_path, work_dir, docker_engine, riva_lite_image):
    """RIVA__DOCKER_LAUNCH=direct: tritonserver --model-repository, then riva_server once Triton is ready; the
    gRPC phases run as with start-riva, the shim check skips with the reason."""
    run = DockerRun(tmp_path, work_dir, {"RIVA__DOCKER_LAUNCH": "direct"})
    result = run.pytest("-m", "smoke", "-rs")
    assert result.returncode == 0, Run.why(result)
    assert run.state_of("050")["status"] == "passed"
    assert "RIVA__DOCKER_LAUNCH=direct: no start-riva" in result.stdout
    facts = run.state_of("040")["facts"]
    assert facts["tritonserver_argv"].count("--model-repository=/data/models") == 1, facts["tritonserver_argv"]
    stages = [s["name"] for s in facts["readiness"]]
    assert stages.index("models ready") < stages.index("riva_server started") < stages.index("grpc health serving")
    log = (run.reports / "logs" / "riva-docker.log").read_text()
    assert "Riva Conversational AI Server listening on 0.0.0.0:50051" in log
    assert "Triton server is ready" not in log  # start-riva's line: it did not run
    assert "[SHIM] Injected" not in log  # tritonserver had the flag already (the shim, still first on PATH, passes)
    plan = [a["what"] for a in json.loads((run.reports / "plan.json").read_text())["actions"]]
    assert any(" tritonserver --model-repository=/data/models " in w for w in plan)
    assert any(w.startswith("docker exec -d ") and "riva_server --asr_service=true" in w for w in plan)
    assert run.containers(docker_engine) == [] and run.leftovers() == []


@pytest.mark.heavy  # the image rebuilt by the run (about 40 s): CI's heavy lane, .ci/run
def test_smoke_builds_the_image_when_it_is_missing(tmp_path, work_dir, docker_engine, riva_lite_image):
    """A new user: no RIVA__IMAGE and no riva-lite:<key> yet. The suite builds it (here on the cached rootfs)."""
    old = docker_engine.images.get(riva_lite_image).id
    docker_engine.images.remove(riva_lite_image)  # untag: riva-lite:latest still holds the layers
    run = DockerRun(tmp_path, work_dir)
    try:
        result = run.pytest("-m", "smoke")
    finally:
        try:
            docker_engine.images.get(riva_lite_image)
        except docker.errors.ImageNotFound:
            docker_engine.images.get(old).tag(*riva_lite_image.split(":"))  # the run failed before building
    assert result.returncode == 0, Run.why(result)
    assert f"building the riva-lite image {riva_lite_image}" in result.stdout
    assert "built " in (run.reports / "riva-lite-image-build.log").read_text()
    assert docker_engine.images.get(riva_lite_image).id != old
    with pytest.raises(docker.errors.ImageNotFound):
        docker_engine.images.get(old)  # the build removed the riva_lite_image it replaced
    assert run.containers(docker_engine) == []


def test_the_bug_without_the_shim_mount_fails_040_with_the_next_step(tmp_path, work_dir, docker_engine,
                                                                      riva_lite_image):
    run = DockerRun(tmp_path, work_dir, {"RIVA__SHIM": "false"})
    result = run.pytest("-m", "smoke")
    assert result.returncode == 1, result.stdout[-3000:]
    out = result.stdout
    assert "040 deploy       FAILED" in out and "050 smoke        NOT_RUN" in out
    assert "next step: tritonserver started without --model-repository: the shim is not first on PATH" in out
    log = (run.reports / "logs" / "riva-docker.log").read_text()
    assert "--model-repository must be specified" in log and "[SHIM]" not in log
    assert run.containers(docker_engine) == []


def test_ctrl_c_mid_run_removes_the_container(tmp_path, work_dir, docker_engine, riva_lite_image):
    run = DockerRun(tmp_path, work_dir)
    _plugin(tmp_path, run, CTRL_C)
    result = run.pytest("-m", "smoke", "-p", "disrupt")
    assert result.returncode == 2, result.stdout[-3000:]
    assert "KeyboardInterrupt" in result.stdout
    assert "Riva Conversational AI Server listening on" in (run.reports / "logs" / "riva-docker.log").read_text()
    assert run.containers(docker_engine) == []


def test_an_image_that_cannot_be_pulled_names_it_and_docker_login(tmp_path, work_dir, docker_engine, riva_lite_image,
                                                                  rivalite_models):
    missing = "localhost:1/nvidia/riva/riva-speech:absent"  # a registry that refuses at once
    run = DockerRun(tmp_path, work_dir, {"RIVA__IMAGE": missing, "RIVA__REQUIRE_GPU": "false",
                                         "RIVA__MODEL_REPO": str(rivalite_models)})  # something to serve
    result = run.pytest("-m", "smoke")
    assert result.returncode == 1
    assert f"image {missing} is not on the Docker engine and cannot be pulled" in result.stdout
    assert "docker login nvcr.io" in result.stdout
    assert run.containers(docker_engine) == []


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except OSError:
        return 0


def test_runtime_fallbacks_direct_tritonserver_other_mount_and_model_repos(tmp_path, docker_engine, riva_lite_image,
                                                                          rivalite_models):
    """The seed's fallbacks: Triton without the launcher (no shim needed), the repository at another mount
    point, MODEL_REPOS in the environment; and the runtime's exec, processes, logs and stop."""
    http = free_ports(1)[0]
    label = uuid.uuid4().hex
    spec = container.quickstart(riva_lite_image, rivalite_models, None, tmp_path / "riva.log", {"triton_http": http},
                                mount="/srv/riva", launch="tritonserver", model_repos_env=True, run_label=label)
    rt = docker_rt.DockerRuntime(docker_engine)
    rt.start(spec)
    try:
        def ready() -> bool:
            assert rt.alive(), rt.logs(30)
            return _get(f"http://127.0.0.1:{http}/v2/health/ready") == 200

        wait_until(ready, 60, "Triton ready in the container", interval_s=0.5)
        triton = rt.find("tritonserver")
        assert len(triton) == 1 and "--model-repository=/srv/riva/models" in triton[0].argv
        assert rt.launcher() is None  # no start-riva
        env = rt.exec(["cat", f"/proc/{triton[0].pid}/environ"]).stdout.split("\0")
        assert "MODEL_REPOS=--model-repository=/srv/riva/models" in env
        assert rt.exec(["sh", "-c", "exit 3"]).rc == 3
        assert "successfully loaded" in rt.logs() and rt.host_url() == f"docker://{spec.name}"
    finally:
        rt.stop(timeout_s=10)
    assert not rt.alive() and docker_rt.leftovers(label, docker_engine) == []
    assert rt.exec(["true"]).rc != 0  # nothing to run in any more
