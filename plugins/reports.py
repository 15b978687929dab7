"""Reports of a run: reports/<name>.html (self-contained), reports/<name>.xml (JUnit), reports/<name>.json."""

from __future__ import annotations

import html
import importlib.metadata
import platform
import re
from typing import Any

import pytest

from plugins.phases import get_tracker, next_steps
from plugins.settings import get_settings
from rivaverify.diagnostics import redact_mapping
from rivaverify.settings import public_dict
from rivaverify.state import SCHEMA_VERSION, now, write_json_atomic

PACKAGES = ("riva-verify", "pytest", "nvidia-riva-client", "tritonclient", "grpcio", "nvidia-pytriton", "docker")


def report_name(config: pytest.Config) -> str:
    settings = get_settings(config)
    if settings.report_name:
        return settings.report_name
    markexpr = getattr(config.option, "markexpr", "") or ""
    return re.sub(r"[^\w.-]+", "-", markexpr).strip("-") or "run"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Default report paths, set before pytest-html and junitxml read them."""
    if hasattr(config, "workerinput") or config.option.collectonly:
        return  # a worker, or a run that only lists tests: the last real run's reports stay
    reports = get_settings(config).reports_dir
    name = report_name(config)
    if hasattr(config.option, "htmlpath") and not config.option.htmlpath:
        config.option.htmlpath = str(reports / f"{name}.html")
        config.option.self_contained_html = True
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(reports / f"{name}.xml")
    config.pluginmanager.register(Summary(config, reports / f"{name}.json"), "riva-report-summary")


@pytest.hookimpl(optionalhook=True)
def pytest_metadata(metadata: dict, config: pytest.Config) -> None:
    """The HTML header: target, profile, versions, settings; everything redacted."""
    settings = get_settings(config)
    metadata["Riva target"] = str(settings.target)
    metadata["Profile"] = str(settings.profile)
    metadata["Versions"] = versions()
    metadata["Settings"] = public_dict(settings)
    redacted = redact_mapping(metadata)
    metadata.clear()
    metadata.update(redacted)


class Summary:
    def __init__(self, config: pytest.Config, path: Any) -> None:
        self.config, self.path = config, path
        self.started_at = now()

    def phases(self) -> list[dict[str, Any]]:
        tracker = get_tracker(self.config)
        out = []
        for _, rec in sorted(tracker.records.items()):
            data = rec.to_json()
            if rec.status == "failed":
                data["next_steps"] = next_steps(self.config, rec)
            out.append(data)
        return out

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        settings = get_settings(self.config)
        write_json_atomic(self.path, {
            "schema_version": SCHEMA_VERSION,
            "target": str(settings.target), "profile": str(settings.profile), "dry_run": settings.dry_run,
            "started_at": self.started_at, "finished_at": now(), "exit_status": int(exitstatus),
            "versions": versions(), "settings": public_dict(settings),
            "reports": {"html": getattr(self.config.option, "htmlpath", None), "junit": self.config.option.xmlpath},
            "phases": self.phases(),
        })

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list, summary: list, postfix: list, session: Any) -> None:
        rows = []
        for p in self.phases():
            counts = ", ".join(f"{n} {k}" for k, n in sorted(p["counts"].items()))
            cells = (f"{p['phase']} {p['name']}", p["status"], counts)
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
            for step in p.get("next_steps", []):
                rows.append(f"<tr><td></td><td>next step</td><td>{html.escape(step)}</td></tr>")
        if rows:
            prefix.append("<h2>Phases</h2><table><tr><th>phase</th><th>status</th><th>tests</th></tr>"
                          + "".join(rows) + "</table>")
