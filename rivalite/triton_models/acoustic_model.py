"""Triton Python-backend model: Whisper (CTranslate2, faster-whisper) on 16 kHz mono float audio.

Copied as `model.py` into the acoustic model's version folder by `rivalite deploy`; the weights sit next
to it in `whisper/`. Input AUDIO_16K (FP32 [-1]) and OPTIONS (JSON bytes); output TRANSCRIPT (JSON bytes):
{"segments": [{"text", "start", "end", "avg_logprob", "words": [[word, start, end, prob], ...]}],
 "alternatives": [{"text", "score"}], "duration": seconds, "model_s": seconds spent in Whisper}.
Self-contained: runs inside Triton's Python stub, which only sees site-packages (not PYTHONPATH).
"""

import json
import math
import os
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        from faster_whisper import WhisperModel

        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        folder = os.path.join(
            args["model_repository"], args["model_version"], params.get("model_dir", "whisper")
        )
        self.model = WhisperModel(
            folder,
            device="cpu",
            compute_type=params.get("compute_type", "int8"),
            cpu_threads=int(params.get("cpu_threads", "2")),
            local_files_only=True,
        )
        self.language = params.get("language", "en")
        self.beam_size = int(params.get("beam_size", "5"))

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                audio = pb_utils.get_input_tensor_by_name(request, "AUDIO_16K").as_numpy()
                raw = pb_utils.get_input_tensor_by_name(request, "OPTIONS").as_numpy().reshape(-1)
                options = json.loads(raw[0] or b"{}") if raw.size else {}
                result = self.transcribe(np.ascontiguousarray(audio, dtype=np.float32).reshape(-1), options)
                out = pb_utils.Tensor("TRANSCRIPT", np.array([json.dumps(result).encode()], dtype=np.object_))
                responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
            except Exception as e:  # one bad request must not take the model down
                error = pb_utils.TritonError(f"whisper failed: {type(e).__name__}: {e}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
        return responses

    def transcribe(self, audio, options):
        if options.get("partial"):
            return self.partial(audio, options)
        started = time.perf_counter()
        segments, _ = self.model.transcribe(
            audio,
            language=self.language if self.model.model.is_multilingual else None,
            beam_size=self.beam_size,
            word_timestamps=bool(options.get("word_time_offsets")),
            hotwords=options.get("hotwords") or None,
        )
        result = {"segments": [], "alternatives": [], "duration": len(audio) / 16000}
        for s in segments:
            words = [[w.word, w.start, w.end, w.probability] for w in (s.words or [])]
            result["segments"].append(
                {"text": s.text, "start": s.start, "end": s.end, "avg_logprob": s.avg_logprob, "words": words}
            )
        n = int(options.get("max_alternatives") or 1)
        if n > 1 and len(audio) <= 30 * 16000:
            result["alternatives"] = self.n_best(audio, n, options.get("hotwords") or None)
        result["model_s"] = time.perf_counter() - started
        return result

    def n_best(self, audio, n, hotwords):
        """N hypotheses of one 30 s window from beam search, best first (text and mean log-probability)."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        model = self.model
        features = pad_or_trim(model.feature_extractor(audio))
        tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=self.language if model.model.is_multilingual else None,
        )
        prompt = model.get_prompt(tokenizer, [], without_timestamps=True, hotwords=hotwords)
        result = model.model.generate(
            model.encode(features),
            [prompt],
            beam_size=max(n, self.beam_size),
            num_hypotheses=n,
            return_scores=True,
            max_length=model.max_length,
            suppress_blank=True,
        )[0]
        hyps = []
        for ids, score in zip(result.sequences_ids, result.scores, strict=False):
            text = tokenizer.decode([t for t in ids if t < tokenizer.eot])
            hyps.append({"text": text, "score": score if math.isfinite(score) else -10.0})
        return hyps

    def partial(self, audio, options):
        """An interim hypothesis, cheap enough to repeat every server chunk: greedy, one pass, the encoder
        run on at least 10 s and the audio plus 1 s (not a padded 30 s window: about 3x less work for a
        few seconds of speech; shorter windows made Whisper repeat itself in 7 of 80 corpus prefixes),
        the output length bounded by the audio's, so the cost stays flat as an utterance grows."""
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        started = time.perf_counter()
        model = self.model
        features = model.feature_extractor(audio)
        have = features.shape[1]
        frames = min(3000, max(1000, -(-(have + 100) // 100) * 100))  # < 10 s: Whisper repeats itself
        if frames > have:
            features = np.pad(features, ((0, 0), (0, frames - have)), constant_values=float(features.min()))
        features = np.ascontiguousarray(features[:, :frames][None], dtype=np.float32)
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                              language=self.language if model.model.is_multilingual else None)
        prompt = model.get_prompt(tokenizer, [], without_timestamps=True,
                                  hotwords=options.get("hotwords") or None)
        seconds = len(audio) / 16000
        result = model.model.generate(
            model.model.encode(ctranslate2.StorageView.from_array(features), to_cpu=False), [prompt],
            beam_size=1, max_length=min(224, 8 + int(6 * seconds)), suppress_blank=True,
            return_scores=True)[0]
        text = tokenizer.decode([t for t in result.sequences_ids[0] if t < tokenizer.eot])
        score = result.scores[0] if result.scores and math.isfinite(result.scores[0]) else -1.0
        segment = {"text": text, "start": 0.0, "end": seconds, "avg_logprob": score, "words": []}
        return {"segments": [segment] if text.strip() else [], "alternatives": [], "duration": seconds,
                "model_s": time.perf_counter() - started}
