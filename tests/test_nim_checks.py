"""The suite's side of a NIM without one running: the run line as NIM's documentation writes it, the settings,
the cache checks and the lines a NIM's log is read for."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rivaverify import deploy, nim, nim_realtime
from rivaverify.runtime import container
from rivaverify.settings import Flavor, SettingsError, load

KEY = "nvapi-test-0123456789"


def nim_spec(tmp_path: Path) -> container.ContainerSpec:
    settings = load({"flavor": "nim", "ngc_api_key": KEY, "nim_tags_selector": "name=parakeet-0-6b,mode=str"})
    env = deploy.nim_env(settings, nim.HTTP_PORT, nim.GRPC_PORT, riva_lite=False)
    return container.nim_run("nvcr.io/nim/nvidia/parakeet-0-6b-ctc-en-us:1.3.0", tmp_path / "cache",
                      tmp_path / "nim.log", {"riva": 50051, "nim_http": 9000}, env, gpus="0", run_label="run-4711")


def test_the_run_line_is_nims(tmp_path):
    """docker run --gpus device=0 --shm-size=8GB --ulimit nofile=2048:2048 -e NGC_API_KEY -e NIM_* -v CACHE:/opt/nim/
    .cache -p 9000:9000 -p 50051:50051 IMAGE (docs.nvidia.com/nim/riva/asr getting-started and configuration)."""
    spec = nim_spec(tmp_path)
    kw = container.run_kwargs(spec, None, gpu_runtime=True)
    assert kw["command"] is None and kw["init"] is False  # the image's own entrypoint
    assert kw["shm_size"] == "8GB"
    assert [(u["Name"], u["Soft"], u["Hard"]) for u in kw["ulimits"]] == [("nofile", 2048, 2048)]
    assert kw["ports"] == {"50051/tcp": ("0.0.0.0", 50051), "9000/tcp": ("0.0.0.0", 9000)}
    assert [(m["Target"], m["Source"], m["ReadOnly"]) for m in kw["mounts"]] == [
        ("/opt/nim/.cache", str((tmp_path / "cache").resolve()), False)]
    assert kw["environment"] == {"NIM_HTTP_API_PORT": "9000", "NIM_GRPC_API_PORT": "50051",
                                 "NIM_TAGS_SELECTOR": "name=parakeet-0-6b,mode=str", "NGC_API_KEY": KEY}
    assert kw["device_requests"][0]["DeviceIDs"] == ["0"]


def test_the_printed_run_line_names_the_key_but_never_holds_it(tmp_path):
    argv = container.docker_run_argv(nim_spec(tmp_path))
    line = " ".join(argv)
    assert KEY not in line and "-e NGC_API_KEY " in line
    assert "--ulimit nofile=2048" in line and "--shm-size 8GB" in line and "--init" not in line
    assert "-p 9000:9000" in line and "-p 50051:50051" in line and "--gpus device=0" in line
    assert argv[-1] == "nvcr.io/nim/nvidia/parakeet-0-6b-ctc-en-us:1.3.0"


def test_riva_lite_gets_a_stand_in_key_a_real_nim_none():
    settings = load({"flavor": "nim"})
    assert deploy.nim_env(settings, 9000, 50051, riva_lite=True)["NGC_API_KEY"] == deploy.RIVA_LITE_KEY
    assert "NGC_API_KEY" not in deploy.nim_env(settings, 9000, 50051, riva_lite=False)


def test_flavor_settings(monkeypatch):
    monkeypatch.delenv("NGC_API_KEY", raising=False)
    s = load({"flavor": "nim", "grpc_address": "gpu-box:50051"})
    assert s.flavor == Flavor.nim and s.nim_http_address == "gpu-box:9000" and s.ngc_api_key is None
    monkeypatch.setenv("NGC_API_KEY", KEY)  # NIM's own variable serves as the key
    assert load({"flavor": "nim"}).ngc_api_key.get_secret_value() == KEY
    with pytest.raises(SettingsError, match="--riva-flavor='nemo'"):
        load({"flavor": "nemo"})
    with pytest.raises(SettingsError, match="--riva-nim-http='9000'.*HOST:PORT"):
        load({"nim_http": "9000"})


def test_the_profile_a_log_names():
    log = ("INFO:inference:Detected gpu_device: 0 NVIDIA H100 compute capability: (9, 0)\n"
           "INFO:inference:Matched profile_id with tags: {'name': 'parakeet-0-6b-ctc-en-us', 'mode': 'str'}\n"
           "INFO:inference:Selected profile: 8f2cdd8e6c4a\n"
           "INFO:inference:Riva gRPC Server is READY\n")
    assert nim.profile_named(log) == "8f2cdd8e6c4a"
    assert nim.profile_named("INFO:inference:Riva gRPC Server is READY\n") is None


def test_the_repositories_in_a_cache_are_found_where_the_nim_put_them(tmp_path):
    assert nim.repositories_in_cache(tmp_path / "none") == []
    repos = [tmp_path / "ngc" / "hub" / f"models--nim--parakeet-{mode}" / "models" for mode in ("ofl", "str")]
    for repo in repos:
        (repo / "asr-bls-ensemble" / "1").mkdir(parents=True)
        (repo / "asr-bls-ensemble" / "config.pbtxt").write_text('name: "asr-bls-ensemble"\n')
    (tmp_path / "ngc" / "hub" / "locks").mkdir()
    assert nim.repositories_in_cache(tmp_path) == repos  # one per profile the NIM ran
    assert nim.cache_filled(tmp_path) and not nim.cache_filled(tmp_path / "none")


def test_the_repository_served_is_the_one_tritonservers_argv_names(tmp_path):
    """In a container the path is under /opt/nim/.cache: the same folder under the host's cache."""
    argv = ["tritonserver", "--model-repository=/opt/nim/.cache/riva-lite/7e2eb7/models", "--http-port=8000"]
    assert nim.served_repository([argv], tmp_path) == tmp_path / "riva-lite" / "7e2eb7" / "models"
    assert nim.served_repository([["tritonserver", "--model-repository", "/srv/c/m"]], tmp_path) == Path("/srv/c/m")
    assert nim.served_repository([["tritonserver", "--http-port=8000"]], tmp_path) is None


@pytest.mark.skipif(os.getuid() == 1000, reason="the NIM's own UID")
def test_a_cache_folder_the_nims_user_cannot_write_is_named_with_the_fix(tmp_path):
    cache = tmp_path / "cache"
    assert nim.cache_problem(cache) is None  # missing: the fixture makes it, writable by all
    cache.mkdir(mode=0o755)
    cache.chmod(0o755)
    problem = nim.cache_problem(cache, uid=1000)
    assert f"owned by UID {os.getuid()}" in problem and "sudo chown -R 1000" in problem
    cache.chmod(0o777)
    assert nim.cache_problem(cache, uid=1000) is None
    if os.getuid() == 0:  # owned by the NIM's user is enough
        os.chown(cache, 1000, -1)
        cache.chmod(0o755)
        assert nim.cache_problem(cache, uid=1000) is None


def session(*events, done_at=1.0, problem=""):
    return nim_realtime.Session(events=list(events), done_at=done_at, problem=problem)


COMPLETED = nim_realtime.COMPLETED


def test_the_realtime_contract_holds_for_a_healthy_session():
    s = session((0.1, {"type": "conversation.created"}), (0.5, {"type": nim_realtime.DELTA, "delta": "what is"}),
                (1.3, {"type": COMPLETED, "transcript": "What is natural language processing?",
                       "is_last_result": True}))
    assert nim_realtime.problems(s, "what is natural language processing", 0.1, 2.0) == []


def test_both_readings_of_the_last_result_are_scored():
    """Every final joined in the last result (riva-lite), or the last utterance alone: either reads right."""
    ref = "thank you very much see you tomorrow"
    per_utterance = session((1, {"type": COMPLETED, "transcript": "Thank you very much."}),
                            (2, {"type": COMPLETED, "transcript": "See you tomorrow.", "is_last_result": True}))
    joined = session((1, {"type": COMPLETED, "transcript": "Thank you very much."}),
                     (2, {"type": COMPLETED, "transcript": "Thank you very much. See you tomorrow.",
                          "is_last_result": True}))
    assert nim_realtime.transcript_wer(per_utterance, ref)[0] == 0
    assert nim_realtime.transcript_wer(joined, ref)[0] == 0


def test_the_realtime_contract_catches_what_is_wrong():
    ref = "what is natural language processing"
    assert nim_realtime.problems(session(problem="no completed event with is_last_result within 9 s"), ref, 0.1,
                                 2) == ["no completed event with is_last_result within 9 s"]
    error = session((0.2, {"type": "error", "error": {"message": "Unsupported audio format"}}))
    assert nim_realtime.problems(error, ref, 0.1, 2) == ["error event: Unsupported audio format"]
    wrong = session((1.2, {"type": COMPLETED, "transcript": "what is the weather", "is_last_result": True}))
    assert "WER 0.60 over 0.1" in nim_realtime.problems(wrong, ref, 0.1, 2)[0]
    late = session((4.5, {"type": COMPLETED, "transcript": ref, "is_last_result": True}))
    assert nim_realtime.problems(late, ref, 0.1, 2) == [
        "the last result came 3.50 s after the audio ended, bound 2 s"]


def test_what_a_deployment_serves_follows_the_listed_types():
    from rivaverify.asr.client import served_types

    streaming_only = {
        "parakeet-0.6b-en-US-asr-streaming-asr-bls-ensemble": {"type": "online", "language_code": "en-US"},
        "parakeet-1.1b-de-DE-asr-offline": {"type": "offline", "language_code": "de-DE"}}
    assert served_types(streaming_only, "en-US") == {"online"}
    assert served_types(streaming_only, "de-DE") == {"offline"}
    assert served_types({"m": {"language_code": "en-US"}}, "en-US") == {"offline", "online"}  # no type stated
    assert served_types({}, "en-US") == {"offline", "online"}  # nothing listed: 040's listing check says so
