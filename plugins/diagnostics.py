"""Next steps from failure signatures found in the failures and the deployment's log tails; the log gate.

The log gate: when a phase's last test is torn down, the lines the deployment's logs (reports/logs/*.log) gained
during the phase are scanned. Warnings go into the phase's facts (`log_warnings`); a critical signature fails
the phase (an error at that teardown) even when its tests passed. Lines that only mean something where a GPU is
expected (a CPU tritonserver's CUDA line) count only where one is (rivaverify.settings.needs_gpu).
"""

from __future__ import annotations

from typing import Any

import pytest

from plugins.phases import get_tracker
from plugins.settings import get_settings
from rivaverify.diagnostics import LogCursor, LogVerdict, diagnose, log_verdict
from rivaverify.diagnostics.catalogue import LAST
from rivaverify.phases import phase_of_path
from rivaverify.settings import needs_gpu

TAIL_LINES = 400
CURSOR_KEY = pytest.StashKey[LogCursor]()


def log_tails(config: pytest.Config) -> dict[str, str]:
    """The last lines of each deployment log this run wrote (a log an earlier run left says nothing of this one)."""
    logs = get_settings(config).reports_dir / "logs"
    cursor = config.stash.get(CURSOR_KEY, None)
    if not logs.is_dir():
        return {}
    return {str(p): "\n".join(p.read_text(errors="replace").splitlines()[-TAIL_LINES:])
            for p in sorted(logs.glob("*.log")) if cursor is None or cursor.this_run(p)}


@pytest.hookimpl
def pytest_riva_next_steps(config: pytest.Config, phase: Any, failures: list[dict[str, str]]) -> list[str]:
    """The signatures found in the failures and in this run's deployment logs, each with its next step; then how
    to diagnose a whole log that showed one."""
    gpu = needs_gpu(get_settings(config))
    own = "\n".join(line for f in failures for line in f["message"].splitlines()  # not a next step already given
                    if not line.strip().startswith("next step:"))
    sources = {"the failure": own, **log_tails(config)}
    seen, logs_with, found = set(), [], []
    for where, text in sources.items():
        for d in diagnose(text, log=where != "the failure", gpu=gpu, warnings=True):
            if where != "the failure" and where not in logs_with:
                logs_with.append(where)
            if d.signature not in seen:
                seen.add(d.signature)
                found.append((d.signature in LAST, f"{d.next_step} [seen in {where}: {d.line[:160]}]"))
    steps = [step for _, step in sorted(found, key=lambda f: f[0])]  # causes before effects, wherever seen
    return steps + [f"the whole log, with how far the start got: `rivaverify diagnose {w}`" for w in logs_with]


def pytest_sessionstart(session: pytest.Session) -> None:
    # Logs already there belong to an earlier run: they count once a deployment of this run rewrites them.
    session.config.stash[CURSOR_KEY] = LogCursor(get_settings(session.config).reports_dir / "logs")


def _phase(item: pytest.Item | None) -> Any:
    return phase_of_path(item.nodeid.split("@")[0]) if item is not None else None


def scan_phase_logs(config: pytest.Config) -> tuple[dict[str, LogVerdict], dict[str, Any]]:
    """The verdict on what each log gained since the last scan, and the facts to record about it."""
    cursor = config.stash.get(CURSOR_KEY, None)
    if cursor is None or get_settings(config).dry_run:
        return {}, {}
    gpu = needs_gpu(get_settings(config))
    verdicts = {where: log_verdict(text, gpu) for where, text in cursor.read_new().items()}
    if not verdicts:  # no log gained a line in this phase: nothing to record
        return {}, {}
    facts: dict[str, Any] = {"log_gate": {"logs_scanned": sorted(verdicts), "gpu_expected": gpu}}
    warnings = [{"log": w, "signature": d.signature, "line": d.line, "next_step": d.next_step}
                for w, v in verdicts.items() for d in v.warnings]
    if warnings:
        facts["log_warnings"] = warnings
    return verdicts, facts


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After a phase's last test: scan its log lines (before the deployment may stop), then fail it if critical."""
    phase = _phase(item)
    failed: list[str] = []
    if phase is not None and _phase(nextitem) != phase:
        verdicts, facts = scan_phase_logs(item.config)
        for key, value in facts.items():
            item.user_properties.append(("riva.fact", {"key": key, "value": value}))
        if get_tracker(item.config).record(phase).status == "passed":  # a failed phase has its own failure
            failed = [v.message(where) for where, v in verdicts.items() if v.failures]
    result = yield
    if failed:
        pytest.fail(f"phase {phase.label} passed its tests, but " + "\n".join(failed), pytrace=False)
    return result
