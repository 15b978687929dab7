"""An echo Riva: StreamingRecognize answers every audio chunk at once, no model. For the gateway's tests and
benchmarks, to see the gateway's own behaviour and latency. `python -m rivagateway.echo --port 0`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import threading

import grpc
from riva.client.proto import health_pb2, health_pb2_grpc, riva_asr_pb2, riva_asr_pb2_grpc

READY = "echo Riva on"
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


def _result(text: str, final: bool, audio_s: float) -> riva_asr_pb2.StreamingRecognitionResult:
    return riva_asr_pb2.StreamingRecognitionResult(
        alternatives=[riva_asr_pb2.SpeechRecognitionAlternative(transcript=text)], is_final=final,
        stability=0.0 if final else 0.5, audio_processed=audio_s)


class Echo(riva_asr_pb2_grpc.RivaSpeechRecognitionServicer, health_pb2_grpc.HealthServicer):
    """Per chunk: `results` partials of `text_bytes` characters after `delay_s`; a final at the end. The first
    `fail_first` streams are refused with UNAVAILABLE."""

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
            context.set_details("echo: refusing this stream (fail_first)")
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


async def serve(port: int = 0, **echo) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    servicer = Echo(**echo)
    riva_asr_pb2_grpc.add_RivaSpeechRecognitionServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print(f"{READY} 127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(None)


class EchoServer:
    """`python -m rivagateway.echo` as a child process (grpc.aio keeps to one event loop a process):
    `with EchoServer(results=2) as e: e.address`."""

    def __init__(self, port: int = 0, results: int = 1, text_bytes: int = 8, delay_s: float = 0.0,
                 fail_first: int = 0):
        self.argv = [sys.executable, "-m", "rivagateway.echo", "--port", str(port), "--results", str(results),
                     "--text-bytes", str(text_bytes), "--delay", str(delay_s), "--fail-first", str(fail_first)]
        self.proc: subprocess.Popen | None = None
        self.address = ""

    def __enter__(self) -> EchoServer:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if READY not in line:
            self.proc.kill()
            raise RuntimeError(f"the echo Riva did not start: {line!r}")
        self.address = line.split(READY, 1)[1].strip()
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m rivagateway.echo", description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--results", type=int, default=1, help="partials per chunk")
    p.add_argument("--text-bytes", type=int, default=8, help="characters of each partial")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before answering each chunk")
    p.add_argument("--fail-first", type=int, default=0, help="refuse this many streams with UNAVAILABLE")
    a = p.parse_args(argv)
    asyncio.run(serve(a.port, results=a.results, text_bytes=a.text_bytes, delay_s=a.delay, fail_first=a.fail_first))


if __name__ == "__main__":
    main()
