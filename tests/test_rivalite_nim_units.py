"""riva-lite's NIM face without a deployment: profiles, refused starts (NIM's answers), the HTTP API while the
models load, the realtime session rules. Fast: nothing here starts tritonserver."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import pytest

from rivalite.nim import NimError, profiles, realtime

pytest.importorskip("aiohttp", reason="the NIM face needs the lite extra: pip install -e '.[lite]'")


def run_nim(tmp_path, *args, **env) -> subprocess.CompletedProcess:
    full = {**os.environ, "NIM_CACHE_PATH": str(tmp_path / "cache"), "NIM_HTTP_API_PORT": "29999",
            "NIM_GRPC_API_PORT": "29998", "NIM_TAGS_SELECTOR": None, "NIM_MODEL_PROFILE": None,
            "NIM_MANIFEST_PATH": None, **env}
    full = {k: v for k, v in full.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "rivalite.cli", *args], env=full, capture_output=True, text=True,
                          timeout=60)


def test_manifest_profiles_have_nim_shaped_ids_and_tags():
    loaded = profiles.load()
    assert len({p.id for p in loaded}) == len(loaded) >= 3
    assert all(re.fullmatch(r"[0-9a-f]{64}", p.id) for p in loaded)
    assert {p.tags["mode"] for p in loaded} == {"all", "ofl", "str", "str-thr"}  # Speech NIM's modes
    assert all((p.tags["vad"], p.tags["diarizer"]) == ("default", "disabled") for p in loaded)
    assert profiles.select(loaded, "mode=all,vad=default,diarizer=disabled", "").tags["mode"] == "all"  # NVIDIA's


@pytest.mark.parametrize("selector, mode", [("", "all"), ("mode=ofl", "ofl"),
                                            ("name=whisper-tiny-en-us, mode=str", "str")])
def test_selector_picks_the_first_matching_profile(selector, mode):
    assert profiles.select(profiles.load(), selector, "").tags["mode"] == mode


def test_profile_id_wins_over_the_selector():
    loaded = profiles.load()
    assert profiles.select(loaded, "mode=ofl", loaded[2].id) == loaded[2]


@pytest.mark.parametrize("selector", ["name=parakeet-0-6b-ctc-en-us", "mode=str,diarizer=sortformer"])
def test_no_match_is_nims_profile_error_with_the_profiles_and_next_step(selector):
    with pytest.raises(NimError) as e:
        profiles.select(profiles.load(), selector, "")
    text = str(e.value)
    assert text.startswith("NIMProfileIDNotFound: Could not match a profile in manifest")
    assert selector in text and "mode:ofl" in text and "next step" in text


def test_selector_syntax_error_says_how_to_write_it():
    with pytest.raises(NimError, match="is not key=value"):
        profiles.parse_selector("mode:ofl")


def test_list_model_profiles_prints_as_nim_does(tmp_path):
    out = run_nim(tmp_path, "list-model-profiles")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "SYSTEM INFO" and "MODEL PROFILES" in lines and "- Compatible with system:" in lines
    listed = [line for line in lines if re.fullmatch(r"    - [0-9a-f]{64} - \S+", line)]
    assert {p.id for p in profiles.load()} == {line.split()[1] for line in listed}
    assert any("mode:ofl" in line and "name:whisper-tiny-en-us" in line for line in listed)


def test_wrong_selector_exits_with_nims_error(tmp_path):
    out = run_nim(tmp_path, "nim", NIM_TAGS_SELECTOR="name=parakeet,mode=ofl", NGC_API_KEY="k")
    assert out.returncode == 1
    assert "NIMProfileIDNotFound: Could not match a profile in manifest" in out.stderr
    assert not (tmp_path / "cache").exists()  # refused before anything was written


def test_empty_cache_without_key_is_refused_with_the_next_step(tmp_path):
    out = run_nim(tmp_path, "nim", NGC_API_KEY=None)
    assert out.returncode == 1
    assert "NGC_API_KEY is not set" in out.stderr and "docker run -e NGC_API_KEY" in out.stderr
    assert not (tmp_path / "cache").exists()  # nothing half-written, not even the folder this start made
    (tmp_path / "cache").mkdir()
    assert run_nim(tmp_path, "nim", NGC_API_KEY=None).returncode == 1
    assert list((tmp_path / "cache").iterdir()) == []  # a folder given empty stays


def test_unwritable_cache_folder_is_refused(tmp_path):
    (tmp_path / "a-file").write_text("")
    out = run_nim(tmp_path, "nim", NGC_API_KEY="k", NIM_CACHE_PATH=str(tmp_path / "a-file" / "cache"))
    assert out.returncode == 1
    assert "cannot write the NIM cache" in out.stderr and "UID 1000" in out.stderr


def test_a_taken_http_port_is_refused_before_triton_starts(tmp_path):
    import socket

    with socket.socket() as held:
        held.bind(("0.0.0.0", 0))
        held.listen()
        port = held.getsockname()[1]
        out = run_nim(tmp_path, "nim", NGC_API_KEY="k", NIM_HTTP_API_PORT=str(port))
    assert out.returncode == 1 and f"cannot serve HTTP on port {port} (NIM_HTTP_API_PORT)" in out.stderr
    assert "starting" not in out.stdout and not (tmp_path / "cache").exists()


def test_bad_port_is_refused(tmp_path):
    out = run_nim(tmp_path, "nim", NIM_HTTP_API_PORT="nine-thousand")
    assert out.returncode == 1 and "NIM_HTTP_API_PORT='nine-thousand' is not a port" in out.stderr


# -- the HTTP API while the models load (a backend that is not ready yet) ------------------------------------
def http(requests_fn):
    """Run `requests_fn(client)` against the NIM face's aiohttp app, its backend not ready."""
    from aiohttp.test_utils import TestClient, TestServer

    from rivalite.nim import http_api

    async def go():
        backend = http_api.Backend("127.0.0.1:9", "http://127.0.0.1:9/metrics", lambda: False)
        async with TestClient(TestServer(http_api.app(backend))) as client:
            return await requests_fn(client)

    return asyncio.run(go())


def test_not_ready_while_models_load():
    async def go(client):
        live, ready = await client.get("/v1/health/live"), await client.get("/v1/health/ready")
        return live.status, ready.status, await ready.json()

    assert http(go) == (200, 503, {"status": "not ready"})


def test_transcription_while_loading_is_503_with_the_next_step():
    async def go(client):
        r = await client.post("/v1/audio/transcriptions", data={"file": open("audio/en-US_sample.wav", "rb"),
                                                                "language": "en-US"})
        return r.status, await r.json()

    status, body = http(go)
    assert status == 503 and "/v1/health/ready" in body["detail"]


def test_multipart_without_file_is_fastapis_422():
    async def go(client):
        from aiohttp import FormData

        form = FormData()
        form.add_field("language", "en-US", content_type="text/plain")  # a content type: multipart
        r = await client.post("/v1/audio/transcriptions", data=form)
        return r.status, await r.json()

    status, body = http(go)
    assert status == 422 and body["detail"][0]["loc"] == ["body", "file"] and "'file'" in body["detail"][0]["msg"]


def test_metrics_answer_before_triton_does():
    async def go(client):
        r = await client.get("/v1/metrics")
        return r.status, await r.text()

    status, text = http(go)
    assert status == 200 and "process_open_fds" in text and "python_info" in text


# -- realtime session rules -----------------------------------------------------------------------------------
def test_session_update_merges_sections():
    session = realtime.merged(realtime.default_session("m"), {"input_audio_params": {"sample_rate_hz": 8000}})
    assert session["input_audio_params"] == {"sample_rate_hz": 8000, "num_channels": 1}
    assert session["input_audio_transcription"]["model"] == "m"


@pytest.mark.parametrize("update, problem", [
    ({"input_audio_format": "g711"}, "input_audio_format 'g711' is not supported"),
    ({"input_audio_params": {"sample_rate_hz": 0}}, "sample_rate_hz 0"),
    ({"input_audio_params": {"num_channels": 0}}, "num_channels 0"),
])
def test_bad_session_says_what_to_send(update, problem):
    assert problem in realtime.check(realtime.merged(realtime.default_session(), update))


def test_session_becomes_riva_streaming_config():
    session = realtime.merged(realtime.default_session("m"), {
        "input_audio_params": {"sample_rate_hz": 8000, "num_channels": 2},
        "recognition_config": {"enable_automatic_punctuation": True},
        "endpointing_config": {"stop_history": 800}})
    config = realtime.streaming_config(session)
    assert config.interim_results and config.config.sample_rate_hertz == 8000
    assert config.config.audio_channel_count == 2 and config.config.model == "m"
    assert config.config.enable_automatic_punctuation and config.config.endpointing_config.stop_history == 800
