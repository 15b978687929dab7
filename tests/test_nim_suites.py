"""RIVA__FLAVOR=nim as a user runs it: riva-lite's NIM face started as NIM's run line starts a NIM (locally and in
a container), a cold start that fills the cache then a warm one that reuses it, gRPC and HTTP agreeing, the key
never written anywhere, and NIM's refusals (no profile, no key for a real NIM) with their next step."""

from __future__ import annotations

import pytest

from testing.local_nim import LocalNim
from tests.test_docker_suites import DockerRun
from tests.test_suites_on_riva_lite import Run, free_ports

pytestmark = pytest.mark.slow

KEY = "nvapi-riva-verify-test-5d1c"  # a distinctive stand-in: it must never reach a file or an argv


def nim_env(tmp_path, **extra: str) -> dict[str, str]:
    (http,) = free_ports(1)
    return {"RIVA__FLAVOR": "nim", "RIVA__NIM_HTTP": f"localhost:{http}", "RIVA__NIM_CACHE": str(tmp_path / "cache"),
            **extra}


def written(*folders) -> str:
    return "".join(p.read_text(errors="replace") for f in folders for p in f.rglob("*") if p.is_file()
                   and p.suffix != ".gz")


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    pytest.importorskip("pytriton", reason="needs the lite extra: pip install -e '.[lite]'")
    return tmp_path_factory.mktemp("work")


@pytest.mark.heavy  # three suite runs (about a minute): CI's heavy lane, .ci/run
def test_a_cold_start_fills_the_cache_and_a_warm_start_reuses_it(tmp_path, work_dir):
    env = nim_env(tmp_path, RIVA__NGC_API_KEY=KEY)
    cold = Run(tmp_path / "cold", work_dir, env)
    result = cold.pytest("-m", "smoke")
    assert result.returncode == 0, Run.why(result)
    assert cold.state_of("030")["status"] == "skipped"  # a NIM deploys its repository as it starts: 040 checks it
    assert str(tmp_path / "cache") in cold.state_of("040")["facts"]["nim_model_repo"]  # what it filled its cache with
    assert cold.state_of("040")["facts"]["models"]
    figures = cold.state_of("040")["figures"]
    assert "nim.start_cold" in figures and [k for k in figures if k.startswith("ready.http")] == [
        "ready.http_live", "ready.http_ready"]
    http = cold.state_of("050")["figures"]
    assert http["http.wer"]["value"] <= 0.25 and http["http.grpc_disagreement"]["value"] <= 0.25
    assert cold.state_of("040")["facts"]["nim_profile"]  # riva-lite's log names its profile
    assert cold.leftovers() == []

    warm = Run(tmp_path / "warm", work_dir, env)  # with 060's NIM checks: realtime WebSocket, bad uploads
    result = warm.pytest("-m", "production", "-k", "not test_060 and not test_070 or realtime or bad_uploads")
    assert result.returncode == 0, Run.why(result)
    assert warm.state_of("030")["status"] == "skipped"  # no phase before 040 starts the NIM
    realtime = {k: f for k, f in warm.state_of("060")["figures"].items() if k.startswith("realtime.")}
    assert len(realtime) == 2 and all(f["value"] <= 0.25 and f["deltas"] for f in realtime.values()), realtime
    assert {c["status"] for c in warm.state_of("060")["facts"]["http_bad_input"].values()} <= set(range(400, 500))
    assert warm.state_of("040")["facts"]["nim_model_repo"] == cold.state_of("040")["facts"]["nim_model_repo"]
    assert "nim.start_warm" in warm.state_of("040")["figures"]
    assert KEY not in written(cold.reports, cold.state, warm.reports, warm.state)
    assert warm.leftovers() == []

    # A streaming-only profile on the same cache: a second repository beside the first; 040 checks the one served,
    # the Recognize checks skip (no offline model listed), 040's first inference is a stream.
    streaming = Run(tmp_path / "str", work_dir, {**env, "RIVA__NIM_TAGS_SELECTOR": "name=whisper-tiny-en-us,mode=str"})
    result = streaming.pytest("-m", "smoke", "-rs")
    assert result.returncode == 0, Run.why(result)
    served = streaming.state_of("040")["facts"]["nim_model_repo"]
    assert served != warm.state_of("040")["facts"]["nim_model_repo"] and served.startswith(str(tmp_path / "cache"))
    assert streaming.state_of("040")["figures"]["ready.first_inference"]["rpc"] == "StreamingRecognize"
    assert "lists no offline model for en-US" in result.stdout and "streaming.wer" in streaming.state_of("050")[
        "figures"]
    assert streaming.leftovers() == []


def test_a_selector_no_profile_matches_fails_deploy_with_nims_error(tmp_path, work_dir):
    run = Run(tmp_path, work_dir, nim_env(tmp_path, RIVA__NIM_TAGS_SELECTOR="name=no-such-model"))
    result = run.pytest("-m", "smoke")
    assert result.returncode == 1
    assert run.state_of("040")["status"] == "failed"
    assert "NIMProfileIDNotFound" in result.stdout and "NIM_TAGS_SELECTOR" in result.stdout
    assert run.leftovers() == []


@pytest.mark.docker
@pytest.mark.heavy  # the NIM image through the docker target (about 40 s): CI's heavy lane, .ci/run
def test_the_nim_image_runs_as_nims_docs_run_it(tmp_path, work_dir, docker_engine, riva_lite_image):
    run = DockerRun(tmp_path, work_dir, nim_env(tmp_path, RIVA__NGC_API_KEY=KEY))
    result = run.pytest("-m", "smoke")
    assert result.returncode == 0, Run.why(result)
    facts = run.state_of("040")["facts"]
    assert facts["open_files_limit"]["soft"] == 2048  # --ulimit nofile=2048:2048
    repos = [a for a in facts["tritonserver_argv"] if a.startswith("--model-repository=")]
    assert len(repos) == 1 and repos[0].startswith("--model-repository=/opt/nim/.cache/"), repos
    assert run.state_of("050")["status"] == "passed"
    assert KEY not in written(run.reports, run.state)
    assert run.containers(docker_engine) == []


@pytest.mark.docker
def test_a_real_nim_without_a_key_is_refused_before_it_starts(tmp_path, work_dir, docker_engine):
    image = "nvcr.io/nim/nvidia/parakeet-0-6b-ctc-en-us:1.3.0"  # a real NIM's name: nothing is pulled in 010
    run = DockerRun(tmp_path, work_dir, nim_env(tmp_path, RIVA__IMAGE=image))
    run.env.pop("NGC_API_KEY", None)
    result = run.pytest("-m", "preflight")
    assert result.returncode == 1
    assert "NGC_API_KEY is not set" in result.stdout and "export NGC_API_KEY" in result.stdout
    assert run.containers(docker_engine) == []


def test_the_endpoint_target_attaches_to_a_running_nim(tmp_path, work_dir):
    """A NIM this run did not start: gRPC at RIVA__HOST, HTTP at RIVA__NIM_HTTP; readiness and the HTTP checks run,
    what cannot be seen from here (its cache, its processes) is skipped with the reason."""
    running = LocalNim(tmp_path / "cache", tmp_path, {"NGC_API_KEY": KEY}).start().wait_ready()
    try:
        run = Run(tmp_path / "run", work_dir, {"RIVA__TARGET": "endpoint", "RIVA__FLAVOR": "nim",
                                              "RIVA__HOST": running.grpc_uri,
                                              "RIVA__NIM_HTTP": running.base_url.removeprefix("http://")})
        result = run.pytest("-m", "smoke", "-rs")
        assert result.returncode == 0, Run.why(result)
        stages = [s["name"] for s in run.state_of("040")["facts"]["readiness"]]
        assert stages == ["http live", "http ready", "grpc health serving", "model listed"], stages
        assert run.state_of("050")["figures"]["http.wer"]["value"] <= 0.25
        assert "target endpoint: the NIM's cache is not visible from here" in result.stdout
    finally:
        running.stop()
    assert running.leftovers() == []
