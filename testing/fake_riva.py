"""A fake Riva: StreamingRecognize answers every audio chunk at once, no model; gRPC health answers SERVING.
For what must see its own behaviour and latency apart from a model's: the gateway's tests and benchmarks, the
locust users'. `python -m testing.fake_riva --port 0 [--tls-cert C --tls-key K]`; `with FakeRiva() as r: r.address`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import threading
from pathlib import Path

import grpc
from riva.client.proto import health_pb2, health_pb2_grpc, riva_asr_pb2, riva_asr_pb2_grpc

from rivaverify.process import Child

READY = "fake Riva on"
SERVING = health_pb2.HealthCheckResponse.SERVING


def _result(text: str, final: bool, audio_s: float) -> riva_asr_pb2.StreamingRecognitionResult:
    return riva_asr_pb2.StreamingRecognitionResult(
        alternatives=[riva_asr_pb2.SpeechRecognitionAlternative(transcript=text)], is_final=final,
        stability=0.0 if final else 0.5, audio_processed=audio_s)


class Echo(riva_asr_pb2_grpc.RivaSpeechRecognitionServicer, health_pb2_grpc.HealthServicer):
    """Per chunk: `results` partials of `text_bytes` characters after `delay_s` (an empty response when interim
    results are off); a final at the end. The first `fail_first` streams are refused with UNAVAILABLE."""

    def __init__(self, results: int = 1, text_bytes: int = 8, delay_s: float = 0.0, fail_first: int = 0):
        self.results, self.text_bytes, self.delay_s = results, text_bytes, delay_s
        self.fail_first, self.calls, self.status = fail_first, 0, SERVING
        self.lock = threading.Lock()

    async def StreamingRecognize(self, request_iterator, context):
        with self.lock:
            self.calls += 1
            refuse = self.calls <= self.fail_first
        if refuse:
            context.set_code(grpc.StatusCode.UNAVAILABLE)
            context.set_details("fake Riva: refusing this stream (fail_first)")
            return
        requests = request_iterator.__aiter__()
        first = await requests.__anext__()
        cfg = first.streaming_config.config
        bytes_per_s = 2 * max(1, cfg.audio_channel_count) * (cfg.sample_rate_hertz or 16000)
        got = 0
        async for req in requests:
            got += len(req.audio_content)
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if first.streaming_config.interim_results:
                text = "x" * self.text_bytes
                yield riva_asr_pb2.StreamingRecognizeResponse(
                    results=[_result(text, False, got / bytes_per_s) for _ in range(self.results)])
            else:
                yield riva_asr_pb2.StreamingRecognizeResponse()
        yield riva_asr_pb2.StreamingRecognizeResponse(results=[_result("echo", True, got / bytes_per_s)])

    async def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=self.status)


async def serve(port: int = 0, tls: tuple[Path, Path] | None = None, window_kb: int = 0, **echo) -> None:
    """`window_kb`: each stream's HTTP/2 flow-control window, fixed (no BDP probing, which can grow it to megabytes):
    a client that sends faster than the fake answers is held back as soon as that much is in flight."""
    options = [("grpc.so_reuseport", 0), ("grpc.max_concurrent_streams", 10000)]
    if window_kb:
        options += [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", window_kb * 1024)]
    server = grpc.aio.server(options=options)
    servicer = Echo(**echo)
    riva_asr_pb2_grpc.add_RivaSpeechRecognitionServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    address = f"127.0.0.1:{port}"
    if tls is not None:
        cert, key = tls
        bound = server.add_secure_port(address, grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())]))
    else:
        bound = server.add_insecure_port(address)
    await server.start()
    print(f"{READY} 127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(None)


class FakeRiva(Child):
    """`python -m testing.fake_riva` as a child process (grpc.aio keeps to one event loop a process)."""

    def __init__(self, port: int = 0, results: int = 1, text_bytes: int = 8, delay_s: float = 0.0,
                 fail_first: int = 0, tls: tuple[Path, Path] | None = None, log_path: Path | None = None,
                 window_kb: int = 0):
        argv = [sys.executable, "-m", "testing.fake_riva", "--port", str(port), "--results", str(results),
                "--text-bytes", str(text_bytes), "--delay", str(delay_s), "--fail-first", str(fail_first),
                "--window-kb", str(window_kb)]
        if tls is not None:
            argv += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        self._tmp = None if log_path else tempfile.TemporaryDirectory(prefix="fake-riva-")
        super().__init__(argv, log_path or Path(self._tmp.name) / "fake-riva.log", name="fake Riva",
                         cwd=Path(__file__).resolve().parents[1])
        self.address = ""

    def start(self, ready: str | None = READY, timeout: float = 30) -> FakeRiva:
        super().start(None)
        self.address = self.wait_for(ready, timeout).split(READY, 1)[1].strip()
        return self

    def __enter__(self) -> FakeRiva:
        return self.start()

    def stop(self, timeout: float = 10) -> int | None:
        try:
            return super().stop(timeout)
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m testing.fake_riva", description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--results", type=int, default=1, help="partials per chunk")
    p.add_argument("--text-bytes", type=int, default=8, help="characters of each partial")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before answering each chunk")
    p.add_argument("--fail-first", type=int, default=0, help="refuse this many streams with UNAVAILABLE")
    p.add_argument("--window-kb", type=int, default=0, help="a fixed flow-control window per stream, KiB (0: gRPC's)")
    p.add_argument("--tls-cert", type=Path, help="PEM certificate: serve TLS (with --tls-key)")
    p.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    a = p.parse_args(argv)
    if bool(a.tls_cert) != bool(a.tls_key):
        p.error("TLS needs both --tls-cert and --tls-key")
    tls = (a.tls_cert, a.tls_key) if a.tls_cert else None
    asyncio.run(serve(a.port, tls, a.window_kb, results=a.results, text_bytes=a.text_bytes, delay_s=a.delay,
                      fail_first=a.fail_first))


if __name__ == "__main__":
    main()
