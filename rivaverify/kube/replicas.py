"""Checks run against every replica's own address (not the Service's, which spreads requests so that one healthy
answer proves one pod): gRPC health, the model listed, one Recognize; a verdict per replica, failures named."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc

from rivaverify.asr import client
from rivaverify.asr.audio import Audio
from rivaverify.asr.wer import wer
from rivaverify.kube.discovery import Replica

Check = Callable[[str], tuple[bool, str]]  # address -> (passed, what was seen)


@dataclass(frozen=True)
class Verdict:
    replica: str
    address: str
    ok: bool
    detail: str


def health(timeout: float = 5) -> Check:
    def check(address: str) -> tuple[bool, str]:
        status = client.health(client.auth(address), timeout=timeout)
        return status == "SERVING", f"gRPC health {status}"
    return check


def model_listed(language_code: str) -> Check:
    def check(address: str) -> tuple[bool, str]:
        models = client.list_models(client.auth(address), timeout=10)
        ours = sorted(n for n, p in models.items() if p.get("language_code") == language_code)
        return bool(ours), f"{language_code} models listed: {ours or 'none'}"
    return check


def transcribes(audio: Audio, expected: str, language_code: str, max_wer: float) -> Check:
    def check(address: str) -> tuple[bool, str]:
        got = client.recognize(client.auth(address), audio, client.config(audio, language_code), timeout=60)
        score = wer(expected, got.transcript)
        return score <= max_wer, (f"Recognize WER {score:.2f} (bound {max_wer}) in {got.seconds:.2f} s: "
                                  f"{got.transcript!r}")
    return check


def each(reps: list[Replica], check: Check, ready_only: bool = False) -> list[Verdict]:
    """The check on every replica; one not ready fails unless ready_only (a rolling update's new pod)."""
    out = []
    for r in reps:
        if not r.ready or not r.ip:
            if not ready_only:
                out.append(Verdict(r.name, r.address, False, f"not ready: {r.facts()}"))
            continue
        try:
            ok, detail = check(r.address)
        except grpc.RpcError as e:
            ok, detail = False, f"{e.code().name}: {e.details()}"
        out.append(Verdict(r.name, r.address, ok, detail))
    return out


def problem(verdicts: list[Verdict], what: str) -> str | None:
    """None when every replica passed; else a message naming each replica that failed, what it answered, and the
    next step."""
    if not verdicts:
        return f"{what}: no replica to check (no pod matched, or none is ready)"
    bad = [v for v in verdicts if not v.ok]
    if not bad:
        return None
    names = "; ".join(f"{v.replica} ({v.address}): {v.detail}" for v in bad)
    return (f"{what}: {len(bad)} of {len(verdicts)} replicas failed: {names}. Next: kubectl describe pod and kubectl "
            "logs on each (rivaverify diagnose reads the log)")
