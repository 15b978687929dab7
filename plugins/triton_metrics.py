"""Triton's metrics around phases 040-080: scraped before a phase's first test and after its last one; the
growth is recorded in the phase's figures (triton.*) and facts (triton_metrics, triton_metrics_warnings).
A scrape that fails is a fact with the reason; metrics warn, they never fail a phase."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.phases import get_tracker
from plugins.settings import get_settings
from rivaverify import triton_metrics as tm
from rivaverify.phases import phase_of_path

WATCHED = frozenset({"040", "050", "060", "070", "080"})
BEFORE_KEY = pytest.StashKey[dict[str, tm.Scrape]]()


def _phase(item: pytest.Item | None) -> Any:
    phase = phase_of_path(item.nodeid.split("@")[0]) if item is not None else None
    return phase if phase is not None and phase.order in WATCHED else None


def _active(config: pytest.Config) -> bool:
    return not get_settings(config).dry_run


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a watched phase's first test (after the phase runner's skip: a phase not run is not scraped)."""
    phase = _phase(item)
    before = item.config.stash.setdefault(BEFORE_KEY, {})
    if phase is not None and phase.order not in before and _active(item.config):
        before[phase.order] = tm.scrape(tm.metrics_url(get_settings(item.config)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After a watched phase's last test, before the deployment may stop: scrape, record, warn."""
    phase = _phase(item)
    before = item.config.stash.get(BEFORE_KEY, {})
    if phase is not None and _phase(nextitem) != phase and phase.order in before:
        passed = get_tracker(item.config).record(phase).status == "passed"
        after = tm.scrape(tm.metrics_url(get_settings(item.config)))
        for kind, key, value in record(before.pop(phase.order), after, phase.order, passed):
            item.user_properties.append((kind, {"key": key, "value": value} if kind == "riva.fact" else value))
    return (yield)


def record(before: tm.Scrape, after: tm.Scrape, order: str, passed: bool) -> list[tuple[str, str, Any]]:
    """(riva.fact | riva.figure, key, value) to record for one phase."""
    fact: dict[str, Any] = {"url": after.url, "before": before.error or "scraped", "after": after.error or "scraped"}
    if after.error:
        return [("riva.fact", "triton_metrics", fact)]
    d = tm.delta(before, after)
    fact["restarted"] = bool(d.restarted)
    out: list[tuple[str, str, Any]] = [("riva.fact", "triton_metrics", fact)]
    out += [("riva.figure", key, {"key": key, **fig}) for key, fig in tm.figures(d).items()]
    warned = tm.warnings(d, order, passed)
    if warned:
        out.append(("riva.fact", "triton_metrics_warnings", warned))
    return out
