"""A run's summary from its reports/<name>.json data: the verdict, what was verified, the key figures each beside
its bound (the profile's threshold) and its verdict. Which figures are key: rivaverify/report/figures.py."""

from __future__ import annotations

import fnmatch
from datetime import datetime
from typing import Any

from rivaverify.report.figures import KEY_FIGURES

# what was verified
WHAT = ("target", "flavor", "release", "profile", "image", "digest", "model", "host", "when", "took")
EXIT_WORDS = {0: "passed", 2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests ran"}


def key_figures(phases: list[dict[str, Any]], bounds: dict[str, float]) -> list[dict[str, Any]]:
    """The run's key figures (numeric ones its phases recorded), each with its bound and verdict: ok, over or
    under the bound, '' without one, 'phase failed' when taken in a phase that failed (a deployment that never
    got ready has a short, meaningless readiness time)."""
    out = []
    for spec in KEY_FIGURES:
        for p in phases:
            if spec.phase not in ("*", p["phase"]):
                continue
            for key, fig in p.get("figures", {}).items():
                value = fig.get("value")
                if not fnmatch.fnmatchcase(key, spec.pattern) or not isinstance(value, int | float):
                    continue
                star = _star(spec.pattern, key)
                bound = bounds.get(spec.bound) if spec.bound else None
                out.append({
                    "id": f"{p['phase']} {key}", "phase": p["phase"], "key": key,
                    "label": spec.label.format(star=star.replace("_", " "), phase=f"{p['phase']} {p['name']}"),
                    "value": value, "unit": fig.get("unit", ""), "bound": bound, "bound_name": spec.bound,
                    "higher_is_better": spec.higher_is_better, "percent": spec.percent,
                    "verdict": "phase failed" if p["status"] == "failed" else within(value, bound,
                                                                                      spec.higher_is_better),
                })
    return out


def _star(pattern: str, key: str) -> str:
    if "*" not in pattern:
        return ""
    head, tail = pattern.split("*", 1)
    return key[len(head):len(key) - len(tail)]


def within(value: float, bound: float | None, higher_is_better: bool) -> str:
    """'ok', 'over' or 'under' (the bound), or '' when the figure has no bound."""
    if bound is None:
        return ""
    if higher_is_better:
        return "ok" if value >= bound else "under"
    return "ok" if value <= bound else "over"


def verdict(exit_status: int, phases: list[dict[str, Any]]) -> dict[str, Any]:
    """passed or failed; for a failure, the first failed phase, its first message and its next steps."""
    failed = [p for p in phases if p["status"] == "failed"]
    out: dict[str, Any] = {"status": "passed" if exit_status == 0 else "failed",
                           "exit": EXIT_WORDS.get(exit_status, "tests failed"),
                           "not_run": [f"{p['phase']} {p['name']}" for p in phases if p["status"] == "not_run"]}
    if failed:
        first = failed[0]
        message = first["failures"][0]["message"] if first.get("failures") else ""
        out.update(status="failed", phase=f"{first['phase']} {first['name']}", message=message,
                   test=first["failures"][0]["nodeid"] if first.get("failures") else "",
                   next_steps=first.get("next_steps", []))
    return out


def seconds_between(start: str, end: str) -> float | None:
    try:
        return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 1)
    except (TypeError, ValueError):
        return None


def fmt(value: float | None, unit: str = "", percent: bool = False) -> str:
    """A figure as a person reads it: 0.052 WER -> 5.2 %, 2.1e9 bytes -> 1.96 GiB, 353.21 ms -> 353 ms."""
    if value is None:
        return "—"
    if percent:
        return f"{value * 100:.1f} %"
    if unit == "bytes":
        return f"{value / 2**30:.2f} GiB"
    if unit == "x":
        return f"{value:.3g}x"
    text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def image_digest(image: str) -> str:
    """The image's digest on the Docker engine (sha256:… from its repository, else its id), or why not."""
    from rivaverify.runtime import docker_engine

    try:
        found = docker_engine.client().images.get(image)
    except Exception as exc:  # no engine, image gone: the summary says so instead
        return f"unknown ({type(exc).__name__})"
    digests = found.attrs.get("RepoDigests") or []
    return digests[0].rpartition("@")[2] if digests else str(found.id)


def flavor(settings: dict[str, Any], image: str | None, kind: str | None) -> str:
    """classic or nim: RIVA__FLAVOR, else from the image's name; '(riva-lite)' when riva-lite plays it."""
    lite = bool(image and "riva-lite" in image) or settings.get("target") == "local"
    base = settings.get("flavor") or {"riva-speech": "classic", "nim": "nim"}.get(kind or "") or \
        ("classic" if lite else "unknown")
    return f"{base} (riva-lite)" if lite else str(base)


def verified(run: dict[str, Any], image: str | None, digest: str | None, host: str, kind: str | None = None,
             model: str | None = None, release: str | None = None) -> dict[str, str]:
    """What this run verified, as label -> text (the summary's 'what' lines)."""
    settings = run.get("settings", {})
    facts = {k: v for p in run.get("phases", []) for k, v in p.get("facts", {}).items()}
    artifact = facts.get("artifact") if isinstance(facts.get("artifact"), dict) else {}
    took = seconds_between(run.get("started_at", ""), run.get("finished_at", ""))
    return {
        "target": str(run.get("target", "")), "flavor": flavor(settings, image, kind),
        "profile": str(run.get("profile", "")),
        "image": image or ("none: local processes" if run.get("target") == "local" else "unknown"),
        "digest": digest or "—", "release": release or "—",
        "model": model or settings.get("model_name") or artifact.get("artifact_id") or "—",
        "host": host, "when": (run.get("started_at") or "")[:19].replace("T", " ") + " UTC",
        "took": f"{took:.1f} s" if took is not None else "—",
    }
