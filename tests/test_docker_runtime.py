"""The docker runtime without an engine: NVIDIA's quick start flags, the shim overlay, errors that say what to do,
the in-container process list."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from rivaverify.runtime import container, docker_engine
from rivaverify.runtime import docker as rt

PORTS = {"riva": 50061, "triton_http": 8010, "triton_grpc": 8011, "triton_metrics": 8012}


def spec(tmp_path: Path, **kw) -> container.ContainerSpec:
    repo = tmp_path / "deploy" / "models"
    repo.mkdir(parents=True)
    return container.quickstart("nvcr.io/nvidia/riva/riva-speech:2.19.0", repo, kw.pop("shim", tmp_path / "shim"),
                         tmp_path / "riva.log", PORTS, run_label="run-4711", **kw)


def test_quickstart_is_nvidias_docker_run(tmp_path):
    s = spec(tmp_path)
    kw = container.run_kwargs(s, ["PATH=/opt/riva/bin:/usr/bin", "LANG=C"], gpu_runtime=False)
    assert kw["init"] is True and kw["detach"] is True
    assert kw["ports"] == {"50051/tcp": ("0.0.0.0", 50061), "8000/tcp": ("0.0.0.0", 8010),
                           "8001/tcp": ("0.0.0.0", 8011), "8002/tcp": ("0.0.0.0", 8012)}
    assert {(u["Name"], u["Soft"], u["Hard"]) for u in kw["ulimits"]} == {
        ("memlock", -1, -1), ("stack", 67108864, 67108864)}
    assert kw["shm_size"] == "1g"
    assert kw["command"][:2] == ["start-riva", "--riva-uri=0.0.0.0:50051"] and "--asr_service=true" in kw["command"]
    assert kw["labels"] == {"riva-verify": "1", "riva-verify.run": "run-4711"}
    assert kw["name"].startswith("riva-verify-run-4711"[:20])
    assert kw["device_requests"] is None


def test_model_repository_at_data_models_and_shim_read_only_first_on_path(tmp_path):
    s = spec(tmp_path)
    kw = container.run_kwargs(s, ["PATH=/opt/riva/bin:/usr/bin"], gpu_runtime=False)
    mounts = {m["Target"]: m for m in kw["mounts"]}
    assert mounts["/data"]["Source"] == str(tmp_path / "deploy") and not mounts["/data"]["ReadOnly"]
    assert mounts[container.SHIM_MOUNT]["Source"] == str(tmp_path / "shim") and mounts[container.SHIM_MOUNT]["ReadOnly"]
    assert kw["environment"]["PATH"] == f"{container.SHIM_MOUNT}/bin:/opt/riva/bin:/usr/bin"
    assert kw["environment"]["RIVA_MODEL_REPO"] == "/data/models"


def test_without_the_shim_nothing_is_mounted_or_overlaid(tmp_path):
    kw = container.run_kwargs(spec(tmp_path, shim=None), ["PATH=/usr/bin"], gpu_runtime=False)
    assert [m["Target"] for m in kw["mounts"]] == ["/data"]
    assert "PATH" not in kw["environment"]


def test_the_seeds_fallbacks_are_options(tmp_path):
    other = tmp_path / "my-repo"
    other.mkdir()
    s = container.quickstart("img", other, None, tmp_path / "l", PORTS, mount="/srv/riva", launch="tritonserver",
                      model_repos_env=True)
    kw = container.run_kwargs(s, [], gpu_runtime=False)
    assert [(m["Target"], m["Source"]) for m in kw["mounts"]] == [("/srv/riva/models", str(other))]
    assert kw["environment"]["MODEL_REPOS"] == "--model-repository=/srv/riva/models"
    assert kw["command"][:2] == ["tritonserver", "--model-repository=/srv/riva/models"]


def test_direct_launch_is_tritonserver_then_riva_server(tmp_path):
    s = container.quickstart("img", tmp_path / "models", None, tmp_path / "l", PORTS, launch="direct")
    assert s.argv[:2] == ["tritonserver", "--model-repository=/data/models"]
    assert s.api_argv == ["riva_server", "--asr_service=true", "--nlp_service=false", "--tts_service=false"]
    line = container.api_exec_argv(s)
    assert line[:4] == ["docker", "exec", "-d", s.name] and line[-4:] == s.api_argv
    none = container.quickstart("img", tmp_path / "models", None, tmp_path / "l", PORTS)
    assert none.api_argv == []  # start-riva: none


@pytest.mark.parametrize(("gpus", "engine_has_nvidia", "expected"), [
    ("auto", True, {"Count": -1, "Capabilities": [["gpu"]]}),
    ("auto", False, None),
    ("all", False, {"Count": -1, "Capabilities": [["gpu"]]}),
    ("none", True, None),
    ("0,1", True, {"DeviceIDs": ["0", "1"], "Capabilities": [["gpu"]]}),
])
def test_gpus_through_device_requests(tmp_path, gpus, engine_has_nvidia, expected):
    kw = container.run_kwargs(spec(tmp_path, gpus=gpus), [], gpu_runtime=engine_has_nvidia)
    got = kw["device_requests"]
    if expected is None:
        assert got is None
    else:
        assert len(got) == 1 and {k: v for k, v in got[0].items() if k in expected} == expected


def test_docker_run_argv_reads_like_the_quick_start(tmp_path):
    argv = container.docker_run_argv(spec(tmp_path, gpus="all"))
    line = " ".join(argv)
    for flag in ("docker run -d --init", "--shm-size 1g", "--ulimit memlock=-1", "--ulimit stack=67108864",
                 "-p 50061:50051", "-p 8010:8000", "-p 8011:8001", "-p 8012:8002", "--gpus all",
                 f"-v {tmp_path / 'deploy'}:/data", f"-v {tmp_path / 'shim'}:{container.SHIM_MOUNT}:ro",
                 f"-e PATH={container.SHIM_MOUNT}/bin:$IMAGE_PATH",
                 "nvcr.io/nvidia/riva/riva-speech:2.19.0 start-riva"):
        assert flag in line
    assert "--gpus" not in container.docker_run_argv(spec(tmp_path / "auto"))  # auto: decided by the engine at start


def test_image_path_defaults_to_dockers():
    assert docker_engine.image_path(["A=1", "PATH=/x:/y"]) == "/x:/y"
    assert docker_engine.image_path(None) == docker_engine.DEFAULT_PATH


class FakeImages:
    def __init__(self, present: set[str], pull_error: str | None = None):
        self.present, self.pull_error, self.pulled = present, pull_error, []

    def get(self, name):
        if name in self.present:
            return name
        raise docker.errors.ImageNotFound(f"No such image: {name}")

    def pull(self, name):
        self.pulled.append(name)
        if self.pull_error:
            raise docker.errors.APIError(self.pull_error)
        return name


class FakeClient:
    def __init__(self, images: FakeImages):
        self.images = images


def test_a_present_image_is_never_pulled():
    images = FakeImages({"nvcr.io/nvidia/riva/riva-speech:2.19.0"})
    assert docker_engine.ensure_image(FakeClient(images), "nvcr.io/nvidia/riva/riva-speech:2.19.0", log=lambda _: None)
    assert images.pulled == []


def test_a_missing_image_is_pulled():
    images = FakeImages(set())
    docker_engine.ensure_image(FakeClient(images), "riva:1", log=lambda _: None)
    assert images.pulled == ["riva:1"]


def test_a_missing_image_that_cannot_be_pulled_names_it_and_docker_login():
    images = FakeImages(set(), pull_error="unauthorized: authentication required")
    with pytest.raises(docker_engine.DockerError) as err:
        docker_engine.ensure_image(FakeClient(images), "nvcr.io/nvidia/riva/riva-speech:2.19.0", log=lambda _: None)
    msg = str(err.value)
    assert "nvcr.io/nvidia/riva/riva-speech:2.19.0" in msg and "docker login nvcr.io" in msg
    assert "unauthorized" in msg


def test_no_engine_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    with pytest.raises(docker_engine.DockerError,
                       match=r"no Docker engine reachable at tcp://127.0.0.1:1 .*start dockerd"):
        docker_engine.client()


def test_an_ssh_docker_host_goes_through_the_systems_ssh(monkeypatch, tmp_path):
    """DOCKER_HOST=ssh://… selects a remote engine through `ssh` (as the docker CLI does); none here answers."""
    fake_ssh = tmp_path / "ssh"
    fake_ssh.write_text("#!/bin/sh\necho \"ssh $*\" >> \"$(dirname \"$0\")/calls\"\nexit 255\n")
    fake_ssh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setenv("DOCKER_HOST", "ssh://riva@gpu-box")
    with pytest.raises(docker_engine.DockerError, match="ssh://riva@gpu-box"):
        docker_engine.client()
    calls = (tmp_path / "calls").read_text()
    assert "-l riva" in calls and "gpu-box docker system dial-stdio" in calls


def test_closing_an_ssh_stream_whose_ssh_exited_is_quiet(monkeypatch, tmp_path):
    """After an exec the engine ends its stream and `ssh` exits; docker-py then wrote to the dead ssh's stdin on
    close and raised BrokenPipeError after the exec's output was read (docker/docker-py#3218)."""
    from docker.transport.sshconn import SSHSocket

    (tmp_path / "ssh").write_text("#!/bin/sh\nexit 0\n")  # a stream the engine already ended
    (tmp_path / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setenv("DOCKER_HOST", "ssh://riva@gpu-box")
    with pytest.raises(docker_engine.DockerError):
        docker_engine.client()  # no engine answers, but the ssh transport is made safe to close
    sock = SSHSocket("riva@gpu-box")
    sock.connect()
    sock.proc.wait(10)
    sock.close()
    assert sock.proc.returncode == 0 and sock.proc.stdin.closed


PS_OUTPUT = (
    b"\0361 (docker-init) S 0 1 1 0 -1 4194560\037/sbin/docker-init\0--\0start-riva\0"
    b"\0367 (start-riva) S 1 7 7 0\037/opt/riva-lite/bin/python3\0/opt/riva-lite/bin/start-riva\0--asr_service=true\0"
    b"\03612 (tritonserver) S 7 12 12 0\037tritonserver\0--model-repository=/data/models\0\0--http-port=8000\0"
    b"\03640 (my proc) name) Z 7 40 40 0\037"
    b"\03650 (sh) S 0 50 50 0\037sh\0-c\0...\0"
    b"\03651 (cat) R 50 51 50 0\037cat\0/proc/51/stat\0"
    b"\03550"
)


def test_parse_ps_reads_pid_ppid_comm_and_argv_and_leaves_out_itself_and_zombies():
    procs = rt.parse_ps(PS_OUTPUT)
    assert [(p.pid, p.ppid, p.name) for p in procs] == [(1, 0, "docker-init"), (7, 1, "start-riva"),
                                                         (12, 7, "tritonserver")]
    assert procs[2].argv == ["tritonserver", "--model-repository=/data/models", "", "--http-port=8000"]


def test_launcher_is_found_among_container_processes():
    runtime = rt.DockerRuntime(docker_client=object())
    runtime.processes = lambda: rt.parse_ps(PS_OUTPUT)
    assert runtime.launcher().pid == 7
    assert [p.pid for p in runtime.find("tritonserver")] == [12]


SKIPPING = """
import pytest

@pytest.mark.docker
def test_needs_docker():
    pytest.skip("no Docker engine reachable")

def test_other():
    pass
"""


def test_a_skipped_docker_test_is_a_skip_by_default(suite_dir):
    suite_dir.makepyfile(test_x=SKIPPING)
    result = suite_dir.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 0
    result.assert_outcomes(passed=1, skipped=1)


def test_require_docker_turns_a_skip_into_a_failure(suite_dir, monkeypatch):
    suite_dir.makepyfile(test_x=SKIPPING)
    monkeypatch.setenv("RIVA__REQUIRE_DOCKER", "true")
    result = suite_dir.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*may not skip while RIVA__REQUIRE_DOCKER=true*"])


def test_require_docker_fails_a_run_where_no_docker_test_ran(suite_dir, monkeypatch):
    suite_dir.makepyfile(test_x="def test_other():\n    pass\n")
    monkeypatch.setenv("RIVA__REQUIRE_DOCKER", "true")
    result = suite_dir.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*no docker-marked test passed*"])


def test_start_riva_gets_only_nvidias_flags_and_the_ready_timeout_through_the_environment(tmp_path, monkeypatch):
    from rivalite import launcher

    s = spec(tmp_path, ready_timeout_s=90)
    assert not [a for a in s.argv if a.startswith("--triton-ready-timeout")]  # NVIDIA's start-riva has no such flag
    assert s.env[container.READY_TIMEOUT_ENV] == "90" and container.READY_TIMEOUT_ENV == launcher.READY_TIMEOUT_ENV
    monkeypatch.setenv(launcher.READY_TIMEOUT_ENV, "90")
    assert launcher.parse_args(s.argv[1:]).triton_ready_timeout == 90  # riva-lite's launcher reads it
    assert launcher.parse_args(["--triton-ready-timeout=5"]).triton_ready_timeout == 5  # the flag still wins
    monkeypatch.delenv(launcher.READY_TIMEOUT_ENV)
    assert launcher.parse_args([]).triton_ready_timeout == 180
