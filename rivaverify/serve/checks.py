"""One verification run: gRPC health, the model listed, one Recognize, one real-time StreamingRecognize (and, for a
NIM, /v1/health/ready and one HTTP transcription), each with its deadline, judged by the library's smoke verdicts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rivaverify import nim, phases, probes, targets
from rivaverify.asr import audio as audio_mod
from rivaverify.asr import client, corpus, smoke
from rivaverify.asr.wer import wer
from rivaverify.diagnostics import diagnose, redact_text
from rivaverify.settings import Settings, secret_values, thresholds

PASSED, FAILED, SKIPPED, NOT_RUN = "passed", "failed", "skipped", "not run"
PHASE_OF = {"grpc_health": "deploy", "model_listed": "deploy", "http_ready": "deploy"}  # the others: smoke


@dataclass
class Check:
    name: str
    status: str
    seconds: float = 0.0
    detail: str = ""
    wer: float | None = None
    latency_s: float | None = None  # Recognize's response, the stream's final after the last chunk, HTTP's response
    wer_bound: float | None = None
    latency_bound_s: float | None = None
    next_steps: list[str] = field(default_factory=list)


@dataclass
class Run:
    started: float  # unix time
    seconds: float
    checks: list[Check]
    model: str = ""

    @property
    def passed(self) -> bool:
        return all(c.status != FAILED for c in self.checks) and any(c.status == PASSED for c in self.checks)


UNREACHED = ("UNAVAILABLE", "ConnectionError", "Connection refused")


def next_steps(check: str, message: str, flavor: str, address: str = "") -> list[str]:
    """Nothing answering first, then the catalogue's signatures in the message (causes first), then the phase's own
    steps that fit."""
    first = [f"nothing answers at {address}: is the deployment running, and is RIVA__HOST (RIVA__NIM_HTTP for HTTP) "
             "its address? It passes again with its first good run"] if any(u in message for u in UNREACHED) else []
    found = diagnose(message)  # causes first
    phase = phases.BY_NAME[PHASE_OF.get(check, "smoke")]
    own = phases.fitting_steps(phase, [{"nodeid": check, "message": message}], flavor)
    return list(dict.fromkeys(first + [d.next_step for d in found] + own))


class Verifier:
    """The deployment and its bounds from the settings; `run()` verifies it once (never raises)."""

    def __init__(self, settings: Settings, realtime: bool = True) -> None:
        self.settings, self.realtime = settings, realtime
        self.target = targets.get(settings)
        self.bounds = thresholds(settings)
        self.utt = corpus.load(settings.corpus)[0]
        self.audio = audio_mod.load_pcm16(self.utt.path)
        self.secrets = secret_values(settings)
        self.model = settings.model_name or ""  # else the listed models of the language, kept across outages

    def run(self) -> Run:
        start, t0 = time.time(), time.monotonic()
        dep = self.target.deployment(None, None)  # a fresh channel each run: no reconnect backoff after an outage
        ctx: dict[str, Any] = {"auth": dep.auth, "nim_url": dep.nim_url}
        checks: list[Check] = []
        try:
            for name, fn in self.plan(dep.nim_url):
                if any(c.status == FAILED and c.name in PHASE_OF for c in checks):  # not reachable or not ready
                    checks.append(Check(name, NOT_RUN, detail="an earlier check failed"))
                    continue
                checks.append(self.one(name, fn, ctx))
        finally:
            dep.auth.channel.close()
        return Run(start, time.monotonic() - t0, checks, self.model)

    def plan(self, nim_url: str | None) -> list[tuple[str, Callable[[dict], Check]]]:
        out = [("grpc_health", self.grpc_health), ("model_listed", self.model_listed)]
        if nim_url:
            out.append(("http_ready", self.http_ready))
        out += [("recognize", self.recognize), ("streaming", self.streaming)]
        if nim_url:
            out.append(("http_transcription", self.http_transcription))
        return out

    def one(self, name: str, fn: Callable[[dict], Check], ctx: dict) -> Check:
        t0 = time.monotonic()
        try:
            check = fn(ctx)
        except Exception as exc:  # grpc.RpcError, requests' errors, NimError: the deployment's answer
            code = getattr(exc, "code", None)
            what = f"{code().name}: {exc.details()}" if callable(code) and hasattr(exc, "details") else str(exc)
            check = Check(name, FAILED, detail=f"{type(exc).__name__} {what}")
        check.seconds = time.monotonic() - t0
        check.detail = redact_text(check.detail, self.secrets)
        if check.status == FAILED:
            address = self.settings.nim_http_address if name.startswith("http") else self.settings.grpc_address
            check.next_steps = next_steps(name, check.detail, self.target.flavor.value, address)
        return check

    # -- the checks -------------------------------------------------------------------------------------------
    def grpc_health(self, ctx: dict) -> Check:
        ok, detail = probes.riva_health(ctx["auth"])()
        return Check("grpc_health", PASSED if ok else FAILED, detail=detail)

    def model_listed(self, ctx: dict) -> Check:
        s = self.settings
        ok, detail = probes.riva_model_listed(ctx["auth"], s.language_code, s.model_name)()
        models = client.list_models(ctx["auth"], timeout=5)
        ctx["served"] = client.served_types(models, s.language_code, s.model_name or "")
        ctx["chunk_ms"] = s.chunk_ms or client.server_chunk_ms(models, s.language_code, s.model_name or "") or 100
        ours = sorted(n for n, p in models.items() if p.get("language_code") == s.language_code)
        self.model = s.model_name or ",".join(ours) or self.model
        return Check("model_listed", PASSED if ok else FAILED, detail=detail)

    def http_ready(self, ctx: dict) -> Check:
        ok, detail = nim.health(ctx["nim_url"], "ready")()
        return Check("http_ready", PASSED if ok else FAILED, detail=detail)

    def _cfg(self) -> Any:
        return client.config(self.audio, self.utt.lang or self.settings.language_code, model=self.settings.model_name
                             or "")

    def _judge(self, name: str, what: str, heard: str, latency: float, problems: list[str | None]) -> Check:
        score = wer(self.utt.text, heard)
        problems = [smoke.wer_problem(what, self.utt.id, score, self.bounds.max_wer, heard, self.utt.text), *problems]
        failed = [p for p in problems if p]
        detail = "; ".join(failed) if failed else f"heard {heard!r}"
        return Check(name, FAILED if failed else PASSED, detail=detail, wer=score, latency_s=latency,
                     wer_bound=self.bounds.max_wer, latency_bound_s=self.bounds.max_response_s)

    def recognize(self, ctx: dict) -> Check:
        if "offline" not in ctx.get("served", {"offline"}):
            return Check("recognize", SKIPPED, detail="no offline model listed: Recognize is not served")
        b, cfg = self.bounds.max_response_s, self._cfg()
        r = client.recognize(ctx["auth"], self.audio, cfg, timeout=b * 3)
        language = smoke.language_problem(r.response, cfg.language_code)
        return self._judge("recognize", "Recognize", r.transcript, r.seconds,
                           [smoke.response_problem("Recognize", self.utt.id, r.seconds, b, self.audio.duration_s),
                            language and f"Recognize of {self.utt.id}: {language}"])

    def streaming(self, ctx: dict) -> Check:
        if "online" not in ctx.get("served", {"online"}):
            return Check("streaming", SKIPPED, detail="no online model listed: StreamingRecognize is not served")
        b = self.bounds.max_response_s
        r = client.stream(ctx["auth"], self.audio, self._cfg(), chunk_ms=ctx.get("chunk_ms", 100),
                          realtime=self.realtime, interim=True, timeout=b * 3 + self.audio.duration_s)
        if problem := smoke.no_final_problem(self.utt.id, r):
            return Check("streaming", FAILED, detail=problem)
        after = smoke.final_after_last_chunk(r)
        return self._judge("streaming", "StreamingRecognize", r.transcript, after, [smoke.final_problem(after, b)])

    def http_transcription(self, ctx: dict) -> Check:
        b, lang = self.bounds.max_response_s, self.utt.lang or self.settings.language_code
        heard = nim.transcribe(ctx["nim_url"], self.utt.path.read_bytes(), self.utt.id, lang, timeout=b * 3)
        what = "/v1/audio/transcriptions"
        return self._judge("http_transcription", what, heard.text, heard.seconds,
                           [smoke.response_problem(what, self.utt.id, heard.seconds, b)])
