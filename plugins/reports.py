"""Reports of a run: reports/<name>.html (self-contained), reports/<name>.xml (JUnit), reports/<name>.json.

reports/<name>.json holds the phases and the summary (verdict, what was verified, key figures with their bounds);
plugins/summary.py renders that summary at the top of the HTML page."""

from __future__ import annotations

import importlib.metadata
import platform
import re
import socket
from typing import Any

import pytest
from _pytest.junitxml import xml_key

from plugins.phases import get_tracker, next_steps
from plugins.settings import get_settings
from rivaverify import releases, targets
from rivaverify.diagnostics import redact_mapping
from rivaverify.files import SCHEMA_VERSION, now, write_json_atomic
from rivaverify.phases import phase_of_path
from rivaverify.report import summary
from rivaverify.settings import Settings, public_dict, thresholds

PACKAGES = ("riva-verify", "pytest", "nvidia-riva-client", "tritonclient", "grpcio", "nvidia-pytriton", "docker")
RUN_KEY = pytest.StashKey[dict[str, Any]]()  # the run's report data, for plugins/summary.py


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
    config.pluginmanager.register(Summary(config, name, reports / f"{name}.json"), "riva-report-summary")


@pytest.hookimpl(optionalhook=True)
def pytest_metadata(metadata: dict, config: pytest.Config) -> None:
    """The HTML environment table: target, profile, versions, the settings that are set; everything redacted."""
    settings = get_settings(config)
    metadata["Riva target"] = str(settings.target)
    metadata["Profile"] = str(settings.profile)
    metadata["Versions"] = versions()
    values = public_dict(settings)
    metadata["Settings"] = {k: v for k, v in values.items() if v is not None}
    unset = sorted(k for k, v in values.items() if v is None)
    metadata["Unset settings"] = f"{len(unset)} (their defaults; docs/configuration.md): {', '.join(unset)}"
    redacted = redact_mapping(metadata)
    metadata.clear()
    metadata.update(redacted)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any):
    """Each numeric figure also as its own JUnit property, riva.figure.<key> = value, for CI systems."""
    outcome = yield
    report = outcome.get_result()
    if call.when == "teardown":
        report.user_properties += [(f"riva.figure.{v['key']}", v["value"]) for n, v in report.user_properties
                                   if n == "riva.figure" and isinstance(v.get("value"), int | float)]


class Summary:
    def __init__(self, config: pytest.Config, name: str, path: Any) -> None:
        self.config, self.name, self.path = config, name, path
        self.started_at = now()
        self.seconds: dict[str, float] = {}  # phase -> setup, call and teardown time of its tests

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        phase = phase_of_path(report.nodeid.split("@")[0])
        if phase is not None:
            self.seconds[phase.order] = self.seconds.get(phase.order, 0.0) + report.duration

    def phases(self) -> list[dict[str, Any]]:
        tracker = get_tracker(self.config)
        out = []
        for order, rec in sorted(tracker.records.items()):
            data = rec.to_json()
            data["seconds"] = round(self.seconds.get(order, 0.0), 2)
            if rec.status == "failed":
                data["next_steps"] = next_steps(self.config, rec)
            out.append(data)
        return out

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        settings = get_settings(self.config)
        run = {
            "schema_version": SCHEMA_VERSION, "name": self.name,
            "target": str(settings.target), "profile": str(settings.profile), "dry_run": settings.dry_run,
            "started_at": self.started_at, "finished_at": now(), "exit_status": int(exitstatus),
            "versions": versions(), "settings": public_dict(settings),
            "reports": {"html": getattr(self.config.option, "htmlpath", None), "junit": self.config.option.xmlpath},
            "phases": self.phases(),
        }
        run["summary"] = run_summary(run, settings)
        self.config.hook.pytest_riva_report(config=self.config, run=run)
        self.config.stash[RUN_KEY] = run
        write_json_atomic(self.path, run)
        junit_properties(self.config, run["summary"])


def run_summary(run: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Verdict, what was verified, key figures with their bounds (rivaverify.report.summary)."""
    target = targets.get(settings)
    image, digest, kind = deployed_image(target)
    host = settings.grpc_address if not target.deploys else \
        f"{socket.gethostname()} ({settings.grpc_address})"
    bounds = thresholds(settings).model_dump()
    return {"verdict": summary.verdict(run["exit_status"], run["phases"]),
            "verified": summary.verified(run, image, digest, host, kind, release=str(target.release)),
            "figures": summary.key_figures(run["phases"], bounds), "bounds": bounds}


def deployed_image(target: targets.Target) -> tuple[str | None, str | None, str | None]:
    """(image, digest, kind) of target docker's image: RIVA__IMAGE or the riva-lite image's tag (its NIM image's
    with flavor nim); digest from the engine. Other targets run no image of this run's."""
    image = target.settings.image
    if not target.uses_docker or target.settings.dry_run:
        return image, None, releases.family(image)
    if not image:
        from rivaverify.adapters import rivalite

        try:
            image = rivalite.nim_image_tag() if target.nim else rivalite.image_tag()
        except rivalite.RivaLiteMissing:
            return None, None, None
    return image, summary.image_digest(image), releases.family(image)


def junit_properties(config: pytest.Config, s: dict[str, Any]) -> None:
    """The verdict and the regressions as properties of the JUnit test suite."""
    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    xml.add_global_property("riva.verdict", s["verdict"]["status"])
    if s["verdict"].get("phase"):
        xml.add_global_property("riva.failed_phase", s["verdict"]["phase"])
    for text in s.get("history", {}).get("regressions", []):
        xml.add_global_property("riva.regression", text)
