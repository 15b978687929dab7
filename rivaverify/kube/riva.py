"""What a container is to Riva (classic API, a NIM, tritonserver started directly), its probes' startup budget and
the cold start it must cover. Figures and their sources: docs/riva-behaviour.md, "Kubernetes"."""

from __future__ import annotations

import re
from typing import Any

CLASSIC_LOAD_S = 130  # riva-api chart's own startup budget, 10 + 12 x 10 s: engines built before, by riva-model-init
CLASSIC_BUILD_S = 3600  # engines built in the API container itself: "could take an hour or more" (NVIDIA's tutorial)
NIM_CACHED_S = 330  # NIM Operator's startup default before v3.0.0, 30 + 30 x 10 s: the cache filled by a NIMCache
NIM_COLD_S = 1230  # its default since v3.0.0, 30 + 120 x 10 s, "whenever they are not pre-cached"
BUILDERS = ("download_and_deploy_ngc_models", "riva-deploy", "riva_init", "riva-build")
AUDIO_CLIENTS = ("riva_streaming_asr_client", "riva_asr_client", "transcribe_file", "rivaverify serve",
                 "/v1/audio/transcriptions")
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
GPU = "nvidia.com/gpu"


def argv(c: dict[str, Any]) -> str:
    return " ".join(str(a) for a in (c.get("command") or []) + (c.get("args") or []))


def flavor(c: dict[str, Any]) -> str | None:
    """'nim', 'classic' (start-riva), 'triton' (tritonserver started directly), 'remote' (Riva's API with Triton in
    other pods: the chart's useSeparateTriton, `--triton_uri`) or None (not Riva's server)."""
    image, line = str(c.get("image", "")), argv(c)
    if "/nim/" in image:
        return "nim"
    if "--triton_uri" in line:
        return "remote"
    if "tritonserver" in line and "start-riva" not in line:
        return "triton"
    if "start-riva" in line or ("riva-speech" in image and "servicemaker" not in image and not line):
        return "classic"
    return None


def probe_budget(p: dict[str, Any] | None) -> int | None:
    """initialDelaySeconds + failureThreshold x periodSeconds, with Kubernetes' defaults (0, 3, 10)."""
    if not p:
        return None
    return int(p.get("initialDelaySeconds", 0)) + int(p.get("failureThreshold", 3)) * int(p.get("periodSeconds", 10))


def start_budget(c: dict[str, Any]) -> tuple[str | None, int | None]:
    """The probe that can restart a starting container (startup, else liveness) and its budget; (None, None): none
    can, the start may take as long as it takes."""
    for name in ("startupProbe", "livenessProbe"):
        if c.get(name):
            return name, probe_budget(c[name])
    return None, None


def budget_text(p: dict[str, Any]) -> str:
    d, t, s = p.get("initialDelaySeconds", 0), p.get("failureThreshold", 3), p.get("periodSeconds", 10)
    return f"{d} + {t} x {s} = {probe_budget(p)} s"


def probe_text(p: dict[str, Any] | None) -> str:
    if not p:
        return "none"
    if "exec" in p:
        return "exec " + " ".join(map(str, p["exec"].get("command") or []))
    if "httpGet" in p:
        return f"httpGet {p['httpGet'].get('path', '/')}"
    if "grpc" in p:
        return f"grpc port {p['grpc'].get('port')}"
    return "tcpSocket" if "tcpSocket" in p else "?"


def has_gpu(resources: dict[str, Any] | None) -> bool:
    limits = (resources or {}).get("limits") or {}
    try:
        return float(str(limits.get(GPU, 0))) >= 1
    except ValueError:
        return False


def env_value(c: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((e for e in c.get("env") or [] if e.get("name") == name), None)
