"""Latency as NVIDIA's riva_streaming_asr_client computes it, on hand-made stream records."""

from __future__ import annotations

import pytest

from rivaverify.asr.client import Received, Response, Streamed
from rivaverify.asr.latency import measure, merge, on_arrival, stats


def test_percentiles_are_nearest_rank_like_nvidias_client():
    s = stats([float(v) for v in range(1, 11)])  # sorted[floor(p*n/100)]
    assert (s.n, s.p50, s.p90, s.p95, s.p99, s.avg, s.max) == (10, 6.0, 10.0, 10.0, 10.0, 5.5, 10.0)
    assert stats([]) is None


def _stream(sent, responses, received=()):
    return Streamed(sent_at=sent, responses=[Response(*r) for r in responses], received=list(received),
                    seconds=sent[-1] + 0.5)


def test_one_response_per_chunk_pairs_them_in_order():
    sent = [0.0, 0.1, 0.2]
    s = _stream(sent, [(0.05, False, 0.1), (0.17, False, 0.2), (0.26, True, 0.3), (0.4, True, 0.3)],
                [Received(0.17, False, "a", 0.5, 0.2, 2), Received(0.4, True, "a b", 0, 0.3, 3)])
    t = measure(s, 100, 0.3)
    assert t.pairing == "per chunk" and t.flags == []
    assert t.partial_ms == pytest.approx([50, 70]) and t.final_ms == pytest.approx([60])
    assert t.first_partial_ms == pytest.approx(170) and t.final_after_last_chunk_ms == pytest.approx(200)
    assert t.rtfx == pytest.approx(0.3 / 0.7)


def test_fewer_responses_are_paired_by_audio_processed_and_flagged():
    sent = [0.0, 0.1, 0.2, 0.3]
    s = _stream(sent, [(0.35, False, 0.2), (0.6, True, 0.4)])
    t = measure(s, 100, 0.4)
    assert t.pairing == "by audio_processed" and "2 responses to 4 chunks" in t.flags[0]
    assert t.partial_ms == pytest.approx([250]) and t.final_ms == pytest.approx([300])


def test_negative_latency_is_flagged_not_hidden():
    s = _stream([0.0, 0.1], [(0.05, False, 0.2)])  # claims audio of chunk 2 before it was sent
    t = measure(s, 100, 0.2)
    assert any("negative latency" in f for f in t.flags)


def test_a_load_tool_gets_the_same_latencies_as_they_arrive():
    sent = [0.0, 0.1, 0.2]
    s = _stream(sent, [(0.05, False, 0.1), (0.17, False, 0.2), (0.26, False, 0.3), (0.4, True, 0.3)],
                [Received(0.4, True, "a b", 0, 0.3, 3)])
    got = [e for i in range(4) for e in on_arrival(s, i, 3)]
    assert [k for k, _ in got] == ["partial", "partial", "partial"]  # the final after the last chunk: at the end
    t = measure(s, 100, 0.3)
    assert [ms for _, ms in got] == pytest.approx(t.partial_ms + t.final_ms)
    assert t.final_after_last_chunk_ms == pytest.approx(200)
    # the final rides on the last chunk's response: paired with it
    s = _stream(sent, [(0.05, False, 0.1), (0.17, False, 0.2), (0.3, True, 0.3)], [Received(0.3, True, "a", 0, 0.3, 3)])
    got = [e for i in range(3) for e in on_arrival(s, i, 3)]
    t = measure(s, 100, 0.3)
    assert [k for k, _ in got] == ["partial", "partial", "final"]
    assert [ms for _, ms in got] == pytest.approx(t.partial_ms + t.final_ms)
    # two finals after the last chunk (two utterances, or riva-lite's closing one): one figure, the last
    s = _stream(sent, [(0.05, False, 0.1), (0.17, False, 0.2), (0.26, False, 0.3), (0.4, True, 0.2), (0.5, True, 0.3)],
                [Received(0.4, True, "a", 0, 0.2, 3), Received(0.5, True, "b", 0, 0.3, 3)])
    assert [k for i in range(5) for k, _ in on_arrival(s, i, 3)] == ["partial", "partial", "partial"]
    assert measure(s, 100, 0.3).final_after_last_chunk_ms == pytest.approx(300)
    early = _stream([0.0], [(0.01, False, 0.1), (0.05, False, 0.2)])  # response 1 before chunk 1 was sent
    assert on_arrival(early, 1, 2) == []
    assert on_arrival(_stream([0.0], [(0.01, False, 0.1), (0.2, False, 0.1)]), 1, 1) == []  # no final: not counted


def test_merge_keeps_kinds_apart():
    a = measure(_stream([0.0], [(0.1, True, 0.1)]), 100, 0.1)
    b = measure(_stream([0.0], [(0.3, False, 0.1)]), 100, 0.1)
    m = merge([a, b])
    assert m["final"].n == 1 and m["partial"].n == 1 and m["all"].n == 2


@pytest.mark.slow
def test_client_and_riva_lite_measure_the_same_responses(tmp_path, rivalite_models):
    """riva-lite's own record (RIVALITE_TRACE) has one latency per chunk, close to the client's."""
    import json

    from rivaverify.asr import audio, client
    from testing.local_riva import LocalRiva
    from tests.conftest import ROOT

    trace = tmp_path / "trace.jsonl"
    pcm = audio.load_pcm16(ROOT / "audio" / "en-US_sample.wav")
    with LocalRiva(rivalite_models, tmp_path / "riva", env={"RIVALITE_TRACE": str(trace)}) as riva:
        riva.wait_ready()
        auth = client.auth(riva.riva_uri)
        chunk_ms = client.server_chunk_ms(client.list_models(auth), "en-US")  # one response per chunk
        s = client.stream(auth, pcm, client.config(pcm, "en-US"), chunk_ms=chunk_ms, realtime=True)
    server = json.loads(trace.read_text().splitlines()[-1])
    assert server["chunks"] == len(s.sent_at) and len(server["ms"]) == len(s.sent_at)
    mine = [(s.responses[i].at - s.sent_at[i]) * 1000 for i in range(len(s.sent_at))]
    assert all(c >= sv - 1 for c, (sv, _) in zip(mine, server["ms"], strict=True)), "the server saw it later"
    assert stats(mine).p50 - stats([ms for ms, _ in server["ms"]]).p50 < 50
