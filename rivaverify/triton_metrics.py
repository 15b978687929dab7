"""Triton's Prometheus metrics (its metrics port, /metrics): per-model counters scraped before and after a phase,
their deltas, the figures a phase records and the warnings it gets. Metrics never fail a phase: they record and
warn. Names: Triton's docs/user_guide/metrics.md."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rivaverify.gateway.metrics import parse_metrics
from rivaverify.settings import Settings

# Per-model counters (summed over versions and, for failures, over `reason`), by the short names kept here.
COUNTERS = {
    "success": "nv_inference_request_success",
    "failure": "nv_inference_request_failure",
    "inferences": "nv_inference_count",
    "executions": "nv_inference_exec_count",
    "queue_us": "nv_inference_queue_duration_us",
    "compute_us": "nv_inference_compute_infer_duration_us",
}
# Per-GPU gauges, served only where there is a GPU: Triton's (label gpu_uuid) and a NIM's /v1/metrics names
# (docs.nvidia.com/nim/riva/asr/latest/observability.html: gpu_memory_used_bytes, gpu_utilization 0.0-1.0).
GAUGES = {"gpu_memory_used_bytes": ("nv_gpu_memory_used_bytes", "gpu_memory_used_bytes"),
          "gpu_utilization": ("nv_gpu_utilization", "gpu_utilization")}
# Phases that send bad input on purpose: failures may grow there.
BAD_INPUT_PHASES = frozenset({"060"})
# Phases whose tests send ASR requests to the deployment (040: one inference; 070: through the gateway).
INFERENCE_PHASES = frozenset({"040", "050", "060", "070", "080"})
TIMEOUT_S = 5.0
SETTLE_S = 5.0  # how long a count may lag the answers it counts (see counted)


@dataclass
class Scrape:
    url: str
    models: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> counter -> value
    gpus: dict[str, dict[str, float]] = field(default_factory=dict)  # gpu_uuid -> gauge -> value
    error: str = ""  # why the scrape failed; "" when it worked


def metrics_url(settings: Settings) -> str:
    """Where the deployment's metrics are: the target's answer (rivaverify/targets)."""
    from rivaverify import targets

    return targets.get(settings).metrics_url()


def parse(text: str, url: str = "") -> Scrape:
    samples = parse_metrics(text)
    out = Scrape(url)
    for short, name in COUNTERS.items():
        for labels, value in samples.get(name, []):
            model = out.models.setdefault(labels.get("model", ""), {k: 0.0 for k in COUNTERS})
            model[short] += value
    for short, names in GAUGES.items():
        for name in names:
            for labels, value in samples.get(name, []):
                gpu = labels.get("gpu_uuid") or ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
                out.gpus.setdefault(gpu, {})[short] = value
    return out


def scrape(url: str, timeout: float = TIMEOUT_S) -> Scrape:
    """One GET of `url`; a failure is returned as Scrape.error (the reason), never raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return parse(resp.read().decode("utf-8", "replace"), url)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return Scrape(url, error=f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")


@dataclass
class Delta:
    models: dict[str, dict[str, float]]  # model -> counter -> growth during the phase
    gpus: dict[str, dict[str, float]]  # the gauges after the phase
    restarted: list[str]  # "model counter: before -> after" for each counter that went down
    since_start: bool  # no scrape before: the counts are since Triton started


def delta(before: Scrape | None, after: Scrape) -> Delta:
    """after - before per model counter. A counter that went down means Triton restarted (its counters start at
    0 again): that model's growth is then its value after, and the restart is listed."""
    start = before if before is not None and not before.error else None
    models, restarted = {}, []
    for model, counters in after.models.items():
        old = (start.models if start else {}).get(model, {})
        grew = {}
        down = [k for k, v in counters.items() if v < old.get(k, 0.0)]
        for k, v in counters.items():
            grew[k] = v if down else v - old.get(k, 0.0)
        restarted += [f"{model} {k}: {old[k]:g} -> {counters[k]:g}" for k in down]
        models[model] = grew
    return Delta(models, after.gpus, restarted, start is None)


def most_successes(d: Delta) -> float | None:
    """The largest growth of one model's successful requests: what a phase's requests reached Triton as (each Riva
    RPC is one or more requests to its root model, more to the models under it); None when no model is counted."""
    return max((c["success"] for c in d.models.values()), default=None)


def counted(url: str, before: Scrape, want: float, timeout_s: float = SETTLE_S,
            sleeper: Callable[[float], None] = time.sleep) -> tuple[Scrape, Delta]:
    """Scrape until one model's successes grew by `want` since `before`, or the deadline: the last scrape and its
    delta. Triton counts a request when its model reports statistics, after the response went out, so a scrape
    right after the answer can miss the last request; a restart or a failed scrape ends the wait."""
    deadline = time.monotonic() + timeout_s
    while True:
        after = scrape(url)
        d = delta(before, after)
        if after.error or d.restarted or (most_successes(d) or 0) >= want or time.monotonic() >= deadline:
            return after, d
        sleeper(0.1)


def _per_request(us: float, requests: float) -> float | None:
    return round(us / requests, 1) if requests else None


def figures(d: Delta) -> dict[str, dict[str, Any]]:
    """key -> {value, unit, per_model | per_gpu}: successes and failures, queue and compute us per successful
    request, GPU memory and utilization when served. Only models with requests in the phase are listed."""
    active = {m: c for m, c in sorted(d.models.items()) if c["success"] or c["failure"]}
    total = {k: sum(c[k] for c in active.values()) for k in COUNTERS}
    out: dict[str, dict[str, Any]] = {
        "triton.success": {"value": total["success"], "unit": "requests",
                           "per_model": {m: c["success"] for m, c in active.items()}},
        "triton.failure": {"value": total["failure"], "unit": "requests",
                           "per_model": {m: c["failure"] for m, c in active.items()}},
    }
    for short in ("queue_us", "compute_us"):
        out[f"triton.{short}_per_request"] = {
            "value": _per_request(total[short], total["success"]), "unit": "us",
            "per_model": {m: _per_request(c[short], c["success"]) for m, c in active.items()}}
    for short in GAUGES:
        per_gpu = {g: v[short] for g, v in sorted(d.gpus.items()) if short in v}
        if per_gpu:
            out[f"triton.{short}"] = {"value": max(per_gpu.values()), "unit": "bytes" if "bytes" in short else "",
                                      "per_gpu": per_gpu}
    if d.since_start:
        for item in out.values():
            item["since"] = "Triton started (no scrape before the phase)"
    return out


def warnings(d: Delta, phase_order: str, passed: bool) -> list[str]:
    """What a phase that passed should not have done to Triton: failed requests (unless it sends bad input on
    purpose) and a restart. Warnings only; a failed phase has its own failure."""
    out = []
    if d.restarted:
        out.append("Triton restarted during the phase (counters went down: " + "; ".join(d.restarted) +
                   "): read the server log for the crash or the restart")
    if passed and phase_order in INFERENCE_PHASES and d.models and not d.restarted and not most_successes(d):
        out.append("Triton counted no successful inference request during the phase though the phase sent ASR "
                   "requests: these metrics are not the deployment's Triton (RIVA__METRICS_URL)")
    failed = {m: c["failure"] for m, c in sorted(d.models.items()) if c["failure"] > 0}
    if passed and failed and phase_order not in BAD_INPUT_PHASES:
        listed = ", ".join(f"{m} {n:g}" for m, n in failed.items())
        out.append(f"Triton's request failures grew during the phase though its tests passed ({listed}; expected "
                   "0): read the server log, and nv_inference_request_failure's reason label on the metrics port")
    return out
