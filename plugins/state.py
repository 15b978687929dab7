"""state/<phase>.json: status, timestamps, facts and figures of each phase, rewritten atomically as it runs."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.phases import get_tracker
from plugins.settings import get_settings
from rivaverify.files import SCHEMA_VERSION, now, write_json_atomic
from rivaverify.phases import phase_of_path
from rivaverify.settings import public_dict


@pytest.fixture
def record_fact(request: pytest.FixtureRequest):
    """record_fact(key, value): a fact this phase gathered, kept in its state file."""

    def record(key: str, value: Any) -> None:
        request.node.user_properties.append(("riva.fact", {"key": key, "value": value}))

    return record


@pytest.fixture
def record_figure(request: pytest.FixtureRequest):
    """record_figure(key, value, unit, **extra): a figure this phase measured, kept in its state file."""

    def record(key: str, value: float, unit: str = "", **extra: Any) -> None:
        item = {"key": key, "value": value, "unit": unit, **extra}
        request.node.user_properties.append(("riva.figure", item))

    return record


@pytest.fixture
def phase_figures(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    """The figures this test's phase recorded so far (key -> {value, unit, ...}), as its state file keeps them."""
    phase = phase_of_path(request.node.nodeid.split("@")[0])
    if phase is None:
        return {}
    return get_tracker(request.config).record(phase).figures


class StateWriter:
    def __init__(self, config: pytest.Config) -> None:
        self.settings = get_settings(config)
        self.tracker = get_tracker(config)
        self.run = {"target": str(self.settings.target), "profile": str(self.settings.profile), "started_at": now()}

    def write(self, order: str) -> None:
        rec = self.tracker.records[order]
        data = {"schema_version": SCHEMA_VERSION, **rec.to_json(), "run": self.run}
        if order == "010":
            data["settings"] = public_dict(self.settings)
        write_json_atomic(self.settings.state_dir / f"{order}.json", data)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        phase = phase_of_path(report.nodeid.split("@")[0])
        if phase is not None and phase.order in self.tracker.records:
            self.write(phase.order)

    def pytest_sessionfinish(self) -> None:
        for order in self.tracker.records:
            self.write(order)


def pytest_configure(config: pytest.Config) -> None:
    # Written where reports arrive (main process or xdist controller); a dry run changes nothing.
    if not hasattr(config, "workerinput") and not get_settings(config).dry_run:
        config.pluginmanager.register(StateWriter(config), "riva-state-writer")
