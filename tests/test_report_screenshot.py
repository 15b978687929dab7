"""The report as a person sees it: rendered by headless Chromium (Debian's `chromium`) in a 1400x900 window, the
screenshot kept in reports/screenshots/. The summary is on the first screen; a failed run's summary names the
failed phase and its next step there. Without chromium the tests skip, but fail under RIVA__REQUIRE_DOCKER=true
(.ci/run, which installs chromium)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from plugins.settings import get_settings
from tests.conftest import ROOT
from tests.test_report_page import DEPLOY, SMOKE
from tests.test_suites_on_riva_lite import Run

pytestmark = pytest.mark.slow
SHOTS = ROOT / "reports" / "screenshots"
WIDTH, HEIGHT = 1400, 900
PASSED_GREEN, FAILED_RED = "rgb(46, 125, 50)", "rgb(198, 40, 40)"

# Appended to a copy of the page: where the summary's parts are, once pytest-html's script has run.
MEASURE = """<script>addEventListener("load", () => {
  const box = (s) => { const e = document.querySelector(s); if (!e) return null;
    const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, height: r.height, text: e.innerText}; };
  const head = document.querySelector("#riva-summary .rv-head");
  const out = {summary: box("#riva-summary"), head: box("#riva-summary .rv-head"), next: box("#riva-summary .rv-next"),
               figures: box("#riva-summary .rv-figures"), environment: box("#environment"),
               color: head && getComputedStyle(head).backgroundColor};
  const pre = document.createElement("pre"); pre.id = "riva-measure"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});</script>"""


@pytest.fixture
def chromium(request, tmp_path):
    """A function running headless chromium (own profile in tmp_path) with the given arguments."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        why = "no chromium to render the report: apt-get install chromium"
        if get_settings(request.config).require_docker:
            pytest.fail(f"{why} (.ci/run installs it; RIVA__REQUIRE_DOCKER=true lets no required tool skip)")
        pytest.skip(why)

    def run(*args: str) -> str:
        cmd = [found, "--headless", "--no-sandbox", "--disable-gpu", f"--window-size={WIDTH},{HEIGHT}",
               f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    return run


def look(chromium, page: Path, name: str) -> dict:
    """Screenshot of the page's first screen (kept as reports/screenshots/<name>.png) and where its parts are."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / f"{name}.png"
    chromium(f"--screenshot={shot}", page.resolve().as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    measured = page.with_name(f"{page.stem}-measured.html")
    measured.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    dom = chromium("--virtual-time-budget=10000", "--dump-dom", measured.as_uri())
    found = re.search(r'<pre id="riva-measure">(.*?)</pre>', dom, re.S)
    assert found, "the page did not load in chromium: " + dom[-1000:]
    return json.loads(html.unescape(found.group(1)))


def test_a_passing_run_has_its_whole_summary_on_the_first_screen(suite_dir, monkeypatch, chromium):
    suite_dir.makepyfile(test_040_deploy=DEPLOY, test_050_smoke=SMOKE)
    monkeypatch.setenv("DEPLOY_OK", "1")
    for took in ("1.0", "1.2"):
        monkeypatch.setenv("TOOK", took)
        suite_dir.runpytest("-m", "smoke", "-p", "no:cacheprovider")
    seen = look(chromium, suite_dir.path / "reports" / "smoke.html", "summary-passed")
    assert seen["color"] == PASSED_GREEN and seen["head"]["text"].startswith("PASSED")
    assert seen["summary"]["top"] < 20 and seen["summary"]["bottom"] <= HEIGHT, seen["summary"]
    assert "smoke: Recognize response" in seen["figures"]["text"]
    assert seen["environment"]["height"] == 0  # folded


def test_a_real_failed_run_shows_the_failed_phase_and_its_next_step_first(tmp_path, chromium):
    """The launcher bug on riva-lite (`--no-shim`): phase 040 fails; the first screen says so and what to do."""
    pytest.importorskip("pytriton", reason="needs the lite extra: pip install -e '.[lite]'")
    run = Run(tmp_path, tmp_path / "work")
    result = run.pytest("-m", "smoke", "--no-shim")
    assert result.returncode == 1, result.stdout[-3000:]
    seen = look(chromium, run.reports / "smoke.html", "smoke-failed")
    assert seen["color"] == FAILED_RED and seen["head"]["text"].startswith("FAILED in 040 deploy")
    assert seen["head"]["bottom"] <= HEIGHT and seen["next"]["bottom"] <= HEIGHT, seen
    assert "the shim is not first on PATH" in seen["next"]["text"]
    assert "not run because of it: 050 smoke" in seen["next"]["text"]
    assert run.leftovers() == []
