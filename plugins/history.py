"""History: every run of the suites appends one record to <RIVA__HISTORY_DIR>/<name>.jsonl (default
reports/history/); each key figure of the report gets its trend over the last runs of that name, and a regression
beyond RIVA__BASELINE_TOLERANCE is marked (rivaverify.report.history)."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.settings import get_settings
from rivaverify.report import history


@pytest.hookimpl
def pytest_riva_report(config: pytest.Config, run: dict[str, Any]) -> None:
    settings = get_settings(config)
    if settings.dry_run or not run["phases"]:
        return  # a dry run changes nothing; a run without phases (the project's own tests) has no figures
    s = run["summary"]
    path = (settings.history_dir or settings.reports_dir / "history") / f"{run['name']}.jsonl"
    try:
        records = history.append(path, history.record(run, run["name"], s["verified"], s["verdict"], s["figures"]))
    except OSError as exc:
        s["history"] = {"path": str(path), "error": f"{exc}: set RIVA__HISTORY_DIR to a writable folder"}
        return
    tolerance = settings.baseline_tolerance
    for figure in s["figures"]:
        figure["trend"] = history.trend(records, figure, tolerance)
    s["history"] = {"path": str(path), "runs": len(records), "window": history.WINDOW, "tolerance": tolerance,
                    "regressions": [f["trend"]["regression"] for f in s["figures"] if f["trend"]["regression"]]}
