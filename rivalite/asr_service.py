"""riva-lite's nvidia.riva.asr.RivaSpeechRecognition servicer: Recognize, StreamingRecognize, config."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import grpc
from riva.client.proto import riva_asr_pb2 as rasr
from riva.client.proto import riva_asr_pb2_grpc as rasr_grpc

from rivalite.audio import AudioError, StreamDecoder, decode
from rivalite.streaming import Utterances, stability
from rivalite.trace import Trace
from rivalite.transcript import alternatives, offline_results
from rivalite.triton_client import AsrModel, RequestError, Triton

log = logging.getLogger("rivalite.asr_service")
MODEL_SECONDS = "rivalite-model-seconds"  # trailing metadata of Recognize


def unavailable_model(language: str, kind: str) -> RequestError:
    return RequestError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Error: Unavailable model requested. Lang: {language}, Type: {kind}",
    )


def _options(config) -> dict:
    phrases = [p for ctx in config.speech_contexts for p in ctx.phrases]
    return {
        "word_time_offsets": config.enable_word_time_offsets,
        "max_alternatives": config.max_alternatives,
        "hotwords": " ".join(phrases),
    }


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

