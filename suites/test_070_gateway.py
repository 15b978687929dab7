"""Phase 070: the WebSocket gateway in front of Riva: the JSON partial/final contract, API keys, rate limits,
health and metrics, and what a stream gets when Riva is down."""

from __future__ import annotations

import json
import time

import pytest

from rivaverify.asr.wer import wer
from rivaverify.gateway.client import Refused, connect, get, run_stream, start_message, stream
from rivaverify.gateway.contract import contract_problems
from rivaverify.gateway.metrics import parse_metrics

pytestmark = pytest.mark.production
METRIC_FAMILIES = ("rivagateway_requests_total", "rivagateway_streams_active", "rivagateway_auth_failures_total",
                   "rivagateway_first_event_seconds_bucket", "rivagateway_forward_seconds_bucket",
                   "rivagateway_request_seconds_bucket")


def _need_key(gateway):
    if gateway.key is None:
        pytest.skip("RIVA__GATEWAY_API_KEY is unset: the stream checks need a key of RIVA__GATEWAY_URL's gateway")


def _health(gateway):
    r = get(gateway.url, "/health", ca_cert=gateway.ca_cert)
    try:
        return r, r.json()
    except ValueError:
        pytest.fail(f"/health answered HTTP {r.status_code} with no JSON: {r.text[:200]!r}")


def _stream(gateway, clip, key=None, how="bearer", realtime=False, interim=True, seconds=None, timeout=60,
            language="en-US"):
    """The clip as it is (its rate and channels) through the gateway."""
    audio = clip
    chunks = audio.chunks(100)
    if seconds is not None:
        chunks = chunks[: int(seconds * 10)]
    try:
        return stream(gateway.url, chunks, audio.rate, key if key is not None else gateway.key, realtime=realtime,
                      interim=interim, how=how, timeout=timeout, ca_cert=gateway.ca_cert, channels=audio.channels,
                      language=language)
    except Refused as exc:
        pytest.fail(f"the gateway refused the stream: HTTP {exc.status} {exc.body[:200]}")


def test_ping_and_health(gateway, record_fact):
    ping = get(gateway.url, "/ping", ca_cert=gateway.ca_cert)
    assert ping.status_code == 200, f"/ping answered HTTP {ping.status_code}: the gateway is not serving"
    r, body = _health(gateway)
    record_fact("gateway_health", body)
    assert r.status_code == 200 and body.get("status") == "ok", (
        f"/health answered HTTP {r.status_code} {body}: expected 200 and status ok with Riva SERVING; check Riva "
        "and the gateway's --riva address")
    assert body.get("riva") == "SERVING", f"/health reports Riva as {body.get('riva')!r}, expected SERVING"


def test_metrics_need_no_key_and_have_their_families(gateway):
    r = get(gateway.url, "/metrics", ca_cert=gateway.ca_cert)
    assert r.status_code == 200, f"/metrics answered HTTP {r.status_code} without a key, expected 200"
    assert r.headers.get("content-type", "").startswith("text/plain"), r.headers.get("content-type")
    samples = parse_metrics(r.text)
    missing = [f for f in METRIC_FAMILIES if f not in samples and f.replace("_bucket", "") not in r.text]
    assert not missing, f"/metrics lacks {missing}"


def test_stream_contract_partials_then_finals(gateway, smoke_clip, settings, thresholds, record_figure):
    _need_key(gateway)
    utt, audio = smoke_clip
    s = _stream(gateway, audio, realtime=True, timeout=thresholds.max_response_s * 3 + audio.duration_s,
                language=utt.lang or settings.language_code)
    problems = contract_problems(s, interim=True)
    assert not problems, "the event contract is broken:\n  " + "\n  ".join(problems)
    score = wer(utt.text, s.transcript)
    final_after_stop = s.finals[-1].at - s.stop_at
    record_figure("gateway.wer", round(score, 4), transcript=s.transcript, reference=utt.text)
    record_figure("gateway.first_partial", round(s.partials[0].at * 1000, 1), "ms")
    record_figure("gateway.final_after_stop", round(final_after_stop * 1000, 1), "ms",
                  partials=len(s.partials), finals=len(s.finals))
    assert score <= thresholds.max_wer, (
        f"through the gateway, {utt.id}: WER {score:.2f} over {thresholds.max_wer}: heard {s.transcript!r}")
    assert final_after_stop <= thresholds.max_response_s, (
        f"the last final came {final_after_stop:.2f} s after the stop message, bound {thresholds.max_response_s} s")


def test_interim_off_sends_finals_only(gateway, smoke_clip):
    _need_key(gateway)
    s = _stream(gateway, smoke_clip[1], interim=False)
    problems = contract_problems(s, interim=False)
    assert not problems, "with interim_results false:\n  " + "\n  ".join(problems)


def test_bad_start_message_gets_an_error_event_and_close_1008(gateway):
    _need_key(gateway)
    ws = connect(gateway.url, gateway.key, ca_cert=gateway.ca_cert)
    s = run_stream(ws, [], {"type": "start", "sample_rate": "16k"}, stop=False, timeout=10)
    assert [e.type for e in s.events] == ["error"], f"expected one error event, got {[e.data for e in s.events]}"
    err = s.events[0].data
    assert err.get("code") == "BAD_START" and "sample_rate" in err.get("message", ""), err
    assert s.close_code == 1008, f"closed with {s.close_code} {s.close_reason!r}, expected 1008"


def test_a_language_riva_lacks_gets_rivas_error(gateway, smoke_clip):
    _need_key(gateway)
    ws = connect(gateway.url, gateway.key, ca_cert=gateway.ca_cert)
    audio = smoke_clip[1]
    start = start_message(audio.rate, language="xx-XX", channels=audio.channels)
    s = run_stream(ws, audio.chunks(100)[:10], start, timeout=30)
    assert s.errors, f"no error event for language xx-XX: {[e.data for e in s.events][-3:]}, close {s.close_code}"
    err = s.errors[0].data
    assert err.get("code") == "INVALID_ARGUMENT" and "xx-XX" in err.get("message", ""), (
        f"expected Riva's INVALID_ARGUMENT naming the language, got {err}")
    assert s.close_code == 1011, f"closed with {s.close_code}, expected 1011 after Riva's error"


@pytest.mark.parametrize("presented", ["no key", "a wrong key"])
def test_no_or_wrong_key_is_401(gateway, presented):
    health = _health(gateway)[1]
    if health.get("auth") == "none":
        pytest.skip("the gateway runs with --no-auth")
    key = None if presented == "no key" else "not-a-key-" + "x" * 24
    with pytest.raises(Refused) as refused:
        connect(gateway.url, key, ca_cert=gateway.ca_cert).close()
    assert refused.value.status == 401, f"{presented}: HTTP {refused.value.status}, expected 401"
    assert "bearer" in refused.value.headers.get("www-authenticate", "").lower()


@pytest.mark.parametrize("how", ["bearer", "header"])
def test_right_key_works(gateway, smoke_clip, how):
    _need_key(gateway)
    s = _stream(gateway, smoke_clip[1], how=how, seconds=1.5)
    assert s.close_code == 1000 and not s.errors, (
        f"key as {how}: closed {s.close_code} {s.close_reason!r}, events {[e.data for e in s.events][-3:]}")


def test_rate_limit_429_then_recovery(gateway, record_figure):
    _need_key(gateway)
    limits = _health(gateway)[1].get("limits", {})
    most = int(limits.get("rate_limit", 200)) + 1
    refused, opened = None, 0
    while refused is None and opened < most:
        try:
            connect(gateway.url, gateway.limit_key, ca_cert=gateway.ca_cert).close()
            opened += 1
        except Refused as exc:
            refused = exc
    assert refused is not None, f"{most} streams opened at once with one key and none got 429"
    assert refused.status == 429, f"stream {opened + 1}: HTTP {refused.status}, expected 429"
    retry_after = refused.headers.get("retry-after", "")
    assert retry_after.isdigit() and int(retry_after) >= 1, f"429 without a Retry-After in seconds: {retry_after!r}"
    record_figure("gateway.rate_limit", opened, "streams", retry_after_s=int(retry_after), **limits)
    time.sleep(int(retry_after) + 0.2)
    try:
        connect(gateway.url, gateway.limit_key, ca_cert=gateway.ca_cert).close()
    except Refused as exc:
        pytest.fail(f"still refused (HTTP {exc.status}) after waiting Retry-After {retry_after} s")


def test_keys_never_in_logs_or_metrics(gateway):
    _need_key(gateway)
    metrics = get(gateway.url, "/metrics", ca_cert=gateway.ca_cert).text
    health = json.dumps(_health(gateway)[1])
    places = {"/metrics": metrics, "/health": health}
    if gateway.process is not None:
        places["the gateway's log"] = gateway.process.log_path.read_text(errors="replace")
    leaks = [f"the key of {kid} in {where}" for kid, key in gateway.keys.items() for where, text in places.items()
             if key in text]
    assert not leaks, f"API keys leaked: {leaks}"
    if gateway.process is not None:
        assert 'key_id="suite"' in metrics, "streams in /metrics are not labelled by key id"
        assert "key=suite" in places["the gateway's log"], "the access log does not name the key id"


def test_riva_down_health_degraded_and_stream_gets_an_error(gateway_without_riva, smoke_clip):
    g = gateway_without_riva
    r, body = _health(g)
    assert r.status_code == 503 and body.get("status") == "degraded", (
        f"Riva down: /health answered HTTP {r.status_code} {body}, expected 503 and status degraded")
    start = time.monotonic()
    s = _stream(g, smoke_clip[1], seconds=1, timeout=30)
    took = time.monotonic() - start
    assert s.errors, f"Riva down: no error event came (close {s.close_code} {s.close_reason!r}, after {took:.1f} s)"
    err = s.errors[0].data
    assert err.get("code") == "UNAVAILABLE", err
    assert s.close_code == 1011, f"Riva down: closed with {s.close_code}, expected 1011 after the error event"
    assert took < 20, f"Riva down: the error came after {took:.1f} s"
