"""Support bundle: on a failed run (or with --support-bundle), logs, state, plan and facts in a .tar.gz."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from plugins.settings import get_settings
from rivaverify.bundle import make_bundle
from rivaverify.settings import public_dict, secret_values

GOOD_EXITS = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("riva").addoption(
        "--support-bundle", action="store_true", default=False,
        help="write reports/support-bundle-<time>.tar.gz also when the run passes")


class Bundler:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.path: Path | None = None
        self.started = time.time()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, exitstatus: int) -> None:
        settings = get_settings(self.config)
        if settings.dry_run or (exitstatus in GOOD_EXITS and not self.config.getoption("support_bundle")):
            return
        reports = settings.reports_dir
        # state files this run wrote (not those an earlier run left)
        state = [p for p in sorted(settings.state_dir.glob("*.json")) if p.stat().st_mtime >= self.started - 1]
        include = [("logs", reports / "logs"), *[("state", p) for p in state], ("reports", reports / "plan.json")]
        include += [("reports", p) for p in sorted(reports.glob("*.json")) if p.name != "plan.json"]
        out = reports / f"support-bundle-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz"
        self.path = make_bundle(out, include, public_dict(settings), secret_values(settings))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.path is not None:
            terminalreporter.write_line(f"support bundle: {self.path}")


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(Bundler(config), "riva-bundler")
