"""Phase order, stop-on-failure and next steps.

A suite's phase comes from its file name, suites/test_<order>_<name>.py. Its items get the phase's
marker (so `-m deploy` selects them), run in phase order, and under xdist all go to one worker as one scope
(one deployment, in order). When a phase fails, later phases are skipped as "not run" with the reason,
and the terminal summary ends with next steps for the failed phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from plugins.settings import get_settings
from rivaverify.files import now
from rivaverify.phases import PHASES, Phase, fitting_steps, phase_of_path

NOT_RUN = "not run: "
MARKERS = {
    "gpu": "needs an NVIDIA GPU",
    "docker": "needs a Docker engine",
    "aws": "needs S3 (a local S3 API server by default)",
}
XDIST_GROUP = "riva-phases"


@dataclass
class PhaseRecord:
    phase: Phase
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    not_run_reason: str = ""
    started_at: str = ""
    finished_at: str = ""

    @property
    def status(self) -> str:
        c = self.counts
        if c.get("failed") or c.get("error"):
            return "failed"
        if c.get("passed"):
            return "passed"
        if c.get("not_run") and not c.get("skipped"):
            return "not_run"
        return "skipped" if c else "pending"

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase.order, "name": self.phase.name, "title": self.phase.title,
            "status": self.status, "counts": self.counts, "failures": self.failures,
            "facts": self.facts, "figures": self.figures, "not_run_reason": self.not_run_reason,
            "started_at": self.started_at, "finished_at": self.finished_at,
        }


class Tracker:
    """Per-phase outcomes, built from test reports (so it works on the xdist controller too)."""

    def __init__(self) -> None:
        self.records: dict[str, PhaseRecord] = {}

    def record(self, phase: Phase) -> PhaseRecord:
        if phase.order not in self.records:
            self.records[phase.order] = PhaseRecord(phase, started_at=now())
        return self.records[phase.order]

    def first_failed_before(self, phase: Phase) -> PhaseRecord | None:
        for order in sorted(self.records):
            rec = self.records[order]
            if order < phase.order and rec.status == "failed":
                return rec
        return None

    def failed(self) -> list[PhaseRecord]:
        return [r for _, r in sorted(self.records.items()) if r.status == "failed"]

    def update(self, report: pytest.TestReport) -> PhaseRecord | None:
        phase = phase_of_path(report.nodeid.split("@")[0])
        if phase is None:
            return None
        rec = self.record(phase)
        rec.finished_at = now()
        for name, value in report.user_properties:
            if name == "riva.fact":
                rec.facts[value["key"]] = value["value"]
            elif name == "riva.figure":
                rec.figures[value["key"]] = value
        outcome = _outcome(report)
        if outcome:
            rec.counts[outcome] = rec.counts.get(outcome, 0) + 1
        if outcome in ("failed", "error"):
            rec.failures.append({"nodeid": report.nodeid, "when": report.when, "message": _message(report)})
        if outcome == "not_run":
            rec.not_run_reason = _skip_reason(report).removeprefix(NOT_RUN)
        return rec


def _outcome(report: pytest.TestReport) -> str | None:
    """One outcome per test: counted at call, or at setup/teardown when they did not pass."""
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            return "xfailed" if report.skipped else "xpassed"
        return report.outcome
    if report.when == "setup" and report.skipped:
        return "not_run" if _skip_reason(report).startswith(NOT_RUN) else "skipped"
    if report.failed:
        return "error"
    return None


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


def _message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    first, *rest = text.strip().splitlines() or ["failed"]
    lines = [first] + [line for line in rest if not line.startswith(("assert ", "+  where"))]
    return "\n".join(lines[:8])[:2000]


TRACKER_KEY = pytest.StashKey[Tracker]()
PHASE_KEY = pytest.StashKey[Phase]()


def get_tracker(config: pytest.Config) -> Tracker:
    return config.stash.setdefault(TRACKER_KEY, Tracker())


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from plugins import hooks

    pluginmanager.add_hookspecs(hooks)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under -n: all phase items are one scope (one worker, in order); every other test is its own."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class PhaseScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return XDIST_GROUP if phase_of_path(nodeid) else nodeid

    return PhaseScheduling(config, log)


def pytest_configure(config: pytest.Config) -> None:
    for phase in PHASES:
        config.addinivalue_line("markers", f"{phase.name}: phase {phase.order}, {phase.title}")
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.pluginmanager.register(PhaseRunner(config), "riva-phase-runner")


def next_steps(config: pytest.Config, rec: PhaseRecord) -> list[str]:
    """Lines from other plugins (log signatures first), then the phase's own that fit the failure and the flavor,
    then where to read."""
    steps: list[str] = []
    for lines in config.hook.pytest_riva_next_steps(config=config, phase=rec.phase, failures=rec.failures):
        steps.extend(line for line in lines or [] if line not in steps)
    settings = get_settings(config)
    steps.extend(fitting_steps(rec.phase, rec.failures, str(getattr(settings.flavor, "value", settings.flavor))))
    steps.append(f"state: {settings.state_dir}/{rec.phase.order}.json; logs: {settings.reports_dir}/logs/")
    return steps


class PhaseRunner:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.tracker = get_tracker(config)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        keyed = []
        for index, item in enumerate(items):
            phase = phase_of_path(str(item.path))
            if phase is not None:
                item.stash[PHASE_KEY] = phase
                item.add_marker(phase.name)
            keyed.append((phase.order if phase else "999", index, item))
        items[:] = [item for _, _, item in sorted(keyed, key=lambda k: k[:2])]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        phase = item.stash.get(PHASE_KEY, None)
        failed = self.tracker.first_failed_before(phase) if phase else None
        if failed is not None:
            first = failed.failures[0]["nodeid"] if failed.failures else ""
            pytest.skip(f"{NOT_RUN}phase {failed.phase.label} failed ({first})")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.tracker.update(report)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr, tracker = terminalreporter, self.tracker
        if not tracker.records:
            return
        tr.section("riva-verify phases")
        for _, rec in sorted(tracker.records.items()):
            counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(rec.counts.items()))
            tr.write_line(f"{rec.phase.label:<16} {rec.status.upper():<8} {counts}")
            if rec.status == "not_run":
                tr.write_line(f"{'':<16} reason: {rec.not_run_reason}")
        failed = tracker.failed()
        if not failed:
            return
        tr.section("riva-verify next steps", red=True)
        later = sorted(r.phase.label for r in tracker.records.values() if r.status == "not_run")
        for rec in failed:
            first = rec.failures[0]["message"].splitlines()[0] if rec.failures else ""
            tr.write_line(f"phase {rec.phase.label} failed: {first}")
            if later:
                tr.write_line(f"  not run because of it: {', '.join(later)}")
            for line in next_steps(self.config, rec):
                tr.write_line(f"  next step: {line}")
