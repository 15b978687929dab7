"""Triton Python-backend model: riva-lite's stand-in for Riva's punctuation network.

Copied as `model.py` of `riva-trt-riva-punctuation-en-US-nn-bert-base-uncased`, the one step of the
`riva-punctuation-en-US` ensemble. It is NOT a BERT model and is not in riva-lite's ASR path (Whisper punctuates
and capitalizes by itself; riva-lite's results take that from Whisper's own output). It is a small rule-based
punctuator, so the pair loads, is listed and answers like Riva's: input TEXT (BYTES [-1], one string per entry),
output PUNCTUATED_TEXT (BYTES [-1]): spaces collapsed, the first letter of each sentence and the word "i"
capitalized, a "." added when the text does not end in ".", "?" or "!". Text that is already punctuated keeps
its own marks (a Whisper transcript passes through with its punctuation intact).
"""

import re

import numpy as np
import triton_python_backend_utils as pb_utils


def punctuate(text):
    text = " ".join(text.split())
    if not text:
        return text
    text = re.sub(r"\bi\b", "I", text)
    text = re.sub(r"(^|[.?!]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    return text if text[-1] in ".?!" else text + "."


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                texts = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
                out = [punctuate(t.decode() if isinstance(t, bytes) else str(t)).encode() for t in texts]
                tensor = pb_utils.Tensor("PUNCTUATED_TEXT", np.array(out, dtype=np.object_))
                responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
            except Exception as e:
                error = pb_utils.TritonError(f"punctuation failed: {type(e).__name__}: {e}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
        return responses
