"""riva-lite's NIM face: `rivalite nim` serves riva-lite as a Riva ASR NIM container does.

    profiles.py     model_manifest.yaml, NIM_TAGS_SELECTOR / NIM_MODEL_PROFILE, `list-model-profiles`
    cache.py        NIM_CACHE_PATH: the profile's model repository, deployed on the first start, reused after
    http_api.py     NIM's HTTP API on NIM_HTTP_API_PORT (health, metrics, models, /v1/audio/transcriptions)
    realtime.py     the realtime transcription WebSocket (POST /v1/realtime/transcription_sessions, /v1/realtime)
    main.py         `rivalite nim`: the above, tritonserver and riva-lite's gRPC API (rivalite.launcher)

The HTTP and WebSocket APIs are clients of riva-lite's own gRPC API (as NIM's HTTP server is of riva_server), so
everything is answered by the same servicer over the same real tritonserver. NIM's facts and their sources:
docs/riva-behaviour.md; how to run it: docs/riva-lite.md.
"""

from __future__ import annotations

import os
from pathlib import Path

from rivalite.errors import RivaLiteError

HTTP_PORT_ENV, DEFAULT_HTTP_PORT = "NIM_HTTP_API_PORT", 9000
GRPC_PORT_ENV, DEFAULT_GRPC_PORT = "NIM_GRPC_API_PORT", 50051
SELECTOR_ENV, PROFILE_ENV = "NIM_TAGS_SELECTOR", "NIM_MODEL_PROFILE"
CACHE_ENV, IMAGE_CACHE = "NIM_CACHE_PATH", "/opt/nim/.cache"
MANIFEST_ENV, IMAGE_MANIFEST = "NIM_MANIFEST_PATH", "/opt/nim/etc/default/model_manifest.yaml"
KEY_ENV = "NGC_API_KEY"
# The Speech NIM release this face imitates (usage fields, str-thr/vad/diarizer tags): its image carries it as the
# org.opencontainers.image.version label, and its log names it.
NIM_RELEASE = "26.10.0"


class NimError(RivaLiteError):
    """A start NIM refuses: the message is what NIM says, then what to do."""


def port_from_env(name: str, default: int) -> int:
    text = os.environ.get(name) or str(default)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise NimError(f"{name}={text!r} is not a port: set it to a number from 1 to 65535 (default {default})")
    return int(text)


def default_manifest() -> Path:
    """$NIM_MANIFEST_PATH, else NIM's place in the image, else the manifest shipped with riva-lite."""
    if os.environ.get(MANIFEST_ENV):
        return Path(os.environ[MANIFEST_ENV])
    if Path(IMAGE_MANIFEST).is_file():
        return Path(IMAGE_MANIFEST)
    return Path(__file__).with_name("model_manifest.yaml")
