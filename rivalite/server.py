"""riva-lite's API server (riva_server's part): Riva's gRPC ASR API on top of Triton's gRPC inference API.

Serves nvidia.riva.asr.RivaSpeechRecognition and grpc.health.v1.Health on --riva_uri. Models are the Triton
ensembles whose config has `language_code` and `type` (online/offline) parameters. Optional TLS
(--ssl_server_cert/--ssl_server_key) and an API key (env RIVA_API_KEY) checked in request metadata as
`authorization: Bearer <key>` (or `x-api-key: <key>`); the health service needs no key.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass

import grpc
import numpy as np
from riva.client.proto import health_pb2, health_pb2_grpc
from riva.client.proto import riva_asr_pb2 as rasr
from riva.client.proto import riva_asr_pb2_grpc as rasr_grpc

from rivalite.audio import AudioError, StreamDecoder, decode
from rivalite.streaming import Utterances, stability
from rivalite.transcript import alternatives, offline_results

log = logging.getLogger("rivalite.server")
API_KEY_ENV = "RIVA_API_KEY"
ASR_SERVICE = "nvidia.riva.asr.RivaSpeechRecognition"
MAX_MESSAGE = 64 * 1024 * 1024
MODEL_SECONDS = "rivalite-model-seconds"  # trailing metadata of Recognize
SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


class RequestError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def unavailable_model(language: str, kind: str) -> RequestError:
    return RequestError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Error: Unavailable model requested. Lang: {language}, Type: {kind}",
    )


@dataclass(frozen=True)
class AsrModel:
    name: str
    language_code: str
    type: str  # "online" or "offline"
    parameters: dict
    chunk_s: float


class Triton:
    """Triton's gRPC inference API: model discovery, readiness and inference (one shared client)."""

    def __init__(self, url: str, timeout_s: float = 300.0):
        self.url, self.timeout_s = url, timeout_s
        self._client = None
        self._lock = threading.Lock()
        self._ready_at = (0.0, False)

    @property
    def client(self):
        with self._lock:  # tritonclient's gRPC client is thread-safe for everything but streams
            if self._client is None:
                import tritonclient.grpc as tgrpc

                self._client = tgrpc.InferenceServerClient(self.url)
            return self._client

    def ready(self) -> bool:
        at, value = self._ready_at
        if time.monotonic() - at > 0.5:
            try:
                value = bool(self.client.is_server_ready(client_timeout=2))
            except Exception:
                value = False
            self._ready_at = (time.monotonic(), value)
        return value

    def discover(self) -> dict[str, AsrModel]:
        models = {}
        index = self.client.get_model_repository_index(as_json=True, client_timeout=10)
        for entry in index.get("models", []):
            if entry.get("state") != "READY":
                continue
            config = self.client.get_model_config(entry["name"], as_json=True, client_timeout=10)["config"]
            params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
            if params.get("type") in ("online", "offline") and params.get("language_code"):
                models[entry["name"]] = AsrModel(
                    entry["name"],
                    params["language_code"],
                    params["type"],
                    params,
                    float(params.get("chunk_size") or 0.8),
                )
        return models

    def infer(self, model: str, samples: np.ndarray, rate: int, options: dict) -> dict:
        import tritonclient.grpc as tgrpc
        from tritonclient.utils import InferenceServerException

        inputs = [
            tgrpc.InferInput("AUDIO_SIGNAL", [len(samples)], "FP32"),
            tgrpc.InferInput("SAMPLE_RATE", [1], "INT32"),
            tgrpc.InferInput("OPTIONS", [1], "BYTES"),
        ]
        inputs[0].set_data_from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
        inputs[1].set_data_from_numpy(np.array([rate], dtype=np.int32))
        inputs[2].set_data_from_numpy(np.array([json.dumps(options).encode()], dtype=np.object_))
        try:
            result = self.client.infer(model, inputs, client_timeout=self.timeout_s)
        except InferenceServerException as e:
            if "unavailable" in str(e.status() or "").lower() or "failed to connect" in str(e).lower():
                raise RequestError(
                    grpc.StatusCode.UNAVAILABLE, f"Error: Triton is unavailable at {self.url}: {e.message()}"
                ) from None
            raise RequestError(
                grpc.StatusCode.INTERNAL, f"Error: inference failed in {model}: {e.message()}"
            ) from None
        return json.loads(result.as_numpy("TRANSCRIPT").reshape(-1)[0])


def _options(config) -> dict:
    phrases = [p for ctx in config.speech_contexts for p in ctx.phrases]
    return {
        "word_time_offsets": config.enable_word_time_offsets,
        "max_alternatives": config.max_alternatives,
        "hotwords": " ".join(phrases),
    }


class Trace:
    """Server-side latency of each streaming response (sent - arrival of the chunk it answers), written as a
    JSON line per stream to $RIVALITE_TRACE when set: a second measurement to check a client's against."""

    def __init__(self, path: str | None):
        self.path, self.arrivals, self.latencies = path, [], []

    @classmethod
    def open(cls) -> Trace:
        return cls(os.environ.get("RIVALITE_TRACE"))

    def arrived(self, at: float) -> None:
        if self.path:
            self.arrivals.append(at)

    def answered(self, final: bool) -> None:
        i = len(self.latencies)
        if self.path and i < len(self.arrivals):
            self.latencies.append(((time.perf_counter() - self.arrivals[i]) * 1000, final))

    def close(self) -> None:
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps({"chunks": len(self.arrivals), "ms": self.latencies}) + "\n")


@dataclass
class _StreamState:
    utterances: Utterances | None = None
    previous: str = ""  # the last partial's transcript, for its stability
    last_decode: float = 0.0


class RivaSpeechRecognition(rasr_grpc.RivaSpeechRecognitionServicer):
    def __init__(self, triton: Triton):
        self.triton = triton
        self._models: dict[str, AsrModel] = {}
        self._lock = threading.Lock()

    def models(self) -> dict[str, AsrModel]:
        with self._lock:
            if not self._models:
                try:
                    self._models = self.triton.discover()
                except Exception as e:
                    log.warning("cannot list Triton's models at %s: %s", self.triton.url, e)
            return self._models

    def select(self, config, kind: str) -> AsrModel:
        language = config.language_code
        models = self.models()
        if config.model:
            model = models.get(config.model)
            if (
                model is None
                or model.type != kind
                or (language and model.language_code.lower() != language.lower())
            ):
                raise unavailable_model(language, kind)
            return model
        for name in sorted(models):
            model = models[name]
            if model.type == kind and (not language or model.language_code.lower() == language.lower()):
                return model
        raise unavailable_model(language, kind)

    # -- RPCs ---------------------------------------------------------------------------------------
    def Recognize(self, request, context):
        with _errors(context):
            model = self.select(request.config, "offline")
            config = request.config
            try:
                samples, rate = decode(
                    request.audio, config.encoding, config.sample_rate_hertz, config.audio_channel_count
                )
            except AudioError as e:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Error: {e}") from None
            if samples.size == 0:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "Error: the audio holds no samples")
            out = self.triton.infer(model.name, samples, rate, _options(config))
            results = offline_results(out, config, model.language_code)
            if "model_s" in out:  # time spent in Whisper, to tell serving overhead from compute
                context.set_trailing_metadata(((MODEL_SECONDS, f"{out['model_s']:.6f}"),))
            return rasr.RecognizeResponse(results=results, id=request.id)

    def StreamingRecognize(self, request_iterator, context):
        with _errors(context):
            first = next(request_iterator, None)
            if first is None:
                return
            if not first.HasField("streaming_config"):
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "Error: the first StreamingRecognizeRequest must carry a streaming_config "
                    "and no audio; send the config first, then audio_content",
                )
            scfg = first.streaming_config
            config = scfg.config
            model = self.select(config, "online")
            try:
                decoder = StreamDecoder(config.encoding, config.sample_rate_hertz, config.audio_channel_count)
            except AudioError as e:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Error: {e}") from None
            yield from self._stream(request_iterator, context, scfg, model, decoder, first.id)

    def _stream(self, request_iterator, context, scfg, model, decoder, request_id):
        config, items = scfg.config, queue.Queue()

        def read():
            try:
                for req in request_iterator:
                    if req.HasField("streaming_config"):
                        items.put(
                            (
                                "error",
                                "Error: only the first StreamingRecognizeRequest may carry a "
                                "streaming_config; later requests carry audio_content",
                            )
                        )
                        return
                    items.put(("audio", req.audio_content, time.perf_counter()))
                items.put(("end", None))
            except Exception:  # the client went away
                items.put(("cancel", None))

        threading.Thread(target=read, daemon=True, name="riva-stream-reader").start()
        options = _options(config)
        partial_options = {**options, "word_time_offsets": False, "max_alternatives": 1, "partial": True}
        state = _StreamState()
        trace = Trace.open()
        end = False
        while not end:
            batch = [items.get()]
            while not items.empty():
                batch.append(items.get_nowait())
            chunks = 0
            for kind, data, *at in batch:
                if at:
                    trace.arrived(at[0])
                if kind == "cancel":
                    return
                if kind == "error":
                    raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, data)
                if kind == "end":
                    end = True
                    continue
                chunks += 1
                if data:
                    try:
                        decoder.feed(data)
                    except AudioError as e:
                        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Error: {e}") from None
            results = self._decode(decoder, end, state, scfg, model, options, partial_options)
            # As Riva: one response per audio chunk (results ride on the last), one more after the end.
            for _ in range(chunks - 1):
                trace.answered(False)
                yield rasr.StreamingRecognizeResponse(id=request_id)
            if chunks or results:
                trace.answered(any(r.is_final for r in results))
                yield rasr.StreamingRecognizeResponse(results=results, id=request_id)
        trace.close()

    def _decode(self, decoder, end, state, scfg, model, options, partial_options) -> list:
        """The results the audio so far gives now (finals of ended utterances, a partial of the current)."""
        config = scfg.config
        if decoder.rate == 0 and not end:
            return []
        if not end and decoder.is_container and time.monotonic() - state.last_decode < 0.5:
            return []  # compressed audio is re-decoded whole: at most twice a second
        try:
            samples = decoder.finish() if end else decoder.samples()
        except AudioError as e:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Error: {e}") from None
        state.last_decode = time.monotonic()
        if decoder.rate == 0:
            return []
        if state.utterances is None:
            stop_ms = config.endpointing_config.stop_history if config.HasField("endpointing_config") else 0
            state.utterances = Utterances(decoder.rate, model.chunk_s, max(0, stop_ms), scfg.interim_results)
        results = []
        for event, start, stop in state.utterances.step(samples, end):
            final = event == "final"
            out = self.triton.infer(model.name, samples[start:stop], decoder.rate,
                                    options if final else partial_options)
            alts = alternatives(out, config.enable_automatic_punctuation, start / decoder.rate,
                                model.language_code, config.max_alternatives, final,
                                final and config.enable_word_time_offsets)
            if not alts:
                continue
            result = rasr.StreamingRecognitionResult(
                alternatives=alts, is_final=final, channel_tag=1, audio_processed=stop / decoder.rate)
            if not final:
                result.stability = stability(state.previous, alts[0].transcript)
            state.previous = "" if final else alts[0].transcript
            results.append(result)
        total = len(samples) / decoder.rate
        if end and not any(r.is_final and r.audio_processed >= total - 1e-3 for r in results):
            # As Riva, the end of a stream gets a final, empty when the speech ended before it, so that
            # audio_processed reaches the length of the audio.
            results.append(rasr.StreamingRecognitionResult(
                alternatives=[rasr.SpeechRecognitionAlternative(transcript="")], is_final=True, channel_tag=1,
                audio_processed=total))
        return results

    def GetRivaSpeechRecognitionConfig(self, request, context):
        with _errors(context):
            models = self.models()
            if request.model_name and request.model_name not in models:
                raise RequestError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Error: Model {request.model_name} is not available on this server",
                )
            response = rasr.RivaSpeechRecognitionConfigResponse()
            for name in sorted(models):
                if not request.model_name or name == request.model_name:
                    response.model_config.add(model_name=name, parameters=models[name].parameters)
            return response


class _errors:
    """Turns RequestError (and anything unexpected) into a gRPC status; the server keeps serving."""

    def __init__(self, context):
        self.context = context

    def __enter__(self):
        return self

    def __exit__(self, etype, error, tb):
        if error is None or isinstance(error, (GeneratorExit, grpc.RpcError)):
            return False
        if isinstance(error, RequestError):
            log.info("%s: %s", error.code.name, error.message)
            self.context.abort(error.code, error.message)
        log.exception("unexpected error")
        self.context.abort(grpc.StatusCode.INTERNAL, f"Error: internal error in riva-lite: {error}")


class Health(health_pb2_grpc.HealthServicer):
    def __init__(self, triton: Triton, services: set[str]):
        self.triton, self.services = triton, services

    def _status(self, service: str, context):
        if service not in self.services:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {service!r}")
        return SERVING if self.triton.ready() else NOT_SERVING

    def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=self._status(request.service, context))

    def Watch(self, request, context):
        last = None
        while context.is_active():
            status = self._status(request.service, context)
            if status != last:
                last = status
                yield health_pb2.HealthCheckResponse(status=status)
            time.sleep(1)


class ApiKey(grpc.ServerInterceptor):
    """Requires the API key in metadata for every method but grpc.health.v1.Health."""

    def __init__(self, key: str):
        self.key = key.encode()

    def _ok(self, metadata) -> bool:
        for k, v in metadata or ():
            v = v.encode() if isinstance(v, str) else v
            if k == "authorization" and v[:7].lower() == b"bearer ":
                v = v[7:].strip()
            elif k != "x-api-key":
                continue
            if hmac.compare_digest(v, self.key):
                return True
        return False

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or details.method.startswith("/grpc.health.v1.Health/"):
            return handler
        if self._ok(details.invocation_metadata):
            return handler

        def deny(request, context):
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "Error: missing or invalid API key: send metadata 'authorization: Bearer <key>'",
            )

        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(deny)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(deny)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(deny)
        return grpc.unary_unary_rpc_method_handler(deny)


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
    interceptors = [ApiKey(api_key)] if api_key else []
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
    parser.add_argument("--ssl_server_cert", help="PEM certificate: serve TLS")
    parser.add_argument("--ssl_server_key", help="PEM private key for --ssl_server_cert")
    parser.add_argument("--start_fd", type=int, help="load, then wait for a byte on this fd before serving")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s riva-lite %(levelname)s %(message)s")
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
    log.info(
        "serving Riva's gRPC API on %s (Triton %s, TLS %s, API key %s)",
        args.riva_uri,
        args.triton_uri,
        "on" if args.ssl_server_cert else "off",
        "on" if os.environ.get(API_KEY_ENV) else "off",
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
