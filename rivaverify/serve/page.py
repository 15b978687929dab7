"""The verdict as JSON (/healthz) and as a small HTML page (/): the last run, each check, the recent history."""

from __future__ import annotations

import html
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from rivaverify.serve.checks import Run
from rivaverify.serve.scheduler import Scheduler


def when(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts is not None else None


def verdict(s: Scheduler) -> str:
    """passed (fresh), failed, stale (no run ended within 2 intervals), pending (no run yet)."""
    run = s.last
    if run is None:
        return "pending"
    if not s.fresh(run):
        return "stale"
    return "passed" if run.passed else "failed"


def run_json(run: Run) -> dict[str, Any]:
    return {"passed": run.passed, "started": when(run.started), "ended": when(run.started + run.seconds),
            "seconds": round(run.seconds, 3), "model": run.model,
            "checks": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(c).items()}
                       for c in run.checks]}


def health_json(s: Scheduler, target: str, flavor: str) -> dict[str, Any]:
    v = verdict(s)
    return {"verdict": v, "healthy": v == "passed", "target": target, "flavor": flavor,
            "interval_s": s.interval_s, "runs": s.runs, "last_success": when(s.last_success),
            "last_run": run_json(s.last) if s.last else None}


def _figure(value: float | None, bound: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    return f"{value:.2f}{unit}" + (f" (bound {bound:g}{unit})" if bound is not None else "")


def page(s: Scheduler, target: str, flavor: str) -> str:
    v, run = verdict(s), s.last
    rows = ""
    for c in run.checks if run else []:
        steps = "".join(f"<li>{html.escape(step)}</li>" for step in c.next_steps)
        rows += (f"<tr class='{c.status.replace(' ', '-')}'><td>{c.name}</td><td>{c.status}</td>"
                 f"<td>{c.seconds:.2f} s</td><td>{_figure(c.wer, c.wer_bound)}</td>"
                 f"<td>{_figure(c.latency_s, c.latency_bound_s, ' s')}</td>"
                 f"<td>{html.escape(c.detail)}{f'<ul>{steps}</ul>' if steps else ''}</td></tr>")
    history = "".join(
        f"<li>{when(r.started)}: {'passed' if r.passed else 'failed'} in {r.seconds:.1f} s"
        + "".join(f", {c.name} {c.status}" for c in r.checks if c.status != "passed") + "</li>"
        for r in reversed(list(s.history)))  # a copy: the scheduler appends meanwhile
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>rivaverify serve: {v}</title>
<meta http-equiv="refresh" content="{max(5, int(s.interval_s))}">
<style>body{{font-family:sans-serif}} td{{padding:2px 8px;vertical-align:top}} .failed td{{color:#b00}}
.passed td:nth-child(2){{color:#070}}</style></head><body>
<h1>Riva ASR: {v.upper()}</h1>
<p>target {html.escape(target)}, flavor {html.escape(flavor)}, model {html.escape(run.model if run else '')};
every {s.interval_s:g} s; {s.runs} runs; last run {when(run.started) if run else 'none yet'}
{f'({run.seconds:.1f} s)' if run else ''}; last success {when(s.last_success) or 'never'}</p>
<table><tr><th>check</th><th>status</th><th>took</th><th>WER</th><th>latency</th><th>detail, next step</th></tr>
{rows}</table>
<h2>Recent runs</h2><ul>{history}</ul>
<p><a href="/healthz">/healthz</a> <a href="/metrics">/metrics</a></p></body></html>
"""
