"""The phase plugins, run by pytester on small suites: order, stop-on-failure, next steps, state, xdist."""

from __future__ import annotations

import json

import pytest

LOG_TEST = """
import pytest
pytestmark = pytest.mark.smoke

def test_{name}(record_fact):
    record_fact("{name}", 1)
    with open("order.log", "a") as f:
        f.write("{order}\\n")
    assert {ok}
"""


def suite(pytester, order: str, name: str, ok: bool = True) -> None:
    pytester.makepyfile(**{f"test_{order}_{name}": LOG_TEST.format(order=order, name=name, ok=ok)})


def ran(pytester) -> list[str]:
    log = pytester.path / "order.log"
    return log.read_text().split() if log.exists() else []


def test_phases_run_in_order_whatever_the_collection_order(suite_dir):
    for order, name in (("050", "smoke"), ("010", "preflight"), ("040", "deploy")):
        suite(suite_dir, order, name)
    result = suite_dir.runpytest("test_050_smoke.py", "test_040_deploy.py", "test_010_preflight.py")
    result.assert_outcomes(passed=3)
    assert ran(suite_dir) == ["010", "040", "050"]


def test_phase_marker_selects_a_phase(suite_dir):
    suite(suite_dir, "010", "preflight")
    suite(suite_dir, "040", "deploy")
    result = suite_dir.runpytest("-m", "deploy")
    result.assert_outcomes(passed=1, deselected=1)
    assert ran(suite_dir) == ["040"]


def test_failed_phase_stops_later_phases_with_reason_and_next_steps(suite_dir):
    suite(suite_dir, "010", "preflight")
    suite(suite_dir, "040", "deploy", ok=False)
    suite(suite_dir, "050", "smoke")
    suite(suite_dir, "060", "production")
    result = suite_dir.runpytest("-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=2)
    assert ran(suite_dir) == ["010", "040"]
    result.stdout.fnmatch_lines([
        "*riva-verify phases*",
        "040 deploy*FAILED*1 failed*",
        "050 smoke*NOT_RUN*",
        "*riva-verify next steps*",
        "phase 040 deploy failed: assert False",
        "  not run because of it: 050 smoke, 060 production",
        "  next step: read the server log*",
        "  next step: the state file below records the readiness stage reached",
        "  next step: state: state/040.json; logs: reports/logs/",
        "*not run: phase 040 deploy failed (test_040_deploy.py::test_deploy)*",
    ])


def test_other_plugins_add_next_steps_through_the_hook(suite_dir):
    suite_dir.makeconftest(suite_dir.path.joinpath("conftest.py").read_text() + """
def pytest_riva_next_steps(config, phase, failures):
    return [f"from a hook: {phase.name} had {len(failures)} failure(s)"]
""")
    suite(suite_dir, "030", "modelrepo", ok=False)
    result = suite_dir.runpytest()
    result.stdout.fnmatch_lines(["  next step: from a hook: modelrepo had 1 failure(s)"])


def test_state_files_record_status_facts_and_timestamps(suite_dir):
    suite(suite_dir, "010", "preflight")
    suite(suite_dir, "040", "deploy", ok=False)
    suite(suite_dir, "050", "smoke")
    suite_dir.runpytest()
    state = suite_dir.path / "state"
    s010, s040, s050 = (json.loads((state / f"{o}.json").read_text()) for o in ("010", "040", "050"))
    assert (s010["schema_version"], s010["status"], s010["facts"]) == (1, "passed", {"preflight": 1})
    assert s040["status"] == "failed" and s040["failures"][0]["nodeid"].endswith("test_deploy")
    assert s050["status"] == "not_run" and "phase 040 deploy failed" in s050["not_run_reason"]
    assert s010["started_at"] <= s010["finished_at"]
    assert not [p.name for p in state.iterdir() if not p.name.endswith(".json")], "temporary files left"


def test_reports_html_junit_and_json_summary(suite_dir):
    suite(suite_dir, "010", "preflight")
    suite(suite_dir, "040", "deploy", ok=False)
    suite_dir.runpytest("-m", "smoke")
    reports = suite_dir.path / "reports"
    html = (reports / "smoke.html").read_text()
    assert "Riva target" in html and "Profile" in html and "nvidia-riva-client" in html
    assert "<h2>Phases</h2>" in html
    assert (reports / "smoke.xml").read_text().count("<testcase") == 2
    summary = json.loads((reports / "smoke.json").read_text())
    assert [(p["phase"], p["status"]) for p in summary["phases"]] == [("010", "passed"), ("040", "failed")]
    assert summary["phases"][1]["next_steps"]
    assert summary["exit_status"] == 1


@pytest.mark.slow
def test_order_and_stop_hold_under_xdist(suite_dir):
    for order, name in (("060", "production"), ("010", "preflight"), ("050", "smoke")):
        suite(suite_dir, order, name, ok=order != "010")
    suite(suite_dir, "040", "deploy")
    result = suite_dir.runpytest_subprocess("-n", "2", "-rs")
    result.assert_outcomes(failed=1, skipped=3)
    assert ran(suite_dir) == ["010"]
    result.stdout.fnmatch_lines(["*riva-verify next steps*", "phase 010 preflight failed*"])
    assert json.loads((suite_dir.path / "state" / "060.json").read_text())["status"] == "not_run"


def test_dry_run_records_the_plan_and_changes_nothing(suite_dir):
    suite_dir.makepyfile(test_040_deploy="""
import pytest, subprocess

@pytest.fixture(scope="session")
def deployment(plan):
    plan.run(["touch", "deployed"], lambda: subprocess.run(["touch", "deployed"], check=True))
    plan.carry_out("write", "config.txt", lambda: open("config.txt", "w").write("x"))
    if plan.dry_run:
        pytest.skip("dry run")

def test_deployed(deployment):
    pass
""")
    result = suite_dir.runpytest("--dry-run", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([
        "*riva-verify dry run: nothing was executed*", "  1. run     touch deployed", "  2. write   config.txt",
    ])
    assert not (suite_dir.path / "deployed").exists() and not (suite_dir.path / "config.txt").exists()
    assert not (suite_dir.path / "state").exists()
    plan = json.loads((suite_dir.path / "reports" / "plan.json").read_text())
    assert plan["dry_run"] is True
    assert [a["argv"] for a in plan["actions"] if a["kind"] == "run"] == [["touch", "deployed"]]

    suite_dir.runpytest().assert_outcomes(passed=1)
    assert (suite_dir.path / "deployed").exists()
