"""riva-lite's nvidia.riva.asr.RivaSpeechRecognition servicer: Recognize, StreamingRecognize, config."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time

import grpc
from riva.client.proto import riva_asr_pb2 as rasr
from riva.client.proto import riva_asr_pb2_grpc as rasr_grpc

from rivalite.audio import AudioError, NoRate, StreamDecoder, decode
from rivalite.stream_session import Session
from rivalite.streaming import PRE_ROLL_S, Endpointing, utterance_spans
from rivalite.trace import Trace
from rivalite.transcript import decoder_options, offline_results
from rivalite.triton_client import AsrModel, RequestError, Triton
from rivalite.vad import FRAME_S, Vad

log = logging.getLogger("rivalite.asr_service")
MODEL_SECONDS = "rivalite-model-seconds"  # trailing metadata of Recognize
ERROR_WORDING_ENV = "RIVALITE_ERROR_WORDING"


def unavailable_model(language: str, rate: int, kind: str) -> RequestError:
    """Riva 2.12+'s wording (trailing space included); RIVALITE_ERROR_WORDING=2.2 gives the older form."""
    if os.environ.get(ERROR_WORDING_ENV) == "2.2":
        return RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"Error: Unavailable model requested. Lang: {language}, Type: {kind}")
    return RequestError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Error: Unavailable model requested given these parameters: language_code={language}; "
        f"sample_rate={rate}; type={kind}; ",
    )


def audio_error(e: AudioError, config, kind: str) -> RequestError:
    if isinstance(e, NoRate):
        return unavailable_model(config.language_code, 0, kind)
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Error: {e}")


def _shifted(out: dict, offset_s: float, end_s: float) -> dict:
    """An utterance's decode with its times moved to where it lies in the whole audio."""
    segments = [{**seg, "start": seg["start"] + offset_s, "end": seg["end"] + offset_s,
                 "words": [[w, a + offset_s, b + offset_s, p] for w, a, b, p in seg.get("words", [])]}
                for seg in out["segments"]]
    return {**out, "segments": segments, "duration": end_s}


def idle_error(model: AsrModel) -> RequestError:
    """Triton's sequence batcher forgets a stream idle past max_sequence_idle_microseconds; Riva passes
    on the error the next request gets."""
    return RequestError(
        grpc.StatusCode.INTERNAL,
        "Error: Triton model failed during inference. Error message: inference request for sequence to "
        f"model '{model.name}' must specify the START flag on the first request of the sequence",
    )


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
        """The model a request asks for (by name, else the first of its type and language), as Riva picks.
        A sample rate of 0 is left to the audio: NVIDIA's transcribe_file*.py send WAV files with rate 0
        and the header's rate; raw audio with rate 0 gets "Unavailable model" (audio_error)."""
        language = config.language_code
        models = self.models()
        candidates = [models[config.model]] if config.model in models else [] if config.model else \
            [models[n] for n in sorted(models)]
        for model in candidates:
            if model.type == kind and (
                    not language or model.language_code.lower() == language.lower()):
                log.info("Using model %s from Triton %s", model.name, self.triton.url,
                         extra={"source": "grpc_riva_asr.cc:1807"})  # Riva 2.14's line (rivalite/glog.py)
                return model
        raise unavailable_model(language, config.sample_rate_hertz, kind)

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
                raise audio_error(e, config, "offline") from None
            if samples.size == 0:
                raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "Error: the audio holds no samples")
            results, model_s = [], 0.0
            for start, stop in self._utterances(samples, rate, config):
                out = self.triton.infer(model.name, samples[start:stop], rate, decoder_options(config))
                model_s += out.get("model_s", 0.0)
                results += offline_results(_shifted(out, start / rate, stop / rate), config, model.language_code)
            # time spent in Whisper, to tell serving overhead from compute
            context.set_trailing_metadata(((MODEL_SECONDS, f"{model_s:.6f}"),))
            return rasr.RecognizeResponse(results=results, id=request.id)

    @staticmethod
    def _utterances(samples, rate: int, config) -> list[tuple[int, int]]:
        """Sample ranges to decode one by one: the utterances endpointing finds (as a stream would end
        them; Riva's offline results come per utterance), or the whole audio when it finds at most one
        (Whisper then hears all of it, quiet speech included)."""
        spans = utterance_spans(Vad(rate).feed(samples), Endpointing.from_config(config))
        if len(spans) <= 1:
            return [(0, len(samples))]
        cuts = [max(0, round((a * FRAME_S - PRE_ROLL_S) * rate)) for a, _ in spans]
        cuts[0] = 0
        return list(zip(cuts, [*cuts[1:], len(samples)], strict=True))

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
                raise audio_error(e, config, "online") from None
            yield from self._stream(request_iterator, context, scfg, model, decoder, first.id)

    def _stream(self, request_iterator, context, scfg, model, decoder, request_id):
        items = queue.Queue()

        def read():
            try:
                for req in request_iterator:
                    if req.HasField("streaming_config"):
                        items.put(("error", "Error: only the first StreamingRecognizeRequest may carry a "
                                   "streaming_config; later requests carry audio_content"))
                        return
                    items.put(("audio", req.audio_content, time.perf_counter()))
                items.put(("end", None))
            except Exception:  # the client went away
                items.put(("cancel", None))

        threading.Thread(target=read, daemon=True, name="riva-stream-reader").start()
        trace, session, end, last_decode = Trace.open(), None, False, 0.0
        last_audio = time.monotonic()
        try:
            while not end:
                batch = [items.get()]
                while not items.empty():
                    batch.append(items.get_nowait())
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
                    now = time.monotonic()
                    if now - last_audio > getattr(model, "max_idle_s", 60.0):
                        raise idle_error(model)
                    last_audio = now
                    if data:
                        try:
                            decoder.feed(data)
                        except AudioError as e:
                            raise audio_error(e, scfg.config, "online") from None
                if not end and decoder.is_container and time.monotonic() - last_decode < 0.5:
                    continue  # compressed audio is re-decoded whole: at most twice a second
                try:
                    samples = decoder.finish() if end else decoder.samples()
                except AudioError as e:
                    raise audio_error(e, scfg.config, "online") from None
                last_decode = time.monotonic()
                if decoder.rate == 0:
                    continue
                if session is None:
                    session = Session(self.triton, model, scfg, decoder.rate, decoder_options(scfg.config))
                for response in session.finish(samples) if end else session.feed(samples):
                    response.id.CopyFrom(request_id)
                    trace.answered(any(r.is_final for r in response.results))
                    yield response
        finally:
            if session is not None:
                session.close()
        trace.close()

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
        if isinstance(error, RequestError):  # logged by server.RequestLog as Riva logs it
            self.context.abort(error.code, error.message)
        log.exception("unexpected error")
        self.context.abort(grpc.StatusCode.INTERNAL, f"Error: internal error in riva-lite: {error}")

