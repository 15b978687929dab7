"""Audio conditioning shared by riva-lite's Triton models: any rate, mono float -> 16 kHz, clipped to [-1, 1].

`rivalite deploy` copies this file next to the model.py that imports it (Triton's Python backend puts the
model's version folder on sys.path). Resampling is libswresample's (PyAV).
"""

import numpy as np

MIN_RATE, MAX_RATE = 1000, 768000


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


def condition(audio, rate, target):
    """Mono float audio at `rate` -> float32 at `target`, clipped; ValueError for a rate out of range."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"sample rate {rate} Hz is out of range ({MIN_RATE}-{MAX_RATE} Hz)")
    audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
    return np.clip(resample(audio, rate, target), -1, 1)
