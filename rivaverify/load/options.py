"""riva-verify's own locust options (added with locust's command-line parser hook)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rivaverify.settings import load, thresholds

SHAPES = ("fixed", "step")


def add(parser: Any) -> None:
    """Options of our users, shapes and thresholds; defaults from riva-verify's settings and profile."""
    settings = load()
    limits = thresholds(settings)
    g = parser  # locust's own parser: it knows env_var, is_secret and include_in_web_ui
    g.add_argument("--riva-corpus", default=str(default_corpus(settings.corpus)),
                   help="corpus manifest (NeMo JSON lines)")
    g.add_argument("--riva-chunk-ms", type=int, default=settings.chunk_ms,
                   help="audio per request, ms (default: the server chunk the deployment lists, else 100)")
    g.add_argument("--riva-language", default="",
                   help=f"language_code asked for (default: each clip's lang, else {settings.language_code})")
    g.add_argument("--riva-model", default=settings.model_name or "", help="model name (default: the server's)")
    g.add_argument("--riva-ssl-cert", default=str(settings.ssl_cert or ""), help="root certificate for grpcs://")
    g.add_argument("--riva-api-key", default="", env_var="RIVA__API_KEY", is_secret=True,
                   help="sent as authorization: Bearer")
    g.add_argument("--riva-shape", choices=SHAPES, default="fixed",
                   help="fixed: -u users at once (-r per s); step: add --riva-step-users every --riva-step-seconds")
    g.add_argument("--riva-step-users", type=int, default=1, help="step shape: users added per step")
    g.add_argument("--riva-step-seconds", type=float, default=10, help="step shape: seconds per step")
    g.add_argument("--riva-max-fail-ratio", type=float, default=0.0, help="exit 1 above this failure ratio")
    g.add_argument("--riva-max-p95-partial-ms", type=float, default=limits.max_partial_p95_ms,
                   help="exit 1 when partial responses' p95 is above (ms)")
    g.add_argument("--riva-max-p95-final-ms", type=float, default=limits.max_final_p95_ms,
                   help="exit 1 when final responses' p95 is above (ms)")
    g.add_argument("--riva-min-streams", type=int, default=0,
                   help="exit 1 when fewer users than this ran at once (default: -u)")


def target(host: str) -> tuple[str, bool]:
    """HOST:PORT and whether to use TLS, from locust's --host."""
    for scheme, tls in (("grpcs://", True), ("grpc://", False)):
        if host.startswith(scheme):
            return host[len(scheme):], tls
    if "://" in host:
        raise ValueError(f"--host {host!r}: use HOST:PORT, grpc://HOST:PORT or grpcs://HOST:PORT")
    return host, False


def default_corpus(corpus: Path) -> Path:
    """The configured corpus, or, when it is relative and not here, the project's own (run from anywhere)."""
    project = Path(__file__).resolve().parents[2] / corpus
    return corpus if corpus.is_absolute() or corpus.exists() or not project.exists() else project
