"""The gateway's event contract: what a stream's events and close must be."""

from __future__ import annotations

from rivaverify.gateway.client import GatewayStream

EVENT_KEYS = {"type": str, "text": str, "is_final": bool, "stability": (int, float),
              "audio_processed": (int, float), "seq": int}


def contract_problems(s: GatewayStream, interim: bool = True) -> list[str]:
    """What breaks the event contract: keys and types, seq 1, 2, 3..., partials only before their final,
    a final last, is_final matching the type, audio_processed never going back, a normal close."""
    problems = []
    if not s.events:
        return [f"no event came back (close {s.close_code} {s.close_reason!r})"]
    for i, e in enumerate(s.events):
        for k, kind in EVENT_KEYS.items():
            if not isinstance(e.data.get(k), kind) or (kind is int and isinstance(e.data.get(k), bool)):
                problems.append(f"event {i + 1} has {k}={e.data.get(k)!r}: {e.data}")
        if e.data.get("seq") != i + 1:
            problems.append(f"event {i + 1} has seq {e.data.get('seq')}, expected {i + 1}")
        if e.data.get("type") not in ("partial", "final"):
            problems.append(f"event {i + 1} is {e.data.get('type')!r}: {e.data}")
        elif e.data["is_final"] != (e.data["type"] == "final"):
            problems.append(f"event {i + 1} is a {e.data['type']} with is_final={e.data['is_final']}")
    audio = [e.data.get("audio_processed", 0) for e in s.events]
    if any(b < a - 1e-6 for a, b in zip(audio, audio[1:], strict=False)):
        problems.append(f"audio_processed went back: {audio}")
    if s.events[-1].data.get("type") != "final":
        problems.append(f"the last event is a {s.events[-1].data.get('type')}, not a final")
    if interim and not s.partials:
        problems.append("interim results were asked for and no partial came")
    if not interim and s.partials:
        problems.append(f"interim results were off and {len(s.partials)} partials came")
    if s.close_code != 1000:
        problems.append(f"closed with {s.close_code} {s.close_reason!r}, expected 1000 after the last final")
    return problems
