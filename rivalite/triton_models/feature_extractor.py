"""Triton Python-backend model: audio conditioning, the first step of riva-lite's ASR ensembles.

Copied as `model.py` by `rivalite deploy`. Input AUDIO_SIGNAL (FP32 [-1], mono, any rate) and
SAMPLE_RATE (INT32 [1]); output AUDIO_16K (FP32 [-1]): resampled to 16 kHz with libswresample (PyAV),
clipped to [-1, 1]. Whisper computes its own log-mel features inside the acoustic model.
"""

import json

import numpy as np
import triton_python_backend_utils as pb_utils


def resample(audio, rate, target):
    if rate == target or audio.size == 0:
        return audio
    if audio.size < 256:  # too short for the resampler's filter: linear interpolation
        n = max(1, round(audio.size * target / rate))
        return np.interp(np.linspace(0, audio.size - 1, n), np.arange(audio.size), audio).astype(np.float32)
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    frame = av.AudioFrame.from_ndarray(audio.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = rate
    frames = list(resampler.resample(frame)) + list(resampler.resample(None))
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32, copy=False)


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.target = int(params.get("sample_rate", "16000"))

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                audio = pb_utils.get_input_tensor_by_name(request, "AUDIO_SIGNAL").as_numpy().reshape(-1)
                rate = int(
                    pb_utils.get_input_tensor_by_name(request, "SAMPLE_RATE").as_numpy().reshape(-1)[0]
                )
                if not 1000 <= rate <= 768000:
                    raise ValueError(f"sample rate {rate} Hz is out of range")
                audio = np.clip(
                    resample(np.ascontiguousarray(audio, dtype=np.float32), rate, self.target), -1, 1
                )
                responses.append(
                    pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("AUDIO_16K", audio)])
                )
            except Exception as e:
                error = pb_utils.TritonError(f"feature extractor failed: {type(e).__name__}: {e}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
        return responses
