"""Audio shape between the client and Riva: Riva takes mono only ("Only single channel audio input is supported",
riva_asr.proto), so interleaved 16-bit PCM of several channels is mixed down to mono here."""

from __future__ import annotations

import numpy as np


class MonoMixer:
    """Interleaved little-endian 16-bit PCM of `channels` channels -> mono (their mean), one frame at a time; a
    sample frame split across two binary messages is kept until its rest arrives."""

    def __init__(self, channels: int):
        self.channels, self.rest = channels, b""

    def __call__(self, data: bytes) -> bytes:
        if self.channels == 1:
            return data
        data = self.rest + data
        cut = len(data) - len(data) % (2 * self.channels)
        self.rest = data[cut:]
        frames = np.frombuffer(data[:cut], "<i2").reshape(-1, self.channels)
        return np.rint(frames.mean(axis=1)).astype("<i2").tobytes()
