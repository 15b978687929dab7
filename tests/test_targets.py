"""One type per target and flavor (rivaverify/targets): what each answers, the one ready timeout, the refusals
before anything starts, and the ports checked before a start."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import testinfra

from rivaverify import targets
from rivaverify.plan import Plan
from rivaverify.runtime import container
from rivaverify.settings import load
from rivaverify.targets.docker import DockerTarget
from rivaverify.targets.endpoint import EndpointTarget
from rivaverify.targets.local import LocalTarget

RIVA_SPEECH = "nvcr.io/nvidia/riva/riva-speech:2.19.0"


def target(**settings) -> targets.Target:
    return targets.get(load({k: str(v) for k, v in settings.items()}))


def test_each_target_is_its_own_type():
    assert isinstance(target(), LocalTarget) and isinstance(target(target="docker"), DockerTarget)
    assert isinstance(target(target="endpoint"), EndpointTarget)
    assert target(flavor="nim").nim and not target().nim


@pytest.mark.parametrize("given,riva_lite,gpu", [
    ({}, True, False),
    ({"target": "docker"}, True, False),
    ({"target": "docker", "image": "riva-lite:abc"}, True, False),
    ({"target": "docker", "image": RIVA_SPEECH, "model_repo": "."}, False, True),
    ({"target": "endpoint"}, False, False),
    ({"target": "endpoint", "require_gpu": "true"}, False, True),
    ({"target": "docker", "image": RIVA_SPEECH, "model_repo": ".", "require_gpu": "false"}, False, False),
])
def test_what_is_served_and_whether_a_gpu_is_expected(given, riva_lite, gpu):
    t = target(**given)
    assert (t.riva_lite, t.needs_gpu) == (riva_lite, gpu)


def test_one_ready_timeout_from_the_profile_unless_overridden_reaches_riva_lites_launchers(tmp_path):
    staging = target(profile="staging")
    assert staging.ready_timeout_s == 600
    assert "--triton-ready-timeout=600" in staging.classic_spec(tmp_path, None, tmp_path / "log").argv
    assert "--ready-timeout=600" in target(profile="staging", flavor="nim").nim_spec(tmp_path, tmp_path / "l").argv
    assert target(profile="staging", ready_timeout_s=45).ready_timeout_s == 45
    assert target().ready_timeout_s == 120  # dev


def test_ports_by_target_and_flavor():
    assert set(target().ports()) == {"riva", "triton_http", "triton_grpc", "triton_metrics"}
    assert set(target(flavor="nim").ports()) == {"riva", "triton_http", "triton_grpc", "triton_metrics", "nim_http"}
    assert set(target(target="docker", flavor="nim").ports()) == {"riva", "nim_http"}  # a NIM publishes these
    assert set(target(target="endpoint").ports()) == {"riva"}


def test_a_real_image_with_nothing_to_serve_is_refused_naming_the_settings():
    why = target(target="docker", image=RIVA_SPEECH).refusal()
    assert why and "RIVA__MODEL_REPO" in why and "RIVA__ARTIFACT" in why and RIVA_SPEECH in why
    assert target(target="docker", image=RIVA_SPEECH, model_repo=".").refusal() is None
    assert target(target="docker", image=RIVA_SPEECH, artifact="s3://b/p/").refusal() is None
    ours = target(target="docker", image=RIVA_SPEECH, artifact="/tmp/x/whisper-tiny-en-US-deployable_v1.tar.gz")
    assert "is riva-lite's own archive" in ours.refusal() and "unset RIVA__IMAGE" in ours.refusal()
    assert target(target="docker").refusal() is None  # riva-lite's image serves riva-lite's archive
    assert target(target="docker", flavor="nim", image="nvcr.io/nim/nvidia/parakeet:1.0.0").refusal() is None


def test_the_refusal_stops_the_run_before_any_test(suite_dir, monkeypatch):
    monkeypatch.setenv("RIVA__TARGET", "docker")
    monkeypatch.setenv("RIVA__IMAGE", RIVA_SPEECH)
    suite_dir.makepyfile(test_010_preflight="def test_never_runs():\n    raise AssertionError('ran')\n")
    result = suite_dir.runpytest("--dry-run")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "target docker refused" in result.stderr.str() and "RIVA__MODEL_REPO" in result.stderr.str()


def _names(t: targets.Target, launch=None, runtime=None) -> list[str]:
    return [s.name for s in t.stages(t.deployment(runtime, launch), launch)]


def test_readiness_stages_in_order():
    assert _names(target(target="endpoint")) == ["triton live", "triton ready", "models ready",
                                                 "grpc health serving", "model listed"]
    assert _names(target(target="endpoint", flavor="nim")) == ["http live", "http ready", "grpc health serving",
                                                               "model listed"]


class _Runtime:
    """Only what stages() asks of a runtime: that there is one (a started deployment)."""


def test_a_started_deployment_is_watched_from_its_process(tmp_path):
    local = target()
    assert _names(local, runtime=_Runtime())[:2] == ["process alive", "triton live"]
    docker = target(target="docker", docker_launch="direct")
    spec = container.quickstart("img", tmp_path / "models", None, tmp_path / "log", {}, launch="direct")
    direct = _names(docker, targets.Launch("docker", spec), runtime=_Runtime())
    assert direct.index("models ready") < direct.index("riva_server started") < direct.index("grpc health serving")
    assert _names(target(flavor="nim"), runtime=_Runtime())[:3] == ["process alive", "http live", "http ready"]


def test_a_taken_port_refuses_the_start_naming_the_port_and_its_holder():
    host = testinfra.get_host("local://")
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        problem = target(triton_metrics_port=port).port_problem(host)
        assert problem and f"triton metrics {port} by" in problem and f"(pid {os.getpid()})" in problem
    assert f"triton metrics {port}" not in (target(triton_metrics_port=port).port_problem(host) or "")  # released
    assert target(target="endpoint").port_problem(host) is None  # nothing is started there


def test_the_launch_is_recorded_and_nothing_starts_in_a_dry_run(tmp_path):
    plan = Plan(dry_run=True)
    launch = target().launch(plan, {"model_repo": tmp_path, "shim_bin": tmp_path / "bin"})
    assert launch.runtime == "local" and launch.expected_models == []
    [action] = plan.actions
    assert action["kind"] == "run" and "start-riva" in action["what"] and action["env"]["RIVA_MODEL_REPO"] == str(
        tmp_path)
    assert Path(launch.spec.env["PATH"].split(":")[0]) == tmp_path / "bin"


@pytest.mark.slow
def test_a_taken_port_fails_the_deployment_whichever_phases_run(tmp_path):
    """`-m gateway` alone, another server on the Triton HTTP port: the deployment is refused before it starts,
    naming the port and its holder, and nothing runs against the other server."""
    from tests.test_suites_on_riva_lite import Run

    run = Run(tmp_path, tmp_path / "work")
    with socket.socket() as held:
        held.bind(("127.0.0.1", run.ports["http"]))
        held.listen()
        result = run.pytest("-m", "gateway")
    assert result.returncode == 1, result.stdout[-3000:]
    assert f"ports needed by the deployment are taken: triton http {run.ports['http']} by" in result.stdout
    assert run.state_of("070")["status"] == "failed" and run.leftovers() == []
    assert not (tmp_path / "reports" / "logs" / "riva-local.log").exists()  # nothing was started
