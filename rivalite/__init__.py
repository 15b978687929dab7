"""riva-lite: a CPU Riva-compatible ASR target (real tritonserver + Whisper, Riva's gRPC API).

    rivalite.pack(out_dir, model=None) -> Path            the deployable archive (<name>-deployable_v<N>.tar.gz)
    rivalite.deploy(artifact, out_dir, layout=None) -> Path   the Triton model repository (out_dir/models)

`deploy` lays the repository out as `riva-deploy` does: Riva 2.17+ by default (a Python BLS model per ASR
pipeline over its acoustic model), Riva <= 2.16 with layout="2.16" (an ensemble over feature extractor, acoustic
model, endpointing and decoder). The names below are the default artifact's models in the default layout; the
pipelines are named as riva-build names them (`<name>-asr-streaming`, `<name>-asr-offline`), as NVIDIA's own
Whisper pipeline is (`whisper-large-v3-multi-asr-offline-asr-bls-ensemble`). The weights stay Whisper's: the
artifact's manifest and the models' `model_family` parameter say so.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from rivalite.errors import RivaLiteError

if TYPE_CHECKING:
    from pathlib import Path

LANGUAGE_CODE = "en-US"
SAMPLE_RATE = 16000
DEFAULT_NAME = "whisper-tiny-en-US"  # the artifact; its pipelines are <name>-asr-streaming / -asr-offline
LAYOUTS = ("2.17", "2.16")  # Riva 2.17+ (BLS) and Riva <= 2.16 (ensemble)
DEFAULT_LAYOUT = "2.17"
LAYOUT_ENV = "RIVALITE_LAYOUT"


def layout_of(layout: str | None = None) -> str:
    """`layout`, else $RIVALITE_LAYOUT, else 2.17; a clear error for anything else."""
    value = layout or os.environ.get(LAYOUT_ENV) or DEFAULT_LAYOUT
    if value not in LAYOUTS:
        raise RivaLiteError(
            f"repository layout {value!r} is unknown (from {'the layout option' if layout else LAYOUT_ENV}): "
            f"use {' or '.join(LAYOUTS)} (2.17: Riva 2.17+ BLS models, 2.16: Riva <= 2.16 ensembles)"
        )
    return value


def model_names(name: str = DEFAULT_NAME, layout: str = DEFAULT_LAYOUT) -> dict[str, str]:
    """The model names `deploy` writes for an artifact called `name`, by role."""
    streaming, offline = f"{name}-asr-streaming", f"{name}-asr-offline"
    punctuation = {
        "punctuation": f"riva-punctuation-{LANGUAGE_CODE}",  # ensemble over the nn model
        "punctuation_nn": f"riva-trt-riva-punctuation-{LANGUAGE_CODE}-nn-bert-base-uncased",
    }
    if layout == "2.17":
        return {
            "streaming": f"{streaming}-asr-bls-ensemble",  # Python BLS, type online (StreamingRecognize)
            "offline": f"{offline}-asr-bls-ensemble",  # Python BLS, type offline (Recognize)
            "acoustic_model": f"riva-trt-{streaming}-am-streaming",  # Whisper, sequence batched
            "offline_acoustic_model": f"riva-trt-{offline}-am-streaming-offline",
            **punctuation,
        }
    if layout == "2.16":
        names = {"streaming": streaming, "offline": offline}  # the ensembles clients ask for
        for prefix, base, tail in (("", streaming, "streaming"), ("offline_", offline, "streaming-offline")):
            names[f"{prefix}feature_extractor"] = f"{base}-feature-extractor-{tail}"  # resample to 16 kHz
            names[f"{prefix}acoustic_model"] = f"riva-trt-{base}-am-{tail}"  # Whisper
            names[f"{prefix}endpointing"] = f"{base}-endpointing-{tail}"  # pass-through (VAD is the servicer's)
            names[f"{prefix}decoder"] = f"{base}-ctc-decoder-cpu-{tail}"  # checks Whisper's decoded JSON
        return {**names, **punctuation}
    raise RivaLiteError(f"repository layout {layout!r} is unknown: use {' or '.join(LAYOUTS)}")


_NAMES = model_names()
ASR_OFFLINE = _NAMES["offline"]
ASR_STREAMING = _NAMES["streaming"]
ACOUSTIC_MODEL = _NAMES["acoustic_model"]  # the streaming pipeline's
MODELS = tuple(_NAMES.values())
ASR_MODELS = (ASR_OFFLINE, ASR_STREAMING)


def pack(out_dir, model=None, **kwargs) -> Path:
    from rivalite.artifact import pack as _pack

    return _pack(out_dir, model, **kwargs)


def deploy(artifact, out_dir, **kwargs) -> Path:
    from rivalite.artifact import deploy as _deploy

    return _deploy(artifact, out_dir, **kwargs)


__all__ = [
    "ACOUSTIC_MODEL",
    "ASR_MODELS",
    "ASR_OFFLINE",
    "ASR_STREAMING",
    "DEFAULT_LAYOUT",
    "DEFAULT_NAME",
    "LANGUAGE_CODE",
    "LAYOUTS",
    "LAYOUT_ENV",
    "MODELS",
    "SAMPLE_RATE",
    "RivaLiteError",
    "deploy",
    "layout_of",
    "model_names",
    "pack",
]
