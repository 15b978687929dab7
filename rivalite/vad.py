"""Voice activity: the Silero VAD model (v6, ONNX) that faster-whisper's wheel carries, run per stream.

Riva's endpointing looks at the acoustic model's blank/non-blank output; riva-lite's Whisper has no such
frames, so the speech probability of each 32 ms frame stands in for "non-blank". Probabilities are also
what Riva reports in `pipeline_states.vad_probabilities`.
"""

from __future__ import annotations

import threading
from importlib import resources

import numpy as np

RATE = 16000
FRAME = 512  # samples per probability at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous frame the model sees
FRAME_S = FRAME / RATE

_session = None
_lock = threading.Lock()


def _model():
    """One ONNX session for the process (thread-safe to run; each stream keeps its own state)."""
    global _session
    with _lock:
        if _session is None:
            import onnxruntime

            path = resources.files("faster_whisper").joinpath("assets/silero_vad_v6.onnx")
            opts = onnxruntime.SessionOptions()
            opts.inter_op_num_threads = opts.intra_op_num_threads = 1
            opts.enable_cpu_mem_arena = False
            opts.log_severity_level = 4
            _session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"],
                                                    sess_options=opts)
        return _session


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == RATE or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    n = max(1, round(samples.size * RATE / rate))
    return np.interp(np.linspace(0, samples.size - 1, n), np.arange(samples.size), samples).astype(np.float32)


class Vad:
    """Speech probability per 32 ms frame of a growing signal (any rate; resampled to 16 kHz for the model)."""

    def __init__(self, rate: int):
        self.rate = rate
        self.session = _model()
        self.h = np.zeros((1, 1, 128), dtype=np.float32)
        self.c = np.zeros((1, 1, 128), dtype=np.float32)
        self.context = np.zeros((1, CONTEXT), dtype=np.float32)
        self.pending = np.zeros(0, dtype=np.float32)  # 16 kHz samples not yet in a frame
        self.consumed = 0  # input samples (at `rate`) already resampled

    def feed(self, samples: np.ndarray) -> list[float]:
        """Probabilities of the whole frames that `samples` (the signal so far, at `rate`) completes."""
        new = samples[self.consumed :]
        self.consumed = len(samples)
        self.pending = np.concatenate([self.pending, to_16k(new, self.rate)])
        n = len(self.pending) // FRAME
        if n == 0:
            return []
        frames, self.pending = self.pending[: n * FRAME].reshape(n, FRAME), self.pending[n * FRAME :]
        probs = []
        for frame in frames:
            x = np.concatenate([self.context, frame[None]], axis=1)
            out, self.h, self.c = self.session.run(None, {"input": x, "h": self.h, "c": self.c})
            self.context = frame[None, -CONTEXT:]
            probs.append(float(np.asarray(out).reshape(-1)[0]))
        return probs
