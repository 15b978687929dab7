"""300 short streams in a row through a TLS gateway (wss://): none may drop. The client reads and writes one TLS
socket from two threads; unserialized, 11 of 300 closed 1006 within a millisecond of the upgrade (Duplex)."""

from __future__ import annotations

import pytest

from rivaverify.gateway.client import stream
from rivaverify.gateway.process import GatewayProcess, command
from testing.fake_riva import FakeRiva

pytestmark = pytest.mark.slow
STREAMS = 300
PCM = b"\x00\x01" * 1600  # 100 ms of 16 kHz audio


def test_300_wss_streams_in_a_row_all_close_1000(tls_files, tmp_path):
    cert, key = tls_files
    with FakeRiva() as fake:
        argv = command(fake.address, None, args=("--tls-cert", str(cert), "--tls-key", str(key), "--rate-limit",
                                                 str(STREAMS * 2)))
        gateway = GatewayProcess(argv, tmp_path / "gateway.log").start()
        try:
            codes: dict[int | None, int] = {}
            for _ in range(STREAMS):
                s = stream(gateway.url, [PCM] * 3, 16000, None, ca_cert=str(cert))
                codes[s.close_code] = codes.get(s.close_code, 0) + 1
        finally:
            gateway.stop()
    assert codes == {1000: STREAMS}
