"""A diagnosis for people (text) and machines (JSON); docs/signatures.md from the catalogue."""

from __future__ import annotations

from typing import Any

from rivaverify.diagnostics import SIGNATURES
from rivaverify.diagnostics.catalogue import FAIL, SKIP, WARN
from rivaverify.diagnostics.kinds import KINDS, MILESTONES
from rivaverify.diagnostics.scan import KEEP, Finding, Report

HEALTHY, FAILED, UNREADABLE = 0, 1, 2
# the milestones a kind of log can show
SHOWN = {"host": ("triton-services", "riva-ready"),
         "riva-speech": ("triton-services", "model-table", "triton-ready", "riva-listening"),
         "nim": ("riva-listening", "nim-grpc-ready", "http-serving")}


def exit_code(report: Report) -> int:
    if report.unreadable:
        return UNREADABLE
    return FAILED if report.failures else HEALTHY


def verdict(report: Report) -> str:
    code = exit_code(report)
    if code == UNREADABLE:
        return f"cannot diagnose {report.source}: {report.unreadable}"
    if code == FAILED:
        names = len({f.signature for f in report.failures})
        return f"failed: {names} failure signature(s) on {len(report.failures)} line(s)"
    return "healthy" + (f", {len(report.warnings)} warning(s)" if report.warnings else ": no failure signature")


def to_json(report: Report) -> dict[str, Any]:
    return {
        "source": report.source, "exit_code": exit_code(report), "verdict": verdict(report),
        "bytes": report.bytes, "lines": report.lines, "gpu_expected": report.gpu_expected,
        "kinds": dict(report.kinds.most_common()),
        "milestones": {name: report.milestones.get(name) for name in MILESTONES},
        "models": [vars(m) for m in report.models],
        "findings": [vars(f) for f in report.findings],
        "counts": dict(report.counts), "more_than_counted": sorted(report.capped),
    }


def to_text(report: Report) -> str:
    out = [f"{report.source}: {report.lines} lines, {report.bytes} bytes"]
    if report.unreadable:
        return "\n".join(out + [f"verdict: {verdict(report)} (exit {UNREADABLE})"])
    kinds = [k for k, _ in report.kinds.most_common()]
    if kinds:
        out.append("log kind: " + "; ".join(f"{k} ({KINDS[k][0]})" for k in kinds))
    shown = [m for m in MILESTONES if m in report.milestones or any(m in SHOWN.get(k, ()) for k in kinds)]
    if shown:
        out.append("how far the start got:")
        for m in shown:
            line = report.milestones.get(m)
            out.append(f"  {'yes' if line else 'not seen'}  {MILESTONES[m][0]}" + (f" (line {line})" if line else ""))
    if report.models:
        ready = sum(m.status == "READY" for m in report.models)
        out.append(f"models in Triton's table: {ready} READY, {len(report.models) - ready} UNAVAILABLE")
        out += [f"  UNAVAILABLE {m.name} (line {m.line_no}): {m.reason}" for m in report.models if m.status != "READY"]
    for title, items in (("failures", report.failures), ("warnings", report.warnings)):
        if items:
            out.append(f"{title}:")
        groups: dict[tuple[str, str], list[Finding]] = {}
        for f in items:  # one entry a signature and next step; its other lines listed
            groups.setdefault((f.signature, f.next_step), []).append(f)
        for (name, step), same in groups.items():
            f, also = same[0], [str(g.line_no) for g in same[1:]]
            more = f" (and {report.counts[name] - KEEP} more)" if name in report.capped or \
                report.counts[name] > KEEP else ""
            out += [f"- {name} at line {f.line_no}" + (f", also line {', '.join(also)}{more}" if also else "")
                    + f": {f.line}", f"  cause: {f.cause}", f"  next step: {step}", f"  source: {f.source}"]
    out.append(f"verdict: {verdict(report)} (exit {exit_code(report)})")
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def signatures_markdown() -> str:
    """docs/signatures.md: the catalogue, generated (`rivaverify signatures > docs/signatures.md`)."""
    counts_as = {FAIL: "fail", WARN: "warn", SKIP: "skip"}
    rows = "".join(
        f"| {s.name} | {counts_as[s.in_logs]}{' (GPU)' if s.gpu_only else ''} | {_cell(s.cause)} | "
        f"{_cell(s.next_step)} | {_cell(s.source)} | `{_cell(s.example)}` |\n" for s in SIGNATURES)
    return f"""# Failure signatures

Generated from `rivaverify/diagnostics/` by `rivaverify signatures > docs/signatures.md`; a test keeps it exact.
One catalogue serves the log gate after every phase, the next steps in the terminal summary and the report, the
support bundle (`diagnosis.txt`) and `rivaverify diagnose`. `tests/data/real-logs/` holds the published logs each
signature is tested on ([INDEX](../tests/data/real-logs/INDEX.md)).

## Where they are matched

- **A failed phase**: its failures' text and the last 400 lines of each `reports/logs/*.log`; every signature found
  adds a `next step:` line (with the line it was seen on) to the terminal summary and the reports.
- **After every phase** (the log gate, `plugins/diagnostics.py`): the lines each `reports/logs/*.log` gained during
  the phase. A *fail* signature fails the phase even when its tests passed (`phase 040 deploy passed its tests, but
  the deployment's log … shows …`) and later phases are not run; *warn* signatures go into the phase's facts
  (`log_warnings` in `state/<phase>.json`). A log left by an earlier run counts once this run rewrites it.
- **`rivaverify diagnose LOG`** (a file, `-`, `--container NAME`, a support bundle): every line; *skip* signatures
  (request errors) count as warnings there.

*In a log*: **fail**, **warn**, **skip** (a request error: the server logs one for every bad request, and phase 060
sends some on purpose; it still counts in a failure's own text), **(GPU)**: only where a GPU is expected
(`rivaverify.settings.needs_gpu`; riva-lite's CPU tritonserver logs the CUDA line as it starts).

## The signatures

| name | in a log | cause | next step | source | example line |
|---|---|---|---|---|---|
{rows}"""
