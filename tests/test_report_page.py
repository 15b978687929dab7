"""The report page, JSON, JUnit and history of runs of small suites (pytester): the summary comes first, the
environment folds below it, figures reach CI, and a run worse than the earlier ones is marked a regression."""

from __future__ import annotations

import html
import json
import os
import re
import xml.etree.ElementTree as ET

DEPLOY = """
import os, pytest
pytestmark = pytest.mark.smoke

def test_readiness(record_figure):
    record_figure("ready.triton_live", 3.5, "s")
    record_figure("ready_total", 3.7, "s")
    assert os.environ.get("DEPLOY_OK") == "1", "tritonserver: --model-repository must be specified"
"""
SMOKE = """
import os, pytest
from pytest_html import extras as html_extras
from rivaverify.report import charts
pytestmark = pytest.mark.smoke

def test_recognize(record_figure, extras):
    record_figure("recognize.seconds", float(os.environ["TOOK"]), "s")
    record_figure("recognize.wer", 0.0, transcript="what is natural language processing")
    extras.append(html_extras.html(charts.histogram({"partial": [120, 150, 150, 180], "final": [300, 350]},
                                                    "Latency per response")))
"""


def run(suite_dir, monkeypatch, took: float, deploy_ok: bool = True):
    monkeypatch.setenv("TOOK", str(took))
    monkeypatch.setenv("DEPLOY_OK", "1" if deploy_ok else "0")
    suite_dir.runpytest("-m", "smoke", "-p", "no:cacheprovider")
    reports = suite_dir.path / "reports"
    return (reports / "smoke.html").read_text(), json.loads((reports / "smoke.json").read_text()), reports


def section(page: str) -> str:
    return page[page.index('<section id="riva-summary">'):page.index("</section>")]


def test_the_summary_comes_first_and_marks_a_regression(suite_dir, monkeypatch):
    suite_dir.makepyfile(test_040_deploy=DEPLOY, test_050_smoke=SMOKE)
    for took in (1.0, 1.1):
        run(suite_dir, monkeypatch, took)
    page, data, reports = run(suite_dir, monkeypatch, 2.0)

    at = {name: page.index(mark) for name, mark in (("summary", '<section id="riva-summary">'),
                                                    ("environment", 'id="environment-header"'),
                                                    ("results", 'id="results-table"'))}
    assert at["summary"] < at["environment"] < at["results"], at
    top = section(page)
    assert "PASSED" in top and "<h2>Phases</h2>" in top and "040 deploy" in top and "050 smoke" in top
    assert "smoke: Recognize response" in top and "≤ 10 s" in top  # the figure beside the dev profile's bound
    assert "▲ worse than median 1.05 s" in top  # 2.0 s against 1.0 and 1.1: beyond 20 %
    assert "Latency per response" in top  # the test's chart, in view, not only in its row
    assert "Readiness: seconds per stage" in top
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"https?:", page), "the page must open offline"
    # rewritten atomically over the earlier runs' pages, and readable as pytest-html (open()) leaves a file
    assert (reports / "smoke.html").stat().st_mode & 0o777 == 0o666 & ~current_umask()
    assert not [p.name for p in reports.iterdir() if p.name.endswith(".tmp")]

    # the environment: folded by pytest-html's own toggle, the unset settings on one line
    assert '<table id="environment" class="hidden">' in page
    blob = json.loads(html.unescape(re.search(r'data-jsonblob="([^"]*)"', page).group(1)))
    env = blob["environment"]
    assert None not in env["Settings"].values() and "api_key" not in env["Settings"]
    assert re.match(r"\d+ \(their defaults; docs/configuration.md\): .*api_key", env["Unset settings"])

    s = data["summary"]
    assert s["verdict"]["status"] == "passed" and s["verified"]["target"] == "local"
    fig = {f["id"]: f for f in s["figures"]}["050 recognize.seconds"]
    assert (fig["value"], fig["bound"], fig["verdict"]) == (2.0, 10, "ok")
    assert fig["trend"]["values"] == [1.0, 1.1, 2.0] and fig["trend"]["regression"]
    assert s["history"]["runs"] == 3 and len(s["history"]["regressions"]) == 1
    lines = (reports / "history" / "smoke.jsonl").read_text().splitlines()
    assert [json.loads(line)["figures"]["050 recognize.seconds"]["value"] for line in lines] == [1.0, 1.1, 2.0]

    junit = ET.parse(reports / "smoke.xml").getroot()
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert props["riva.figure.recognize.seconds"] == "2.0" and props["riva.figure.ready_total"] == "3.7"
    assert props["riva.verdict"] == "passed" and "smoke: Recognize response: 2 against" in props["riva.regression"]


def test_a_failed_run_names_the_phase_its_message_and_next_steps(suite_dir, monkeypatch):
    suite_dir.makepyfile(test_040_deploy=DEPLOY, test_050_smoke=SMOKE)
    page, data, reports = run(suite_dir, monkeypatch, 1.0, deploy_ok=False)
    top = section(page)
    assert "FAILED in 040 deploy" in top and "--model-repository must be specified" in top
    assert "Next steps for 040 deploy" in top and "not run because of it: 050 smoke" in top
    assert "rivaverify shim install DIR --model-repository REPO --print" in top  # the phase's own next step
    assert data["summary"]["verdict"]["phase"] == "040 deploy"
    ready = {f["id"]: f for f in data["summary"]["figures"]}["040 ready_total"]
    assert ready["verdict"] == "phase failed"
    props = {p.get("name"): p.get("value") for p in ET.parse(reports / "smoke.xml").getroot().iter("property")}
    assert (props["riva.verdict"], props["riva.failed_phase"]) == ("failed", "040 deploy")


def test_a_dry_run_and_a_run_without_phases_keep_no_history(suite_dir, monkeypatch):
    suite_dir.makepyfile(test_050_smoke=SMOKE, test_plain="def test_plain():\n    pass\n")
    monkeypatch.setenv("TOOK", "1.0")
    suite_dir.runpytest("test_plain.py", "-p", "no:cacheprovider")
    suite_dir.runpytest("-m", "smoke", "--dry-run", "-p", "no:cacheprovider")
    assert not (suite_dir.path / "reports" / "history").exists()
    assert '<section id="riva-summary">' in (suite_dir.path / "reports" / "run.html").read_text()


def test_the_nightly_workflow_keeps_the_history_across_nights():
    """Restored before the suite from the last night's cache, saved after it even when the suite failed."""
    from tests.test_workflows import load

    steps = load("nightly-gpu.yml")["jobs"]["production"]["steps"]
    names = [s.get("uses", s.get("run", "")).split("@")[0] for s in steps]
    suite = next(i for i, s in enumerate(steps) if "pytest suites/ -m production" in s.get("run", ""))
    restore, save = names.index("actions/cache/restore"), names.index("actions/cache/save")
    assert restore < suite < save and steps[save]["if"] == "always()"
    assert steps[restore]["with"]["path"] == steps[save]["with"]["path"] == "reports/history"
    assert steps[restore]["with"]["restore-keys"] == "riva-history-nightly-"
    assert steps[save]["with"]["key"].startswith("riva-history-nightly-")


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
