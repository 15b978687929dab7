"""What a run does not use is not loaded.

hypothesis's pytest plugin (installed with the dev extra) imports all of hypothesis in its terminal summary, 0.15 s
with bytecode cached and 0.5 s without, even in a run that used none of it (`pytest suites/`). In a run in this one
process that never imported hypothesis, nothing of it is left to report: its plugin is unregistered before the
summary. A distributed run keeps it (its workers' reports may carry failing examples to write out here).
"""

from __future__ import annotations

import sys

import pytest

HYPOTHESIS_PLUGIN = "hypothesispytest"  # its pytest11 entry point's name


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    distributed = getattr(config.option, "numprocesses", None) or getattr(config.option, "dist", "no") != "no"
    if "hypothesis" in sys.modules or distributed:
        return
    plugin = config.pluginmanager.get_plugin(HYPOTHESIS_PLUGIN)
    if plugin is not None:
        config.pluginmanager.unregister(plugin)
