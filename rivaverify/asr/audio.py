"""Audio files as the bytes Riva takes: 16-bit PCM for LINEAR_PCM, the file's own bytes otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf


@dataclass(frozen=True)
class Audio:
    path: Path
    pcm: bytes  # interleaved little-endian int16
    rate: int
    channels: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.channels / self.rate

    def chunk_bytes(self, chunk_ms: float) -> int:
        return max(1, int(self.rate * chunk_ms / 1000)) * 2 * self.channels

    def chunks(self, chunk_ms: float) -> list[bytes]:
        """The PCM cut into chunks of `chunk_ms` of audio (the last may be shorter)."""
        size = self.chunk_bytes(chunk_ms)
        return [self.pcm[i:i + size] for i in range(0, len(self.pcm), size)]

    def chunk_count(self, chunk_ms: float) -> int:
        """len(self.chunks(chunk_ms)), without cutting the audio."""
        return -(-len(self.pcm) // self.chunk_bytes(chunk_ms))


def load_pcm16(path: Path | str) -> Audio:
    """Decode any format soundfile reads (WAV, FLAC, OGG, ...) to int16 PCM at the file's own rate."""
    path = Path(path)
    try:
        data, rate = sf.read(str(path), dtype="int16", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise ValueError(f"{path}: cannot decode audio ({exc})") from None
    return Audio(path, np.ascontiguousarray(data).tobytes(), int(rate), int(data.shape[1]))
