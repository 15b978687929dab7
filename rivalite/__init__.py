"""riva-lite: a CPU Riva-compatible ASR target (real tritonserver + Whisper, Riva's gRPC API).

    rivalite.pack(out_dir, model=None) -> Path     the deployable archive (<name>-deployable_v<N>.tar.gz)
    rivalite.deploy(artifact, out_dir) -> Path     the Triton model repository (out_dir/models)

The names below are the models `deploy` writes for the default artifact: two ASR ensembles (what Riva
clients ask for) whose steps are two real models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rivalite.errors import RivaLiteError

if TYPE_CHECKING:
    from pathlib import Path

LANGUAGE_CODE = "en-US"
SAMPLE_RATE = 16000
DEFAULT_NAME = "whisper-tiny-en-US"


def model_names(name: str = DEFAULT_NAME) -> dict[str, str]:
    """The model names `deploy` writes for an artifact called `name`."""
    return {
        "offline": f"{name}-asr-offline",  # ensemble, type offline (Recognize)
        "streaming": f"{name}-asr-streaming",  # ensemble, type online (StreamingRecognize)
        "feature_extractor": f"{name}-feature-extractor",  # step 1: resample to 16 kHz
        "acoustic_model": f"riva-ct2-{name}-am",  # step 2: Whisper (CTranslate2)
    }


_NAMES = model_names()
ASR_OFFLINE = _NAMES["offline"]
ASR_STREAMING = _NAMES["streaming"]
FEATURE_EXTRACTOR = _NAMES["feature_extractor"]
ACOUSTIC_MODEL = _NAMES["acoustic_model"]
MODELS = (ASR_OFFLINE, ASR_STREAMING, FEATURE_EXTRACTOR, ACOUSTIC_MODEL)
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
    "DEFAULT_NAME",
    "FEATURE_EXTRACTOR",
    "LANGUAGE_CODE",
    "MODELS",
    "SAMPLE_RATE",
    "RivaLiteError",
    "deploy",
    "model_names",
    "pack",
]
