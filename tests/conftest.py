"""Shared fixtures of the project's own tests."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The pytester dirs register exactly the plugins and fixtures the root conftest.py registers.
PLUGINS = f"pytest_plugins = {runpy.run_path(str(ROOT / 'conftest.py'))['pytest_plugins']!r}\n"


@pytest.fixture(autouse=True)
def _clean_riva_env(monkeypatch):
    """Each test starts from default settings: no RIVA__* from the caller's environment."""
    for name in list(os.environ):
        if name.upper().startswith("RIVA__"):
            monkeypatch.delenv(name)


@pytest.fixture
def suite_dir(pytester, monkeypatch):
    """A pytester dir whose conftest registers riva-verify's plugins, importable in subprocesses too."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    pytester.makeconftest(PLUGINS)
    return pytester
