"""Next steps from failure signatures found in the failures and the deployment's log tails."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.settings import get_settings
from rivaverify.diagnostics import diagnose

TAIL_LINES = 400


def log_tails(config: pytest.Config) -> dict[str, str]:
    logs = get_settings(config).reports_dir / "logs"
    if not logs.is_dir():
        return {}
    return {str(p): "\n".join(p.read_text(errors="replace").splitlines()[-TAIL_LINES:])
            for p in sorted(logs.glob("*.log"))}


@pytest.hookimpl
def pytest_riva_next_steps(config: pytest.Config, phase: Any, failures: list[dict[str, str]]) -> list[str]:
    steps = []
    sources = {"the failure": "\n".join(f["message"] for f in failures), **log_tails(config)}
    seen = set()
    for where, text in sources.items():
        for d in diagnose(text, log=where != "the failure"):
            if d.signature not in seen:
                seen.add(d.signature)
                steps.append(f"{d.next_step} [seen in {where}: {d.line[:160]}]")
    return steps
