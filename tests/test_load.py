"""The locust pieces without a server: options, shapes, thresholds, --host parsing."""

from __future__ import annotations

import types

import pytest

from rivaverify.load import checks
from rivaverify.load.options import target


def _opts(**kw):
    base = dict(riva_max_fail_ratio=0.0, riva_max_p95_partial_ms=300, riva_max_p95_final_ms=500,
                riva_min_streams=0, num_users=4)
    return types.SimpleNamespace(**{**base, **kw})


class _Entry:
    def __init__(self, n, p95, fails=0):
        self.num_requests, self.num_failures, self._p95 = n, fails, p95

    def get_response_time_percentile(self, q):
        assert q == 0.95
        return self._p95


def _stats(partial=(100, 200), final=(10, 400), fails=0):
    entries = {("partial", "grpc"): _Entry(*partial), ("final", "grpc"): _Entry(*final)}
    total = _Entry(partial[0] + final[0], 0, fails)
    return types.SimpleNamespace(entries=entries, total=total)


def test_a_run_within_every_threshold_passes():
    assert checks.problems(_stats(), _opts(), peak_streams=4) == []


def test_each_threshold_turns_into_a_reason():
    found = checks.problems(_stats(partial=(100, 350), final=(10, 900), fails=3), _opts(), peak_streams=2)
    assert found == ["failure ratio 0.027 over 0.0", "partial p95 350 ms over 300 ms", "final p95 900 ms over 500 ms",
                     "only 2 streaming users ran at once, 4 wanted"]
    # a mix with Recognize users (weights 3:1): the streams wanted are the streaming share of -u
    assert checks.problems(_stats(), _opts(), peak_streams=3, streaming_share=0.75) == []
    assert checks.problems(_stats(), _opts(), peak_streams=2, streaming_share=0.75) == [
        "only 2 streaming users ran at once, 3 wanted"]
    # the gateway's WebSocket events are held to the same bounds
    ws = _stats()
    ws.entries[("final", "WS")] = _Entry(10, 700)
    assert checks.problems(ws, _opts(), peak_streams=4) == ["final p95 700 ms over 500 ms (WS)"]
    assert checks.problems(_stats(partial=(0, 0), final=(0, 0)), _opts(), 0) == [
        "no request was made: is the server at --host reachable?"]


def test_host_forms():
    assert target("localhost:50051") == ("localhost:50051", False)
    assert target("grpcs://riva.example.com:443") == ("riva.example.com:443", True)
    with pytest.raises(ValueError, match="HOST:PORT, grpc://HOST:PORT or grpcs://HOST:PORT"):
        target("http://localhost:50051")
