"""Model repository validation, and phase 030 failing on broken repositories with the file named."""

from __future__ import annotations

import json

import pytest

from rivaverify import modelrepo
from tests.conftest import ROOT
from tests.repos import break_repo, make_repo


def test_a_good_repository_has_no_problems(tmp_path):
    repo = modelrepo.read(make_repo(tmp_path))
    assert repo.problems == []
    assert repo.models["asr-ensemble"].steps == ["asr-am"]
    assert repo.models["asr-am"].versions == ["1"] and repo.models["asr-am"].config.backend == "python"


@pytest.mark.parametrize(("how", "check", "reason"), [
    ("missing-version", "version", "has no numeric version directory"),
    ("name-mismatch", "name", "name 'asr-acoustic' does not match its folder 'asr-am'"),
    ("unparseable", "parse", "Expected"),
    ("missing-step", "ensemble", "ensemble step 'asr-decoder' is not a model in the repository"),
])
def test_each_break_is_found_with_its_file(tmp_path, how, check, reason):
    repo_dir = make_repo(tmp_path)
    bad = break_repo(repo_dir, how)
    problems = modelrepo.read(repo_dir).problems
    assert [(p.check, p.path) for p in problems] == [(check, bad)]
    assert reason in problems[0].reason


def test_not_a_directory_and_empty_repository(tmp_path):
    assert "is not a directory" in str(modelrepo.read(tmp_path / "nope").problems[0])
    assert "holds no model directory" in str(modelrepo.read(tmp_path).problems[0])


@pytest.mark.parametrize("how", ["missing-version", "name-mismatch", "unparseable", "missing-step"])
def test_phase_030_fails_naming_the_file_and_stops_later_phases(pytester, monkeypatch, tmp_path, how):
    repo_dir = make_repo(tmp_path)
    bad = break_repo(repo_dir, how)
    monkeypatch.setenv("RIVA__MODEL_REPO", str(repo_dir))
    monkeypatch.setenv("RIVA__STATE_DIR", str(pytester.path / "state"))
    monkeypatch.setenv("RIVA__REPORTS_DIR", str(pytester.path / "reports"))
    monkeypatch.chdir(ROOT)
    result = pytester.runpytest_subprocess(str(ROOT / "suites" / "test_030_modelrepo.py"),
                                           str(ROOT / "suites" / "test_040_deploy.py"), "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 6 and outcomes["failed"] == 1 and outcomes["skipped"] >= 1, outcomes
    result.stdout.fnmatch_lines([f"*{bad}*", "*riva-verify next steps*", "phase 030 modelrepo failed*"])
    result.stdout.fnmatch_lines(["*040*not run*"])
    assert json.loads((pytester.path / "state" / "040.json").read_text())["status"] == "not_run"
    state = json.loads((pytester.path / "state" / "030.json").read_text())
    assert state["status"] == "failed" and str(bad) in state["failures"][0]["message"] + json.dumps(state)
