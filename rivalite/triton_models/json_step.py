"""Triton Python-backend model: the endpointing and decoder steps of the Riva <= 2.16 layout's ASR ensembles.

Copied as `model.py` of `<name>-endpointing-streaming[-offline]` and `<name>-ctc-decoder-cpu-streaming[-offline]`
by `rivalite deploy --layout 2.16`. They stand where Riva's steps stand, and do only this: read the acoustic
model's TRANSCRIPT (JSON bytes [1]), check that it is a JSON object, and hand it on unchanged under the output
name in their config (parameter `role` names the step in errors). Whisper decodes by itself (beam search inside
CTranslate2), so there is no CTC decoding to do; utterance ends are decided by riva-lite's servicer (its VAD),
not by this endpointing step.
"""

import json

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.role = params.get("role", "step")
        self.input = config["input"][0]["name"]
        self.output = config["output"][0]["name"]

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                raw = pb_utils.get_input_tensor_by_name(request, self.input).as_numpy().reshape(-1)[0]
                if not isinstance(json.loads(raw), dict):
                    raise ValueError("the acoustic model's answer is not a JSON object")
                out = pb_utils.Tensor(self.output, np.array([raw], dtype=np.object_))
                responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
            except Exception as e:
                error = pb_utils.TritonError(f"{self.role} failed: {type(e).__name__}: {e}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
        return responses
