"""rivagateway's pieces without a server: keys, rate limits, the start message, options; rivaverify's gateway
helpers (contract check, metrics parser, URLs) and the gateway settings."""

from __future__ import annotations

import numpy as np
import pytest

from rivagateway import config, keys, protocol
from rivagateway.audio import MonoMixer
from rivagateway.ratelimit import SlidingWindow
from rivagateway.riva import streaming_config
from rivaverify import settings as s
from rivaverify import targets
from rivaverify.gateway.client import Event, GatewayStream, http_base, stream_url
from rivaverify.gateway.contract import contract_problems
from rivaverify.gateway.metrics import metric, parse_metrics

KEY = "k" * 20


def test_key_file_parses_ids_and_skips_comments():
    store = keys.parse(f"# team keys\n\nalice:{KEY}\nbob : {'b' * 20}\n")
    assert sorted(store.values()) == ["alice", "bob"]


@pytest.mark.parametrize("text, says", [
    ("alice", "not a `key_id:key` line"),
    (f"al ice:{KEY}", "may only hold"),
    ("alice:short", "shorter than 16"),
    (f"alice:{KEY}\nalice:{'b' * 20}", "appears twice"),
    (f"alice:{KEY}\nbob:{KEY}", "the same as the key of 'alice'"),
])
def test_bad_key_files_name_the_line_and_never_the_key(text, says):
    with pytest.raises(keys.KeyFileError) as err:
        keys.parse(text, "keys.txt")
    assert says in str(err.value) and "keys.txt:" in str(err.value)
    assert KEY not in str(err.value) and "short" not in str(err.value).split(":", 2)[-1].replace("shorter", "")


def test_keystore_reload_keeps_old_keys_when_the_new_file_is_bad(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"alice:{KEY}\n")
    store = keys.KeyStore(path)
    assert store.lookup(KEY) == "alice" and store.lookup("x" * 20) is None and store.lookup(None) is None
    path.write_text("garbage\n")
    with pytest.raises(keys.KeyFileError):
        store.reload()
    assert store.lookup(KEY) == "alice"
    path.write_text("")
    with pytest.raises(keys.KeyFileError, match="holds no key"):
        store.reload()
    with pytest.raises(keys.KeyFileError, match="cannot read the keys file"):
        keys.KeyStore(tmp_path / "missing")


def test_sliding_window_refuses_over_the_limit_then_recovers():
    now = [0.0]
    rl = SlidingWindow(3, 10, clock=lambda: now[0])
    assert [rl.hit("a") for _ in range(3)] == [0, 0, 0]
    assert rl.hit("a") == pytest.approx(10)
    assert rl.hit("b") == 0  # per key
    now[0] = 4
    assert rl.hit("a") == pytest.approx(6)
    assert SlidingWindow.retry_after(5.2) == "6" and SlidingWindow.retry_after(0.01) == "1"
    now[0] = 10.5
    assert rl.hit("a") == 0


def test_start_message_defaults_and_errors():
    start = protocol.parse_start({"type": "start", "sample_rate": 8000, "encoding": "mulaw"})
    assert start.encoding == "MULAW" and start.language == "en-US" and start.interim_results
    for msg, says in [
        ({"type": "stop"}, "the first message must be"),
        ({"type": "start", "rate": 16000}, "unknown field(s) ['rate']"),
        ({"type": "start", "sample_rate": "16k"}, "sample_rate must be int"),
        ({"type": "start", "sample_rate": True}, "sample_rate must be int"),
        ({"type": "start", "sample_rate": 100}, "out of 8000..96000"),
        ({"type": "start", "encoding": "MP3"}, "encoding 'MP3' is not one of"),
        ({"type": "start", "interim_results": "yes"}, "interim_results must be bool"),
        ({"type": "start", "channels": 9}, "channels 9 is out of 1..8"),
        ({"type": "start", "channels": 2, "encoding": "FLAC"}, "channels 2 with encoding FLAC: Riva takes mono"),
    ]:
        with pytest.raises(protocol.ProtocolError, match=None) as err:
            protocol.parse_start(msg)
        assert says in str(err.value), (msg, str(err.value))
    with pytest.raises(protocol.ProtocolError, match="must be JSON"):
        protocol.parse_control("{nope")


def test_interleaved_pcm_is_mixed_down_to_mono_across_messages():
    stereo = np.array([[100, 300], [-5, -6], [32767, 32767], [-32768, 32767]], "<i2").tobytes()
    mono = MonoMixer(2)
    got = mono(stereo[:5]) + mono(stereo[5:9]) + mono(stereo[9:])  # sample frames split between messages
    assert np.frombuffer(got, "<i2").tolist() == [200, -6, 32767, 0] and mono.rest == b""
    assert MonoMixer(1)(stereo) == stereo
    assert protocol.parse_start({"type": "start", "channels": 2}).channels == 2
    assert streaming_config(protocol.parse_start({"type": "start", "channels": 2})).config.audio_channel_count == 1


def test_options_errors_name_the_option(capsys, monkeypatch, tmp_path):
    for argv, says in [
        (["--no-auth", "--listen", "nowhere"], "--listen 'nowhere'"),
        ([], "give --keys FILE"),
        (["--no-auth", "--riva", "riva"], "--riva 'riva'"),
        (["--no-auth", "--tls-cert", str(tmp_path / "c.pem")], "both --tls-cert and --tls-key"),
        (["--no-auth", "--rate-limit", "0"], "--rate-limit must be at least 1"),
    ]:
        with pytest.raises(SystemExit):
            config.parse_args(argv)
        assert says in capsys.readouterr().err
    monkeypatch.setenv("RIVAGATEWAY_RATE_LIMIT", "7")
    monkeypatch.setenv("RIVAGATEWAY_RIVA_API_KEY", "riva-secret-1234")
    cfg = config.parse_args(["--no-auth"])
    assert cfg.rate_limit == 7 and cfg.riva_api_key == "riva-secret-1234" and "riva-secret" not in repr(cfg)


def _stream(*events, close=1000):
    out = GatewayStream(close_code=close)
    for i, (kind, extra) in enumerate(events):
        data = {"type": kind, "text": "t", "is_final": kind == "final", "stability": 0.0,
                "audio_processed": float(i), "seq": i + 1, **extra}
        out.events.append(Event(float(i), data, i))
    return out


def test_contract_check():
    assert contract_problems(_stream(("partial", {}), ("partial", {}), ("final", {}))) == []
    assert "seq 3, expected 2" in " ".join(contract_problems(_stream(("partial", {}), ("final", {"seq": 3}))))
    assert "not a final" in " ".join(contract_problems(_stream(("final", {}), ("partial", {}))))
    assert "is_final=False" in " ".join(contract_problems(_stream(("final", {"is_final": False}))))
    assert "audio_processed went back" in " ".join(
        contract_problems(_stream(("partial", {"audio_processed": 5.0}), ("final", {}))))
    assert "expected 1000" in " ".join(contract_problems(_stream(("partial", {}), ("final", {}), close=1011)))
    assert "no partial" in " ".join(contract_problems(_stream(("final", {}))))
    assert contract_problems(_stream(("final", {})), interim=False) == []
    assert "no event" in contract_problems(_stream())[0]


def test_metrics_parser_and_urls():
    text = '# HELP x y\nrivagateway_streams_total{key_id="a",close_code="1000"} 2.0\n' \
           'rivagateway_streams_total{key_id="b",close_code="1011"} 1.0\nrivagateway_streams_active 0.0\n'
    samples = parse_metrics(text)
    assert metric(samples, "rivagateway_streams_total") == 3
    assert metric(samples, "rivagateway_streams_total", key_id="b") == 1
    assert stream_url("ws://h:1") == "ws://h:1/v1/stream" and stream_url("wss://h:1/x") == "wss://h:1/x"
    assert http_base("wss://h:1/v1/stream") == "https://h:1"
    with pytest.raises(ValueError, match="give ws://HOST:PORT"):
        stream_url("http://h:1")


def test_gateway_settings_validate_and_keep_the_key_secret(monkeypatch):
    monkeypatch.setenv("RIVA__GATEWAY_URL", "http://gw:8080")
    with pytest.raises(s.SettingsError, match="RIVA__GATEWAY_URL='http://gw:8080'"):
        s.load()
    monkeypatch.setenv("RIVA__GATEWAY_URL", "wss://gw:8443")
    monkeypatch.setenv("RIVA__GATEWAY_API_KEY", "gw-secret-value-123")
    loaded = s.load()
    assert s.public_dict(loaded)["gateway_api_key"] == "***"
    assert "gw-secret-value-123" in s.secret_values(loaded)
    assert "gw-secret-value-123" not in repr(loaded)


def test_a_missing_gateway_extra_skips_or_fails_as_the_run_asks(monkeypatch):
    from fixtures import gateway as fixture

    monkeypatch.setattr(fixture, "_missing_extra", lambda: "aiohttp")
    with pytest.raises(pytest.skip.Exception, match=r"aiohttp is missing\): pip install -e '.\[gateway\]'"):
        fixture._can_start(s.load(), targets.get(s.load()))
    with pytest.raises(pytest.fail.Exception, match="RIVA__REQUIRE_EXTRAS=true: a missing extra fails this run"):
        required = s.load({"require_extras": "true"})
        fixture._can_start(required, targets.get(required))
