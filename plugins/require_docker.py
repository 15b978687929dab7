"""RIVA__REQUIRE_DOCKER=true (CI): a docker-marked test that skips fails instead, and a run in which no
docker-marked test passed fails, so the docker tests can never silently stop running."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.settings import get_settings

MARK = "docker"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and item.get_closest_marker(MARK) is not None:
        if get_settings(item.config).require_docker:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            report.outcome = "failed"
            report.longrepr = (f"{reason}\nA docker-marked test may not skip while RIVA__REQUIRE_DOCKER=true: "
                               "start dockerd (or set DOCKER_HOST) and make sure the image can be built")


class Counter:
    def __init__(self) -> None:
        self.passed = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed and MARK in report.keywords:
            self.passed += 1

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.passed == 0 and session.testscollected and exitstatus in (0, 5):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.passed == 0:
            terminalreporter.write_line("RIVA__REQUIRE_DOCKER=true but no docker-marked test passed: the docker "
                                        "tests did not run (deselected, missing or all skipped)", red=True)


def pytest_configure(config: pytest.Config) -> None:
    if get_settings(config).require_docker and not hasattr(config, "workerinput"):
        config.pluginmanager.register(Counter(), "riva-require-docker")
