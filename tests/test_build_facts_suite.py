"""Phase 030's gate on planted build facts, run as a suite: another compute capability is refused (the phase fails,
040 is not run, the next step is named), facts missing are warned (a repository made by hand) and the phase passes."""

from __future__ import annotations

import json

import pytest

from rivaverify import buildfacts
from tests.conftest import ROOT
from tests.repos import make_repo


def _run(pytester, monkeypatch, repo):
    monkeypatch.setenv("RIVA__MODEL_REPO", str(repo))
    monkeypatch.setenv("RIVA__STATE_DIR", str(pytester.path / "state"))
    monkeypatch.setenv("RIVA__REPORTS_DIR", str(pytester.path / "reports"))
    monkeypatch.chdir(ROOT)
    return pytester.runpytest_subprocess(str(ROOT / "suites" / "test_030_modelrepo.py"),
                                         str(ROOT / "suites" / "test_040_deploy.py"), "-p", "no:cacheprovider",
                                         "--deselect", "suites/test_040_deploy.py")


def test_a_repository_built_for_a_gpu_is_refused_on_riva_lite(pytester, monkeypatch, tmp_path):
    repo = make_repo(tmp_path)
    buildfacts.write(repo, buildfacts.facts("8.6", gpu_name="NVIDIA A10G", tensorrt="10.3.0"))
    result = _run(pytester, monkeypatch, repo)
    result.stdout.fnmatch_lines(["*built for compute capability 8.6 (NVIDIA A10G), and this host has no GPU (cpu)*",
                                 "phase 030 modelrepo failed*"])
    assert "rivaverify convert" in result.stdout.str()
    state = json.loads((pytester.path / "state" / "030.json").read_text())
    assert state["status"] == "failed" and state["facts"]["build"]["built_for"] == "8.6"


def test_a_repository_without_build_facts_passes_with_a_warning(pytester, monkeypatch, tmp_path):
    result = _run(pytester, monkeypatch, make_repo(tmp_path))
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 7 and "failed" not in outcomes, outcomes
    result.stdout.fnmatch_lines(["*UserWarning*has no .rivaverify-build.json: a repository made by hand*"])
    state = json.loads((pytester.path / "state" / "030.json").read_text())
    assert "made by hand" in state["facts"]["build"]["warnings"][0]


pytestmark = pytest.mark.slow  # two suite runs in subprocesses
