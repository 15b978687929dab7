"""Triton Python-backend model: audio conditioning, the first step of the Riva <= 2.16 layout's ASR ensembles.

Copied as `model.py` by `rivalite deploy --layout 2.16` (resample.py beside it). Input AUDIO_SIGNAL (FP32 [-1],
mono, any rate) and SAMPLE_RATE (INT32 [1]); output AUDIO_16K (FP32 [-1]): resampled to 16 kHz, clipped to
[-1, 1]. Unlike Riva's feature extractor it computes no mel features: Whisper computes its own log-mel features
inside the acoustic model. (In the 2.17+ layout this step runs inside the BLS model.)
"""

import json

import triton_python_backend_utils as pb_utils
from resample import condition


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.target = int(params.get("sample_rate", "16000"))

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                audio = pb_utils.get_input_tensor_by_name(request, "AUDIO_SIGNAL").as_numpy()
                rate = int(
                    pb_utils.get_input_tensor_by_name(request, "SAMPLE_RATE").as_numpy().reshape(-1)[0]
                )
                audio = condition(audio, rate, self.target)
                responses.append(
                    pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("AUDIO_16K", audio)])
                )
            except Exception as e:
                error = pb_utils.TritonError(f"feature extractor failed: {type(e).__name__}: {e}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
        return responses
