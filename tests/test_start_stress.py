"""200 starts in a row of the two gRPC servers the suite runs (rivagateway, riva-lite's API server) from a process
whose own gRPC is busy, as the suite's is when phase 070 starts its gateways: no start may abort.

The abort they guard against: a child forked (not vforked) from a process with live gRPC runs gRPC's post-fork
handler, whose restarted poller thread finds its epoll fd closed by close_fds and aborts the child before exec
(grpc/grpc#43055). rivaverify.process never forks that way; see its module comment."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import grpc
import pytest
from riva.client.proto import health_pb2, health_pb2_grpc

from rivalite.launcher import free_port
from rivaverify.gateway.process import GatewayProcess, command
from rivaverify.process import Child
from testing.fake_riva import FakeRiva

pytestmark = [pytest.mark.slow, pytest.mark.stress]
STARTS = 200


@pytest.fixture(scope="module")
def busy_grpc() -> Iterator[str]:
    """A fake Riva and two threads of this process calling it every 10 ms for the whole test: gRPC is live (its
    poller thread runs) and mostly idle between calls, as when the abort was seen (with a call in flight at the
    fork, gRPC skips its fork handlers)."""
    with FakeRiva() as fake, grpc.insecure_channel(fake.address) as channel:
        stub, stop, calls = health_pb2_grpc.HealthStub(channel), threading.Event(), [0]

        def call() -> None:
            while not stop.wait(0.01):
                stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
                calls[0] += 1

        threads = [threading.Thread(target=call, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        yield fake.address
        stop.set()
        for t in threads:
            t.join(10)
        assert calls[0] > STARTS, "this process' gRPC was not busy while the servers started"


def _start_stop(make, tmp_path) -> dict[int, int]:
    """Start and stop STARTS servers in a row; return code -> count, the first failure's log in the message."""
    codes: dict[int, int] = {}
    for i in range(STARTS):
        child = make(tmp_path / f"{i}.log")
        try:
            child.start()
        except Exception as exc:  # noqa: BLE001 (an abort is what this test counts)
            pytest.fail(f"start {i + 1} of {STARTS} failed: {exc}\n{child.tail()}")
        code = child.stop()
        codes[code] = codes.get(code, 0) + 1
    return codes


def test_the_gateway_starts_200_times_without_an_abort(busy_grpc, tmp_path):
    def gateway(log):
        return GatewayProcess(command(busy_grpc, None), log)

    assert _start_stop(gateway, tmp_path) == {0: STARTS}


def test_the_api_server_starts_200_times_without_an_abort(busy_grpc, tmp_path):
    class Api(Child):
        def start(self):
            return super().start(ready="serving Riva's gRPC API", timeout=30)

    def api(log):
        return Api([sys.executable, "-m", "rivalite.server", f"--riva_uri=127.0.0.1:{free_port()}",
                    "--asr_service=false"], log, name="riva-lite API server")

    assert _start_stop(api, tmp_path) == {0: STARTS}
