"""Audio as Riva receives it, decoded to mono float32 at its own rate (the Triton step resamples).

A WAV, FLAC or Ogg header at the start of the audio wins over the request's config, as in Riva (NVIDIA's
clients send whole files, header included). Headerless audio uses the config: LINEAR_PCM (16-bit little
endian), MULAW or ALAW at `sample_rate_hertz`, `audio_channel_count` interleaved channels.
"""

from __future__ import annotations

import io
import struct

import numpy as np

# riva_audio_pb2.AudioEncoding values
ENCODING_UNSPECIFIED, LINEAR_PCM, FLAC, MULAW, OGGOPUS, ALAW = 0, 1, 2, 3, 4, 20
ENCODING_NAMES = {0: "ENCODING_UNSPECIFIED", 1: "LINEAR_PCM", 2: "FLAC", 3: "MULAW", 4: "OGGOPUS", 20: "ALAW"}
MIN_RATE, MAX_RATE = 8000, 192000
MAX_CHANNELS = 32
WAV_MAGIC, CONTAINER_MAGIC = (b"RIFF", b"RF64"), (b"fLaC", b"OggS")  # a file's first 4 bytes: header wins


def has_header(data: bytes) -> bool:
    """Whether the audio starts with a header riva-lite reads (WAV, FLAC, Ogg)."""
    return data[:4] in WAV_MAGIC + CONTAINER_MAGIC


class AudioError(ValueError):
    """Audio the server cannot use; the message says what was wrong and what to send instead."""


class NoRate(AudioError):
    """Raw audio with sample_rate_hertz 0: Riva finds no model for a rate of 0 ("Unavailable model")."""


def _g711_tables() -> tuple[np.ndarray, np.ndarray]:
    b = np.arange(256, dtype=np.int32)
    u = ~b & 0xFF
    exp, man = (u >> 4) & 7, u & 0x0F
    mag = (((man << 3) + 0x84) << exp) - 0x84
    mulaw = np.where(u & 0x80, -mag, mag)
    a = b ^ 0x55
    exp, man = (a >> 4) & 7, a & 0x0F
    mag = np.where(exp == 0, (man << 4) + 8, ((man << 4) + 0x108) << np.maximum(exp - 1, 0))
    alaw = np.where(a & 0x80, mag, -mag)
    return (mulaw / 32768.0).astype(np.float32), (alaw / 32768.0).astype(np.float32)


MULAW_TABLE, ALAW_TABLE = _g711_tables()

# sample kind -> (bytes per sample, decode(bytes) -> float32)
_RAW = {
    "u8": (1, lambda b: (np.frombuffer(b, np.uint8).astype(np.float32) - 128) / 128),
    "s16": (2, lambda b: np.frombuffer(b, "<i2").astype(np.float32) / 32768),
    "s24": (3, lambda b: _s24(b)),
    "s32": (4, lambda b: np.frombuffer(b, "<i4").astype(np.float32) / 2147483648),
    "f32": (4, lambda b: np.frombuffer(b, "<f4").astype(np.float32)),
    "f64": (8, lambda b: np.frombuffer(b, "<f8").astype(np.float32)),
    "mulaw": (1, lambda b: MULAW_TABLE[np.frombuffer(b, np.uint8)]),
    "alaw": (1, lambda b: ALAW_TABLE[np.frombuffer(b, np.uint8)]),
}


def _s24(b: bytes) -> np.ndarray:
    x = np.frombuffer(b, np.uint8).reshape(-1, 3).astype(np.int32)
    v = x[:, 0] | (x[:, 1] << 8) | (x[:, 2] << 16)
    return (np.where(v & 0x800000, v - 0x1000000, v) / 8388608).astype(np.float32)


def _wav_kind(tag: int, bits: int) -> str:
    kinds = {
        (1, 8): "u8",
        (1, 16): "s16",
        (1, 24): "s24",
        (1, 32): "s32",
        (3, 32): "f32",
        (3, 64): "f64",
        (6, 8): "alaw",
        (7, 8): "mulaw",
    }
    if (tag, bits) not in kinds:
        raise AudioError(
            f"unsupported WAV format (format tag {tag}, {bits} bits): send 16-bit PCM, "
            "float, mu-law or A-law WAV, FLAC or Ogg Opus"
        )
    return kinds[(tag, bits)]


def parse_wav_header(data: bytes) -> tuple[dict, int] | None:
    """(format, offset of the samples) once the header through the `data` chunk is in `data`, else None."""
    if len(data) < 12:
        return None
    if data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise AudioError("audio starts with RIFF but is not a WAVE file")
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if cid == b"data":
            if fmt is None:
                raise AudioError("WAV header has no fmt chunk before its data chunk")
            fmt["data_bytes"] = None if size in (0, 0xFFFFFFFF) else size
            return fmt, body
        if body + size > len(data):
            return None
        if cid == b"fmt ":
            if size < 16:
                raise AudioError("WAV fmt chunk is too short")
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
            if tag == 0xFFFE and size >= 26:  # WAVE_FORMAT_EXTENSIBLE: the subformat GUID starts with the tag
                tag = struct.unpack("<H", data[body + 24 : body + 26])[0]
            fmt = {"kind": _wav_kind(tag, bits), "rate": rate, "channels": channels}
        pos = body + size + (size & 1)
    return None


class StreamDecoder:
    """Feed audio bytes as they arrive; `samples()` is everything decoded so far (mono float32)."""

    def __init__(self, encoding: int = ENCODING_UNSPECIFIED, sample_rate: int = 0, channels: int = 0):
        if encoding not in ENCODING_NAMES:
            raise AudioError(
                f"unknown audio encoding {encoding}: use one of "
                f"{', '.join(n for n in ENCODING_NAMES.values() if n != 'ENCODING_UNSPECIFIED')}"
            )
        self.encoding, self.config_rate, self.config_channels = encoding, sample_rate, channels or 1
        self.rate = 0
        self._head = b""  # bytes before the format is known
        self._kind = None  # raw sample kind, or "container"
        self._channels = 1
        self._left = None  # raw bytes still expected (WAV data size), None: unbounded
        self._rest = b""  # partial frame carried to the next chunk
        self._parts: list[np.ndarray] = []
        self._container = bytearray()
        self._decoded = np.zeros(0, np.float32)
        self._dirty = False
        self.total_bytes = 0

    @property
    def is_container(self) -> bool:
        return self._kind == "container"

    # -- format -------------------------------------------------------------------------------------
    def _sniff(self, final: bool) -> bool:
        head = self._head
        if len(head) < 12 and not final:
            return False
        if head[:4] in WAV_MAGIC:
            parsed = parse_wav_header(head)
            if parsed is None:
                if final:
                    raise AudioError("WAV header is truncated: send the whole file, header included")
                return False
            fmt, offset = parsed
            self._start_raw(fmt["kind"], fmt["rate"], fmt["channels"], "WAV header")
            self._left = fmt["data_bytes"]
            self._head = b""
            self._feed_raw(head[offset:])
            return True
        if head[:4] in CONTAINER_MAGIC:
            self._kind, self._head = "container", b""
            self._container += head
            self._dirty = True
            return True
        if self.encoding in (FLAC, OGGOPUS):
            name = ENCODING_NAMES[self.encoding]
            raise AudioError(
                f"audio declared {name} does not start with a {'fLaC' if self.encoding == FLAC else 'OggS'}"
                " header: send the whole file, or set the encoding the audio really has"
            )
        kind = {MULAW: "mulaw", ALAW: "alaw"}.get(self.encoding, "s16")
        self._start_raw(kind, self.config_rate, self.config_channels, "config")
        self._head = b""
        self._feed_raw(head)
        return True

    def _start_raw(self, kind: str, rate: int, channels: int, source: str) -> None:
        if rate == 0 and source == "config":
            raise NoRate("sample rate 0 Hz (from the config) and no header: set sample_rate_hertz")
        if not MIN_RATE <= rate <= MAX_RATE:
            hint = (
                "set sample_rate_hertz in the RecognitionConfig"
                if rate == 0
                else f"use a rate between {MIN_RATE} and {MAX_RATE} Hz"
            )
            raise AudioError(f"sample rate {rate} Hz (from the {source}) is not supported: {hint}")
        if not 1 <= channels <= MAX_CHANNELS:
            raise AudioError(
                f"audio_channel_count {channels} (from the {source}) must be 1 to {MAX_CHANNELS}"
            )
        self._kind, self.rate, self._channels = kind, rate, channels

    # -- data ---------------------------------------------------------------------------------------
    def _feed_raw(self, data: bytes) -> None:
        if self._left is not None:
            data = data[: self._left]  # bytes after the WAV data chunk are metadata, not audio
            self._left -= len(data)
        data = self._rest + data
        width = _RAW[self._kind][0] * self._channels
        cut = len(data) - len(data) % width
        self._rest = data[cut:]
        if cut:
            x = _RAW[self._kind][1](data[:cut])
            if self._channels > 1:
                x = x.reshape(-1, self._channels).mean(axis=1, dtype=np.float32)
            self._parts.append(x)

    def feed(self, data: bytes) -> None:
        self.total_bytes += len(data)
        if self._kind is None:
            self._head += data
            self._sniff(final=False)
        elif self._kind == "container":
            self._container += data
            self._dirty = self._dirty or bool(data)
        else:
            self._feed_raw(data)

    def finish(self) -> np.ndarray:
        """All audio, strictly decoded; raises AudioError for what cannot be used."""
        if self._kind is None and self._head:
            self._sniff(final=True)
        if self._kind == "container":
            self._decode_container(strict=True)
        elif self._rest:
            width = _RAW[self._kind][0] * self._channels
            raise AudioError(
                f"audio ends in a partial frame ({len(self._rest)} bytes; a frame is {width} bytes "
                f"of {self._kind} x {self._channels} channel(s)): send whole samples"
            )
        return self.samples()

    def samples(self) -> np.ndarray:
        if self._kind == "container":
            if self._dirty:
                self._decode_container(strict=False)
            return self._decoded
        if len(self._parts) > 1:
            self._parts = [np.concatenate(self._parts)]
        return self._parts[0] if self._parts else np.zeros(0, np.float32)

    def _decode_container(self, strict: bool) -> None:
        import av

        frames = []
        try:
            with av.open(io.BytesIO(bytes(self._container)), mode="r") as box:
                stream = box.streams.audio[0]
                rate = stream.codec_context.sample_rate or stream.rate
                resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
                try:
                    for frame in box.decode(stream):
                        frames += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
                except av.error.FFmpegError:
                    if strict:
                        raise
                frames += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
        except (av.error.FFmpegError, IndexError, ValueError) as e:
            if strict:
                raise AudioError(
                    f"cannot decode the FLAC/Ogg audio ({type(e).__name__}: {e}): send a valid "
                    "file, or LINEAR_PCM"
                ) from None
            return  # a stream cut mid-frame: decode again when more bytes arrive
        if frames:
            if not MIN_RATE <= rate <= MAX_RATE:
                raise AudioError(f"sample rate {rate} Hz of the FLAC/Ogg audio is not supported")
            self.rate = rate
            self._decoded = np.concatenate(frames).astype(np.float32, copy=False)
        self._dirty = False


def decode(
    data: bytes, encoding: int = ENCODING_UNSPECIFIED, sample_rate: int = 0, channels: int = 0
) -> tuple[np.ndarray, int]:
    """Whole audio -> (mono float32 samples, rate)."""
    if not data:
        raise AudioError("audio is empty: send audio bytes in RecognizeRequest.audio")
    dec = StreamDecoder(encoding, sample_rate, channels)
    dec.feed(data)
    samples = dec.finish()
    return samples, dec.rate
