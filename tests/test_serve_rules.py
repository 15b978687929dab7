"""The shipped alert rules (deploy/monitoring/) as Prometheus reads them: `promtool check rules` and `promtool test
rules` of Debian's prometheus package (.ci/run installs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from plugins.settings import get_settings

MONITORING = Path(__file__).resolve().parents[1] / "deploy" / "monitoring"
RULES = MONITORING / "riva-asr-alerts.yml"


def prometheus_tool(name: str, config: pytest.Config) -> str:
    """The path of Debian's prometheus package's `name`; a skip without it (a failure where RIVA__REQUIRE_DOCKER=true,
    as in CI)."""
    path = shutil.which(name)
    if not path:
        why = f"{name} not found: apt-get install prometheus (Debian's package)"
        if get_settings(config).require_docker:
            pytest.fail(f"{why} (.ci/run installs it; RIVA__REQUIRE_DOCKER=true lets no required tool skip)")
        pytest.skip(why)
    return path


@pytest.fixture(scope="module")
def promtool(request) -> str:
    return prometheus_tool("promtool", request.config)


def test_the_rules_load(promtool):
    r = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"promtool check rules {RULES} failed:\n{r.stdout}{r.stderr}"
    assert "SUCCESS: 5 rules found" in r.stdout, r.stdout


def test_the_rules_fire_when_they_should(promtool):
    r = subprocess.run([promtool, "test", "rules", "riva-asr-alerts.test.yml"], cwd=MONITORING, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, f"promtool test rules failed:\n{r.stdout}{r.stderr}"
