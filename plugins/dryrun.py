"""The plan of actions fixtures take; with --dry-run they only record them (reports/plan.json)."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.settings import get_settings
from rivaverify.files import write_json_atomic
from rivaverify.plan import Plan

PLAN_KEY = pytest.StashKey[Plan]()


def get_plan(config: pytest.Config) -> Plan:
    return config.stash.setdefault(PLAN_KEY, Plan(dry_run=get_settings(config).dry_run))


@pytest.fixture(scope="session")
def plan(pytestconfig: pytest.Config) -> Plan:
    """Every action a fixture takes, noted (plan.record, plan.command, plan.write) or noted and carried out unless a
    dry run (plan.carry_out, plan.run)."""
    return get_plan(pytestconfig)


class PlanShipper:
    """Where fixtures run: hand new actions to the next report, so the xdist controller sees them too."""

    def __init__(self, plan: Plan) -> None:
        self.plan, self.sent = plan, 0

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self):
        outcome = yield
        report = outcome.get_result()
        report.riva_plan = self.plan.actions[self.sent:]
        self.sent = len(self.plan.actions)


class PlanReporter:
    """Where reports arrive: gather the actions, write plan.json, print the plan of a dry run."""

    def __init__(self, config: pytest.Config) -> None:
        self.settings = get_settings(config)
        self.plan = Plan(dry_run=self.settings.dry_run)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.plan.actions.extend(getattr(report, "riva_plan", None) or [])

    def pytest_sessionfinish(self) -> None:
        if self.plan.actions or self.plan.dry_run:
            write_json_atomic(self.settings.reports_dir / "plan.json", self.plan.to_json())

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.plan.dry_run:
            return
        tr = terminalreporter
        tr.section("riva-verify dry run: nothing was executed")
        for line in self.plan.lines() or ["(no actions)"]:
            tr.write_line(line)
        tr.write_line(f"plan written to {self.settings.reports_dir / 'plan.json'}")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(PlanShipper(get_plan(config)), "riva-plan-shipper")
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(PlanReporter(config), "riva-plan-reporter")
