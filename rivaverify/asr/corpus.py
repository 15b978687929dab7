"""The corpus: a NeMo-style JSON-lines manifest (audio_filepath, text, duration, optional lang)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Utterance:
    path: Path
    text: str
    duration: float
    lang: str | None = None
    encoding: str | None = None  # e.g. MULAW, FLAC, OGG_OPUS; None: by the file's extension

    @property
    def id(self) -> str:
        return self.path.name


class ManifestError(ValueError):
    """A manifest problem, naming the file and line."""


def load(manifest: Path | str) -> list[Utterance]:
    """Every utterance of a manifest; relative audio paths are taken from the manifest's folder."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise ManifestError(f"corpus manifest {manifest} not found: set RIVA__CORPUS (or --corpus) to a "
                            "JSON-lines manifest with audio_filepath, text, duration")
    out = []
    for n, line in enumerate(manifest.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            path = Path(row["audio_filepath"])
            utt = Utterance(path if path.is_absolute() else manifest.parent / path, str(row["text"]),
                            float(row["duration"]), row.get("lang"), row.get("encoding"))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{manifest}:{n}: not a manifest line ({exc}); each line is a JSON object with "
                                "audio_filepath, text and duration") from None
        if not utt.path.is_file():
            raise ManifestError(f"{manifest}:{n}: audio file {utt.path} not found")
        out.append(utt)
    if not out:
        raise ManifestError(f"corpus manifest {manifest} holds no utterance")
    return out
