"""Triton Python-backend model: the ASR pipeline of the Riva 2.17+ layout (`<name>-asr-bls-ensemble`).

Copied as `model.py` by `rivalite deploy` (resample.py beside it, riva_bls_config.yaml its settings). Inputs
AUDIO_SIGNAL (FP32 [-1], mono, any rate), SAMPLE_RATE (INT32 [1]), OPTIONS (JSON bytes [1]); output TRANSCRIPT
(JSON bytes [1]), the acoustic model's answer unchanged (see acoustic_model.py). Per request it resamples to
16 kHz and calls the acoustic model named in riva_bls_config.yaml with Triton's business-logic scripting (BLS),
passing its own correlation ID and sequence flags on: both models are sequence batched, as Riva's are, so a
sequence idle past max_sequence_idle_microseconds is refused with Triton's START-flag error. It does not call
the punctuation models: Whisper punctuates by itself.
"""

import os

import numpy as np
import triton_python_backend_utils as pb_utils
from resample import condition

CONFIG = "riva_bls_config.yaml"


def read_settings(path):
    """The flat `key: value` lines of riva_bls_config.yaml (a YAML subset; no YAML parser in the stub)."""
    settings = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                key, _, value = line.partition(":")
                settings[key.strip()] = value.strip().strip("'\"")
    return settings


class TritonPythonModel:
    def initialize(self, args):
        folder = os.path.join(args["model_repository"], args["model_version"])
        settings = read_settings(os.path.join(folder, CONFIG))
        self.acoustic_model = settings["acoustic_model_name"]
        self.target = int(settings.get("sample_rate", "16000"))

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                responses.append(self.recognize(request))
            except Exception as e:  # one bad request must not take the model down
                error = pb_utils.TritonError(f"asr bls failed: {type(e).__name__}: {e}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
        return responses

    def recognize(self, request):
        audio = pb_utils.get_input_tensor_by_name(request, "AUDIO_SIGNAL").as_numpy()
        rate = int(pb_utils.get_input_tensor_by_name(request, "SAMPLE_RATE").as_numpy().reshape(-1)[0])
        options = pb_utils.get_input_tensor_by_name(request, "OPTIONS")
        audio_16k = pb_utils.Tensor("AUDIO_16K", condition(audio, rate, self.target))
        step = pb_utils.InferenceRequest(
            model_name=self.acoustic_model,
            requested_output_names=["TRANSCRIPT"],
            inputs=[audio_16k, pb_utils.Tensor("OPTIONS", options.as_numpy())],
            correlation_id=request.correlation_id(),
            flags=request.flags(),
        )
        answer = step.exec()
        if answer.has_error():
            error = pb_utils.TritonError(f"{self.acoustic_model}: {answer.error().message()}")
            return pb_utils.InferenceResponse(output_tensors=[], error=error)
        out = pb_utils.get_output_tensor_by_name(answer, "TRANSCRIPT").as_numpy()
        transcript = pb_utils.Tensor("TRANSCRIPT", np.array(out.reshape(-1)[:1], dtype=np.object_))
        return pb_utils.InferenceResponse(output_tensors=[transcript])
