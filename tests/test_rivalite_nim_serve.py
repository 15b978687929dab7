"""riva-lite's NIM face deployed (`rivalite nim`, once per module, on a cold cache): NIM's log lines, HTTP API,
OpenAI's SDK and NVIDIA's realtime client unchanged, bad uploads, and nothing left running after SIGTERM. The warm
start: test_rivalite_nim_cache.py."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import wave

import pytest
import requests

from rivaverify import procfs
from rivaverify.readiness import wait_until

pytestmark = pytest.mark.slow
SAMPLE = "audio/en-US_sample.wav"
WORDS = "natural language processing"
KEY = f"nim-test-key-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def nim(tmp_path_factory):
    pytest.importorskip("pytriton", reason="riva-lite needs the lite extra: pip install -e '.[lite]'")
    pytest.importorskip("aiohttp", reason="the NIM face needs the lite extra: pip install -e '.[lite]'")
    from testing.local_nim import LocalNim

    folder = tmp_path_factory.mktemp("nim")
    deployment = LocalNim(folder / "cache", folder, env={"NGC_API_KEY": KEY, "NIM_TAGS_SELECTOR": None,
                                                         "NIM_MODEL_PROFILE": None})
    deployment.start().wait_ready(120)
    try:
        yield deployment
    finally:
        rc = deployment.stop(60)
    assert rc == 0, deployment.tail(30)
    assert deployment.kill_leftovers() == [], "processes outlived rivalite nim"


def post(nim, fields: dict, file=None) -> requests.Response:
    files = {"file": file} if file is not None else None
    return requests.post(f"{nim.base_url}/v1/audio/transcriptions", data=fields, files=files, timeout=120)


def sample_upload():
    return ("sample.wav", open(SAMPLE, "rb"), "audio/wav")


def test_nims_log_lines(nim):
    log = nim.output()
    assert "INFO:inference:Detected cpu_device:" in log
    assert "INFO:inference:Matched profile_id with tags: {'name': 'whisper-tiny-en-us', 'mode': 'all'" in log
    assert f"Starting HTTP Inference server, port: {nim.http_port}," in log
    assert "INFO:inference:Riva gRPC Server is READY" in log
    assert "deployed into the cache" in log  # a cold cache: filled on this start


def test_the_key_is_in_no_argv_no_log_and_not_passed_on(nim):
    assert KEY not in nim.output()
    family = nim.leftovers()  # the live processes of this run: rivalite nim, tritonserver, the API server
    assert len(family) >= 3
    for pid in family:
        assert KEY not in " ".join(procfs.cmdline(pid))
    children = [pid for pid in family if pid != nim.pid]
    assert children and all("NGC_API_KEY" not in procfs.environ(pid) for pid in children)


def test_tritonserver_loads_the_cached_repository(nim):
    argvs = [procfs.cmdline(pid) for pid in nim.leftovers()]
    triton = [argv for argv in argvs if argv and argv[0].endswith("tritonserver")]
    assert len(triton) == 1
    repos = [a for a in triton[0] if a.startswith("--model-repository=")]
    assert len(repos) == 1 and repos[0].startswith(f"--model-repository={nim.cache}/riva-lite/")


def test_health_and_models(nim):
    assert requests.get(f"{nim.base_url}/v1/health/live", timeout=5).status_code == 200
    ready = requests.get(f"{nim.base_url}/v1/health/ready", timeout=5)
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    listed = requests.get(f"{nim.base_url}/v1/models", timeout=10).json()
    assert listed["object"] == "list"
    assert {m["type"] for m in listed["data"]} == {"offline", "online"}


def test_openai_sdk_transcribes_unchanged(nim):
    openai = pytest.importorskip("openai", reason="the dev extra has OpenAI's SDK: pip install -e '.[dev]'")
    client = openai.OpenAI(base_url=f"{nim.base_url}/v1", api_key="unused")
    offline = next(m.id for m in client.models.list() if "offline" in m.id)
    with open(SAMPLE, "rb") as f:
        reply = client.audio.transcriptions.create(model=offline, file=f, language="en-US")
    assert WORDS in reply.text.lower()


def test_http_agrees_with_grpc(nim):
    riva_client = pytest.importorskip("riva.client")
    text = post(nim, {"language": "en-US", "response_format": "text"}, sample_upload())
    assert text.status_code == 200 and text.headers["Content-Type"].startswith("text/plain")
    auth = riva_client.Auth(uri=nim.grpc_uri)
    try:
        config = riva_client.RecognitionConfig(language_code="en-US", enable_automatic_punctuation=True)
        reply = riva_client.ASRService(auth).offline_recognize(open(SAMPLE, "rb").read(), config)
    finally:
        auth.channel.close()
    grpc_text = " ".join(r.alternatives[0].transcript.strip() for r in reply.results)
    assert WORDS in text.text.lower() and text.text.strip() == grpc_text.strip()


def test_metrics_count_the_requests(nim):
    assert post(nim, {"language": "en-US"}, sample_upload()).status_code == 200

    def counted() -> str | None:  # Triton counts a request once its model reports statistics, after the answer
        text = requests.get(f"{nim.base_url}/v1/metrics", timeout=10).text
        counts = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("nv_inference_request_success{") and "asr-offline-asr-bls-ensemble" in line]
        return text if counts and counts[0] >= 1 else None

    text = wait_until(counted, 10, "Triton's counter of the offline pipeline at 1 or more")
    assert "process_resident_memory_bytes" in text and "python_info" in text


@pytest.mark.parametrize("name, words", [("fmt-16k.flac", "played football in the park"),
                                         ("fmt-opus.ogg", "rent servers instead of buying")])
def test_flac_and_opus_uploads(nim, name, words):
    with open(f"audio/{name}", "rb") as f:
        r = post(nim, {"language": "en-US"}, (name, f, "application/octet-stream"))
    assert r.status_code == 200 and words in r.json()["text"].lower()


def test_upload_that_is_not_audio(nim):
    r = post(nim, {"language": "en-US"}, ("notes.txt", io.BytesIO(b"hello, not audio at all"), "text/plain"))
    assert r.status_code == 400
    assert "'notes.txt'" in r.json()["detail"] and "WAV, OPUS or FLAC" in r.json()["detail"]


def test_upload_with_a_broken_wav_gets_rivas_error(nim):
    r = post(nim, {"language": "en-US"}, ("broken.wav", io.BytesIO(b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk"),
                                          "audio/wav"))
    assert r.status_code == 400 and r.json()["detail"].startswith("Error:")


def test_upload_without_language_or_model(nim):
    r = post(nim, {"response_format": "json"}, sample_upload())
    assert r.status_code == 400 and "language" in r.json()["detail"]


def test_upload_with_an_unknown_format(nim):
    r = post(nim, {"language": "en-US", "response_format": "srt"}, sample_upload())
    assert r.status_code == 400 and "json or text" in r.json()["detail"]


def test_upload_for_a_language_not_served(nim):
    r = post(nim, {"language": "de-DE"}, sample_upload())
    assert r.status_code == 400 and "Unavailable model requested" in r.json()["detail"]


def realtime_args(nim, path: str):
    """The arguments NVIDIA's realtime_asr_client.py builds, from riva.client's own argparse helpers."""
    import argparse

    from riva.client.argparse_utils import (
        add_asr_config_argparse_parameters,
        add_connection_argparse_parameters,
        add_realtime_config_argparse_parameters,
    )

    parser = argparse.ArgumentParser()
    for name, default in (("--sample-rate-hz", 16000), ("--num-channels", 1), ("--file-streaming-chunk", 1600)):
        parser.add_argument(name, type=int, default=default)
    parser.add_argument("--prompt", default="")
    add_connection_argparse_parameters(parser)
    add_asr_config_argparse_parameters(parser, max_alternatives=True, profanity_filter=True, word_time_offsets=True)
    add_realtime_config_argparse_parameters(parser)
    args = parser.parse_args(["--server", f"127.0.0.1:{nim.http_port}"])
    with wave.open(path) as w:
        args.sample_rate_hz, args.num_channels = w.getframerate(), w.getnchannels()
    return args


def test_nvidias_realtime_client_transcribes(nim):
    realtime = pytest.importorskip("riva.client.realtime", reason="nvidia-riva-client has no realtime.py")
    from riva.client.asr import AudioChunkFileIterator

    args = realtime_args(nim, SAMPLE)

    async def go():
        client = realtime.RealtimeClientASR(args=args)
        await client.connect()
        try:
            await asyncio.wait_for(asyncio.gather(
                client.send_audio_chunks(AudioChunkFileIterator(SAMPLE, args.file_streaming_chunk)),
                client.receive_responses()), 120)
        finally:
            await client.disconnect()
        return client.final_transcript

    assert WORDS in asyncio.run(go()).lower()


def test_realtime_pcm16_as_a_microphone_sends_it(nim):
    """input_audio_format pcm16 (the client's --mic mode): raw 16-bit samples, no header, in 100 ms appends."""
    websockets = pytest.importorskip("websockets")
    import base64

    with wave.open(SAMPLE) as w:
        rate, pcm = w.getframerate(), w.readframes(w.getnframes())

    async def go():
        url = f"ws://127.0.0.1:{nim.http_port}/v1/realtime?intent=transcription"
        events = []
        async with websockets.connect(url, subprotocols=["realtime"]) as ws:
            events.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"type": "transcription_session.update", "session": {
                "input_audio_format": "pcm16", "input_audio_params": {"sample_rate_hz": rate, "num_channels": 1}}}))
            events.append(json.loads(await ws.recv()))
            step = rate // 10 * 2
            for at in range(0, len(pcm), step):
                await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                          "audio": base64.b64encode(pcm[at:at + step]).decode()}))
                await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            await ws.send(json.dumps({"type": "input_audio_buffer.done"}))
            while not events[-1].get("is_last_result"):
                events.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
        return events

    events = asyncio.run(go())
    assert [e["type"] for e in events[:2]] == ["conversation.created", "transcription_session.updated"]
    assert events[1]["session"]["input_audio_format"] == "pcm16"
    kinds = {e["type"] for e in events[2:]}
    assert "conversation.item.input_audio_transcription.delta" in kinds  # partials while it streams
    assert WORDS in events[-1]["transcript"].lower()


def test_realtime_refuses_a_bad_session(nim):
    websockets = pytest.importorskip("websockets")

    async def go():
        url = f"ws://127.0.0.1:{nim.http_port}/v1/realtime?intent=transcription"
        async with websockets.connect(url) as ws:
            first = json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "transcription_session.update",
                                      "session": {"input_audio_format": "g711"}}))
            return first, json.loads(await asyncio.wait_for(ws.recv(), 10))

    first, answer = asyncio.run(go())
    assert first["type"] == "conversation.created"
    assert answer["type"] == "error" and "pcm16" in answer["error"]["message"]


def test_realtime_needs_the_intent(nim):
    r = requests.get(f"{nim.base_url}/v1/realtime", timeout=5)
    assert r.status_code == 400 and "intent=transcription" in r.json()["detail"]
