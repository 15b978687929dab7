"""riva-lite's API server (riva_server's part): Riva's gRPC ASR API on top of Triton's gRPC inference API.

Serves nvidia.riva.asr.RivaSpeechRecognition and grpc.health.v1.Health on --riva_uri, with optional TLS
(--ssl_server_cert/--ssl_server_key) and an API key (env RIVA_API_KEY) that the health service does not need.
Logs in glog's format (rivalite.glog) the lines a real riva_server logs: `Riva Conversational AI Server listening
on ...` once it serves, and per ASR request `ASRService.<Method> called.`, then `... returning OK` or the error
(RequestLog). Their sources: docs/riva-behaviour.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from riva.client.proto import health_pb2_grpc
from riva.client.proto import riva_asr_pb2_grpc as rasr_grpc

from rivalite import glog
from rivalite.asr_service import RivaSpeechRecognition
from rivalite.auth import ApiKey
from rivalite.health import Health
from rivalite.triton_client import Triton

log = logging.getLogger("rivalite.server")
API_KEY_ENV = "RIVA_API_KEY"
ASR_SERVICE = "nvidia.riva.asr.RivaSpeechRecognition"
MAX_MESSAGE = 64 * 1024 * 1024
ASR_METHOD = f"/{ASR_SERVICE}/"

# What riva_server logs per ASR request, with the file:line real logs show (Riva 2.14 for StreamingRecognize,
# jetson-containers#366; 2.24 for Recognize and its error line). GetRivaSpeechRecognitionConfig: no line seen.
CALLED = {"StreamingRecognize": "grpc_riva_asr.cc:1592", "Recognize": "grpc_riva_asr.cc:244"}
RETURNING_OK = {"StreamingRecognize": "grpc_riva_asr.cc:1923"}  # Recognize's "returning OK": not seen
ERROR_SOURCE = "grpc_riva_asr.cc:264"  # `E... grpc_riva_asr.cc:264] Error: Unavailable model requested ...`


class RequestLog(grpc.ServerInterceptor):
    """riva_server's per-request lines for Recognize and StreamingRecognize; the servicer stays as it is."""

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        name = details.method[len(ASR_METHOD):] if details.method.startswith(ASR_METHOD) else None
        if handler is None or name not in CALLED:
            return handler
        if handler.request_streaming and handler.response_streaming:
            inner = handler.stream_stream

            def streaming(requests, context):
                _called(name)
                try:
                    yield from inner(requests, context)
                except GeneratorExit:  # the client went away: what Riva logs then was not seen
                    raise
                except BaseException as error:
                    _failed(context, error)
                    raise
                _returned(name, context)

            return grpc.stream_stream_rpc_method_handler(
                streaming, handler.request_deserializer, handler.response_serializer)
        if not handler.request_streaming and not handler.response_streaming:
            inner = handler.unary_unary

            def unary(request, context):
                _called(name)
                try:
                    response = inner(request, context)
                except BaseException as error:
                    _failed(context, error)
                    raise
                _returned(name, context)
                return response

            return grpc.unary_unary_rpc_method_handler(
                unary, handler.request_deserializer, handler.response_serializer)
        return handler


def _called(name: str) -> None:
    log.info("ASRService.%s called.", name, extra={"source": CALLED[name]})


def _details(context) -> str:
    text = context.details() or b""
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


def _failed(context, error: BaseException) -> None:
    """Riva logs the error's text as an E line (context.abort raises after it set the status)."""
    text = _details(context) or f"{type(error).__name__}: {error}"
    log.error("%s", text, extra={"source": ERROR_SOURCE})


def _returned(name: str, context) -> None:
    code = context.code()
    if code not in (None, grpc.StatusCode.OK):  # a status set without raising
        log.error("%s", _details(context) or code.name, extra={"source": ERROR_SOURCE})
    elif name in RETURNING_OK:
        log.info("ASRService.%s returning OK", name, extra={"source": RETURNING_OK[name]})


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise SystemExit(
            f"riva-lite: cannot read the {what} {path}: {e.strerror}; pass a readable PEM file"
        ) from e


def serve(
    riva_uri: str,
    triton_uri: str,
    asr_service: bool = True,
    ssl_server_cert: str | None = None,
    ssl_server_key: str | None = None,
    api_key: str | None = None,
    max_workers: int = 64,
) -> grpc.Server:
    """Start the API server (not blocking) and return it."""
    triton = Triton(triton_uri)
    interceptors = ([ApiKey(api_key)] if api_key else []) + [RequestLog()]  # a refused key logs no request
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="riva-rpc"),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
            ("grpc.so_reuseport", 0),
        ],
    )
    services = {""}
    if asr_service:
        servicer = RivaSpeechRecognition(triton)
        servicer.models()
        rasr_grpc.add_RivaSpeechRecognitionServicer_to_server(servicer, server)
        services.add(ASR_SERVICE)
    health_pb2_grpc.add_HealthServicer_to_server(Health(triton, services), server)
    if bool(ssl_server_cert) != bool(ssl_server_key):
        raise SystemExit("riva-lite: TLS needs both --ssl_server_cert and --ssl_server_key")
    if ssl_server_cert:
        creds = grpc.ssl_server_credentials(
            [(_read(ssl_server_key, "TLS key"), _read(ssl_server_cert, "TLS cert"))]
        )
        port = server.add_secure_port(riva_uri, creds)
    else:
        port = server.add_insecure_port(riva_uri)
    if not port:
        raise SystemExit(f"riva-lite: cannot listen on {riva_uri}: the port is taken or the address is wrong")
    server.start()
    return server


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rivalite serve", description=__doc__.splitlines()[0])
    parser.add_argument("--riva_uri", default="0.0.0.0:50051", help="HOST:PORT to serve Riva's gRPC API on")
    parser.add_argument("--triton_uri", default="localhost:8001", help="Triton's gRPC HOST:PORT")
    parser.add_argument("--asr_service", type=_bool, default=True, metavar="true|false")
    for other in ("nlp_service", "tts_service"):  # riva_server's flags; riva-lite serves ASR only
        parser.add_argument(f"--{other}", type=_bool, default=False, metavar="true|false", help="not in riva-lite")
    parser.add_argument("--ssl_server_cert", help="PEM certificate: serve TLS")
    parser.add_argument("--ssl_server_key", help="PEM private key for --ssl_server_cert")
    parser.add_argument("--start_fd", type=int, help="load, then wait for a byte on this fd before serving")
    args = parser.parse_args(argv)
    glog.install()
    if args.start_fd is not None:  # start-riva starts us early to import while Triton loads its models
        import tritonclient.grpc  # noqa: F401

        if not os.read(args.start_fd, 1):
            return 0  # the launcher gave up before Triton was ready
        os.close(args.start_fd)
    server = serve(
        args.riva_uri,
        args.triton_uri,
        args.asr_service,
        args.ssl_server_cert,
        args.ssl_server_key,
        os.environ.get(API_KEY_ENV) or None,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):  # before the line that says it serves: a stop may follow at once
        signal.signal(sig, lambda *_: stop.set())
    log.info("%s %s", glog.LISTENING, args.riva_uri, extra={"source": "riva_server.cc:307"})
    # riva-lite reports no usage statistics either; real riva_server says so at start (W, stats_reporter.cc:41)
    log.warning("No API key provided. Stats reporting disabled.", extra={"source": "stats_reporter.cc:41"})
    log.info(
        "serving Riva's gRPC API on %s (Triton %s, TLS %s, API key %s)",
        args.riva_uri,
        args.triton_uri,
        "on" if args.ssl_server_cert else "off",
        "on" if os.environ.get(API_KEY_ENV) else "off",
    )
    stop.wait()
    server.stop(grace=2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
