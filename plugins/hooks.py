"""Hook specifications of riva-verify (registered with pytest_addhooks)."""

import pytest


@pytest.hookspec
def pytest_riva_next_steps(config, phase, failures):
    """Next-step lines for a failed phase (beyond the phase's own), e.g. from log signatures.

    :param phase: the rivaverify.phases.Phase that failed
    :param failures: list of {"nodeid", "message"} of its failed tests
    :return: a list of strings, or None
    """


@pytest.hookspec
def pytest_riva_report(config, run):
    """The run's report data, before reports/<name>.json and the HTML summary are written; a plugin may add to
    it (plugins/history.py adds each key figure's trend).

    :param run: the dict reports/<name>.json will hold; run["summary"] has the verdict, what was verified and
        the key figures
    """
