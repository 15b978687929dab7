"""rivagateway as a user runs it (the console script, a key file) in front of an echo Riva: the contract, keys
and SIGHUP, rate limits, health and metrics, TLS, Riva down and back, retries, bounded buffers, close codes."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import pytest
import websocket

pytest.importorskip("aiohttp", reason="rivagateway needs the gateway extra: pip install -e '.[gateway]'")

from rivaverify import procfs  # noqa: E402
from rivaverify.gateway.client import (  # noqa: E402
    GatewayError,
    Refused,
    connect,
    get,
    run_stream,
    start_message,
    stream,
)
from rivaverify.gateway.contract import contract_problems  # noqa: E402
from rivaverify.gateway.metrics import metric, parse_metrics  # noqa: E402
from rivaverify.gateway.process import GatewayProcess, command, write_keys  # noqa: E402
from rivaverify.readiness import wait_until  # noqa: E402
from testing.fake_riva import FakeRiva  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

PCM = b"\x00\x01" * 1600  # 100 ms of 16 kHz audio


@pytest.fixture(scope="module")
def echo():
    with FakeRiva() as e:
        yield e


@pytest.fixture
def key():
    return secrets.token_urlsafe(24)


@pytest.fixture
def start(tmp_path, key):
    """start(riva, *args, keys=...) -> a running rivagateway; all are stopped, and checked gone, at the end."""
    procs = []

    def run(riva, *args, keys=None, env=None):
        path = write_keys(tmp_path / f"keys{len(procs)}", keys or {"alice": key})
        proc = GatewayProcess(command(riva, path, args=args), tmp_path / f"gw{len(procs)}.log",
                              {**os.environ, **(env or {})})
        procs.append(proc)
        return proc.start()

    yield run
    for p in procs:
        p.stop()
        assert p.proc.returncode == 0, f"rivagateway exited with {p.proc.returncode}: {p.tail()}"
        assert not procfs.alive(p.proc.pid)


def _metrics(g):
    return parse_metrics(get(g.url, "/metrics").text)


def test_help_and_a_bad_key_file_say_what_to_do(tmp_path):
    exe = [sys.executable, "-m", "rivagateway.cli"]
    out = subprocess.run([*exe, "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "--rate-limit" in out.stdout and "RIVAGATEWAY_RIVA_API_KEY" in out.stdout
    (tmp_path / "keys").write_text("alice:short\n")
    out = subprocess.run([*exe, "--keys", str(tmp_path / "keys"), "--listen", "127.0.0.1:0"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2 and "keys:1: the key of 'alice' is shorter than 16" in out.stderr


def test_stream_contract_through_the_gateway(echo, start, key):
    g = start(echo.address)
    s = stream(g.url, [PCM] * 10, 16000, key)
    assert contract_problems(s) == [] and len(s.partials) == 10 and s.transcript == "echo"
    assert [e.seq for e in s.events] == list(range(1, 12))
    assert s.partials[-1].audio_processed == pytest.approx(1.0)
    off = stream(g.url, [PCM] * 5, 16000, key, interim=False)
    assert contract_problems(off, interim=False) == [] and len(off.events) == 1
    # stereo reaches Riva as mono: 1 s of interleaved stereo is 1 s of audio (2 s if its bytes went as mono)
    stereo = stream(g.url, [PCM * 2] * 10, 16000, key, channels=2)
    assert contract_problems(stereo) == [] and stereo.finals[-1].audio_processed == pytest.approx(1.0)


def test_keys_bearer_header_401_and_never_logged(echo, start, key):
    g = start(echo.address)
    for how in ("bearer", "header"):
        assert stream(g.url, [PCM], 16000, key, how=how).close_code == 1000
    for bad in (None, "nope-" + "x" * 20):
        with pytest.raises(Refused) as err:
            connect(g.url, bad)
        assert err.value.status == 401 and "Bearer" in err.value.headers["www-authenticate"]
    m = _metrics(g)
    assert metric(m, "rivagateway_auth_failures_total", reason="missing") == 1
    assert metric(m, "rivagateway_auth_failures_total", reason="invalid") == 1
    assert metric(m, "rivagateway_streams_total", key_id="alice", close_code="1000") == 2
    text = g.log_path.read_text() + get(g.url, "/metrics").text
    assert key not in text and "key=alice" in text and "Authorization" not in text


def test_sighup_reloads_keys_and_a_bad_file_keeps_them(echo, start, key, tmp_path):
    g = start(echo.address)
    new = secrets.token_urlsafe(24)
    keys_file = tmp_path / "keys0"
    write_keys(keys_file, {"bob": new})
    g.signal(signal.SIGHUP)
    wait_until(lambda: "keys loaded" in g.log_path.read_text(), 10, "the gateway reloading its keys")
    assert stream(g.url, [PCM], 16000, new).close_code == 1000
    with pytest.raises(Refused):
        connect(g.url, key)
    keys_file.write_text("bob\n")
    g.signal(signal.SIGHUP)
    wait_until(lambda: "keys not reloaded" in g.log_path.read_text(), 10, "the gateway refusing the bad key file")
    assert "keys not reloaded, the 1 in use stay" in g.log_path.read_text()
    assert stream(g.url, [PCM], 16000, new).close_code == 1000
    assert new not in g.log_path.read_text()


def test_rate_limit_429_with_retry_after_then_recovery(echo, start, key):
    g = start(echo.address, "--rate-limit", "3", "--rate-window", "1")
    for _ in range(3):
        connect(g.url, key).close()
    with pytest.raises(Refused) as err:
        connect(g.url, key)
    assert err.value.status == 429 and err.value.headers["retry-after"] == "1"
    assert json.loads(err.value.body)["error"] == "rate_limited"

    refused = [err.value]

    def accepted() -> bool:  # a refusal is not counted in the window, so asking again does not push recovery back
        try:
            connect(g.url, key).close()
        except Refused as exc:
            assert exc.status == 429, exc
            refused.append(exc)
            return False
        return True

    wait_until(accepted, 1 + 10, "a stream accepted once the window has passed", interval_s=0.1)
    assert metric(_metrics(g), "rivagateway_rate_limited_total", key_id="alice") == len(refused)


def test_health_ping_metrics_over_tls(echo, start, key, tls_files):
    cert, tls_key = tls_files
    g = start(echo.address, "--tls-cert", str(cert), "--tls-key", str(tls_key))
    assert g.url.startswith("wss://")
    assert get(g.url, "/ping", ca_cert=str(cert)).text == "pong\n"
    health = get(g.url, "/health", ca_cert=str(cert)).json()
    assert health["status"] == "ok" and health["riva"] == "SERVING" and health["limits"]["rate_limit"] == 60
    s = stream(g.url, [PCM] * 3, 16000, key, ca_cert=str(cert))
    assert s.close_code == 1000 and s.transcript == "echo"
    with pytest.raises(GatewayError):
        get(g.url, "/ping")  # not trusted without the certificate


def test_riva_down_then_back(start, key):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    g = start(f"127.0.0.1:{port}", "--riva-retries", "2", "--retry-backoff", "0.05")
    r = get(g.url, "/health")
    assert r.status_code == 503 and r.json()["status"] == "degraded" and r.json()["riva"] == "UNAVAILABLE"
    t = time.monotonic()
    s = stream(g.url, [PCM] * 3, 16000, key, timeout=30)
    assert time.monotonic() - t < 10
    assert s.errors[0].code == "UNAVAILABLE" and "after 3 attempts" in s.errors[0].message and s.close_code == 1011
    assert metric(_metrics(g), "rivagateway_riva_retries_total") == 2
    with FakeRiva(port=port):
        # the channel reconnects within its backoff (5 s at most)
        wait_until(lambda: get(g.url, "/health").status_code == 200, 15, "/health back to 200", interval_s=0.2)
        assert get(g.url, "/health").json()["status"] == "ok"
        assert stream(g.url, [PCM] * 3, 16000, key).close_code == 1000


def test_a_refused_stream_is_retried_with_its_audio(start, key):
    with FakeRiva(fail_first=2) as e:
        g = start(e.address, "--retry-backoff", "0.05")
        s = stream(g.url, [PCM] * 5, 16000, key)
        assert s.close_code == 1000 and s.partials[-1].audio_processed == pytest.approx(0.5)
        assert metric(_metrics(g), "rivagateway_riva_retries_total") == 2


def test_a_client_that_reads_nothing_is_closed_4001(start, key):
    """Riva floods results; the client never reads: the event buffer stays full and the stream is dropped."""
    with FakeRiva(results=50, text_bytes=4000) as e:
        g = start(e.address, "--event-buffer", "8", "--buffer-timeout", "0.5")
        ws = connect(g.url, key)
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        ws.send(json.dumps(start_message(16000)))
        for _ in range(50):
            ws.send_binary(PCM)
        wait_until(lambda: metric(_metrics(g), "rivagateway_streams_total", close_code="4001") >= 1, 20,
                   f"a stream closed 4001 (gateway log: {g.log_path})", interval_s=0.2)
        ws.close(timeout=0.1)
        assert metric(_metrics(g), "rivagateway_streams_active") == 0


def test_audio_faster_than_riva_takes_it_is_closed_1013(start, key):
    with FakeRiva(delay_s=0.5, window_kb=64) as e:  # a fixed window: gRPC's BDP probing once absorbed 9.6 MB
        g = start(e.address, "--audio-buffer-frames", "2", "--buffer-timeout", "0.3")
        ws = connect(g.url, key)
        s = run_stream(ws, [b"\0" * 32000] * 300, start_message(16000), timeout=20)  # past the 64 KiB window
        assert s.close_code == 1013 and s.errors[0].code == "BUFFER_FULL", s.events[-1:]


def test_protocol_errors_close_with_their_codes(echo, start, key):
    g = start(echo.address, "--idle-timeout", "0.5", "--max-frame-bytes", "10000")
    s = run_stream(connect(g.url, key), [], "not json", stop=False, timeout=10)
    assert s.close_code == 1008 and s.errors[0].code == "BAD_START"
    # nothing is sent after the offending message: data arriving after the close would reset the connection
    ws = connect(g.url, key)
    ws.send_binary(PCM)
    s = run_stream(ws, [], None, stop=False, timeout=10)
    assert s.close_code == 1003 and s.errors[0].code == "BAD_MESSAGE"
    s = run_stream(connect(g.url, key), [b"\0" * 20000], start_message(16000), stop=False, timeout=10)
    assert s.close_code == 1009
    s = run_stream(connect(g.url, key), [PCM], start_message(16000), stop=False, timeout=10)
    assert s.close_code == 4002 and s.errors[0].code == "TIMEOUT"
    one = start(echo.address, "--max-streams", "1")
    held = connect(one.url, key)
    with pytest.raises(Refused) as err:
        connect(one.url, key)
    assert err.value.status == 503 and "--max-streams" in err.value.body
    held.close()
    r = get(g.url, "/v1/stream", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 400 and "WebSocket endpoint" in r.json()["message"]


def test_sigterm_ends_open_streams_with_1001_and_exits(echo, start, key):
    g = start(echo.address)
    ws = connect(g.url, key)
    ws.send(json.dumps(start_message(16000)))
    ws.send_binary(PCM)
    assert json.loads(ws.recv())["type"] == "partial"
    t = time.monotonic()
    g.stop(timeout=10)
    assert g.proc.returncode == 0 and time.monotonic() - t < 8
    error = json.loads(ws.recv())
    opcode, frame = ws.recv_data_frame(True)
    assert error["type"] == "error" and error["code"] == "SHUTDOWN"
    assert opcode == websocket.ABNF.OPCODE_CLOSE and frame.data[:2] == (1001).to_bytes(2, "big")


@pytest.mark.slow  # two locust runs (8 s of load, about 15 s in all): the quick tier runs no locust run
def test_locust_websocket_user_fires_one_event_per_message(echo, start, key, tmp_path):
    import csv

    g = start(echo.address)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVA__")}
    clip = tmp_path / "clip.json"  # the 4 s sample: streams end within the run (the corpus has an 18 s clip)
    clip.write_text(json.dumps({"audio_filepath": str(ROOT / "audio" / "en-US_sample.wav"), "duration": 4.152,
                                "text": "what is natural language processing"}) + "\n")
    env.update({"RIVA__GATEWAY_API_KEY": key, "RIVA__CORPUS": str(clip)})
    cmd = [sys.executable, "-m", "locust", "-f", "rivaverify/load/gateway_user.py", "--headless", "-u", "2", "-r",
           "2", "-t", "6s", "--stop-timeout", "15", "--host", g.url, "--csv", str(tmp_path / "run"),
           "--only-summary"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    rows = {r["Name"]: r for r in csv.DictReader(open(tmp_path / "run_stats.csv"))}
    assert {"connect", "partial", "final", "stream"} <= set(rows), rows.keys()
    assert int(rows["partial"]["Request Count"]) >= 20 and int(rows["Aggregated"]["Failure Count"]) == 0
    assert int(rows["stream"]["Request Count"]) >= 2 and key not in out.stdout + out.stderr
    # the same thresholds as the gRPC users, on the WebSocket events
    short = [*cmd[:cmd.index("-t") + 1], "2s", *cmd[cmd.index("-t") + 2:]]
    bound = subprocess.run([*short, "--riva-max-p95-partial-ms", "0"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)
    assert bound.returncode == 1 and "riva-verify threshold failed: partial p95" in bound.stdout + bound.stderr
