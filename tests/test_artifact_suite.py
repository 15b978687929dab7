"""Suite 020 and its fixtures, run by pytester against the embedded S3 server (or a configured bucket)."""

from __future__ import annotations

import importlib.util
import json

import boto3.s3.transfer  # noqa: F401 (imported once here, not again by every in-process pytester run)
import moto.server  # noqa: F401 (same)
import pytest

from rivaverify.artifact import StageRequest, stage
from tests.conftest import ROOT
from tests.test_artifact_support import (  # noqa: F401 (the fixtures bucket and moto_s3)
    bucket_fixture,
    deployable,
    make_archive,
    moto_s3_fixture,
)

PLUGINS = """
import json, pytest

pytest_plugins = [
    "plugins.settings", "plugins.phases", "plugins.state", "plugins.dryrun",
    "plugins.reports", "plugins.bundle", "fixtures.settings", "fixtures.host", "fixtures.artifact",
]
"""

# What the deployment side does: build the repository from staged_artifact, record where it came from.
MODEL_REPO = """

@pytest.fixture(scope="session")
def model_repo(staged_artifact, tmp_path_factory):
    repo = tmp_path_factory.mktemp("repo")
    record = {{"artifact_id": {artifact_id}, "sha256": {sha256}}}
    (repo / ".rivaverify-source.json").write_text(json.dumps(record))
    return repo
"""
SAME = MODEL_REPO.format(artifact_id="staged_artifact.artifact_id", sha256="staged_artifact.sha256")


@pytest.fixture
def suite(pytester, monkeypatch, tmp_path):
    """A pytester dir holding suite 020; RIVA__ARTIFACT is a small deployable archive."""
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("RIVA__ARTIFACT", str(deployable(tmp_path)))
    monkeypatch.setenv("RIVA__WORK_DIR", str(pytester.path / "work"))
    pytester.makepyfile(test_020_artifact=(ROOT / "suites" / "test_020_artifact.py").read_text())
    return pytester


def test_suite_passes_against_the_embedded_server(suite):
    suite.makeconftest(PLUGINS + SAME)
    result = suite.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4)
    state = json.loads((suite.path / "state" / "020.json").read_text())
    assert state["status"] == "passed"
    assert state["facts"]["artifact"]["uri"] == "s3://rivaverify-artifacts/dev/parakeet-rnnt-1.1b-en-US/8.1/"
    assert state["figures"]["fetched_bytes"]["value"] == 0  # staged on this machine: the extracted copy is used
    cached = suite.path / "work" / "artifacts" / "rivaverify-artifacts" / "dev" / "parakeet-rnnt-1.1b-en-US" / "8.1"
    assert (cached / "models" / "model.riva").is_file()
    again = suite.runpytest()  # a new session, a new server: staged again, nothing downloaded
    again.assert_outcomes(passed=4)
    assert (cached / "models" / "model.riva").is_file()


def test_repository_from_another_artifact_fails_the_phase(suite):
    suite.makeconftest(PLUGINS + MODEL_REPO.format(artifact_id="'other-1-abc'", sha256="staged_artifact.sha256"))
    result = suite.runpytest()
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*artifact_id 'other-1-abc', staged 'parakeet-rnnt-1.1b-en-US-8.1-*"
                                 "built from another artifact*"])


def test_without_a_model_repo_fixture_the_check_is_skipped_with_the_reason(suite):
    suite.makeconftest(PLUGINS)
    result = suite.runpytest("-rs")
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(["*no model_repo fixture*"])


def test_dry_run_lists_the_actions_and_does_nothing(suite):
    suite.makeconftest(PLUGINS + SAME)
    result = suite.runpytest("--dry-run")
    result.assert_outcomes(skipped=4)
    kinds = [a["kind"] for a in json.loads((suite.path / "reports" / "plan.json").read_text())["actions"]]
    assert kinds == ["start", "stage", "fetch"]
    assert not (suite.path / "work").exists()


def test_a_bad_artifact_fails_the_phase_with_the_reason_and_stops_later_ones(suite, monkeypatch, tmp_path):
    bad = make_archive(tmp_path / "evil-deployable_v1.tar.gz", [("../../evil.riva", b"x")])
    monkeypatch.setenv("RIVA__ARTIFACT", str(bad))
    suite.makeconftest(PLUGINS + SAME)
    suite.makepyfile(test_040_deploy="def test_deploy():\n    pass\n")
    result = suite.runpytest()
    result.assert_outcomes(errors=4, skipped=1)
    result.stdout.fnmatch_lines(["*unsafe member '../../evil.riva'*", "040 deploy*NOT_RUN*"])


def test_a_given_model_repo_with_no_artifact_skips_the_phase_and_later_ones_run(suite, monkeypatch, tmp_path):
    """The GPU workflows: RIVA__MODEL_REPO and no RIVA__ARTIFACT, riva-lite unable to pack (no lite extra)."""
    monkeypatch.delenv("RIVA__ARTIFACT")
    monkeypatch.setenv("RIVA__MODEL_REPO", str(tmp_path))
    monkeypatch.setenv("RIVALITE_MODEL", str(tmp_path / "no-model"))  # packing riva-lite's archive would fail
    suite.makeconftest(PLUGINS)
    suite.makepyfile(test_040_deploy="def test_deploy():\n    pass\n")
    result = suite.runpytest("-rs", "-p", "no:randomly")
    result.assert_outcomes(passed=1, skipped=4)
    result.stdout.fnmatch_lines([f"*RIVA__MODEL_REPO={tmp_path} is given and RIVA__ARTIFACT is not*nothing to stage*"])
    assert not (suite.path / "reports" / "plan.json").exists()  # no S3 server started, nothing packed


def test_riva_lite_unable_to_pack_fails_the_phase_with_what_to_set(suite, monkeypatch, tmp_path):
    monkeypatch.delenv("RIVA__ARTIFACT")
    monkeypatch.setenv("RIVALITE_MODEL", str(tmp_path / "no-model"))  # as riva-lite without its pinned model
    suite.makeconftest(PLUGINS + SAME)
    suite.makepyfile(test_040_deploy="def test_deploy():\n    pass\n")
    result = suite.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=4, skipped=1)
    result.stdout.fnmatch_lines(["*riva-lite cannot pack its own*no-model does not exist*set RIVA__ARTIFACT*"
                                 "RIVA__BUCKET*RIVA__MODEL_REPO*lite extra*", "040 deploy*NOT_RUN*"])
    assert "Traceback" not in result.stdout.str() and "RivaLiteError" not in result.stdout.str()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("rivalite") is None, reason="riva-lite is not installed")
def test_embedded_default_stages_riva_lite(suite, monkeypatch):
    monkeypatch.delenv("RIVA__ARTIFACT")
    suite.makeconftest(PLUGINS + SAME)
    suite.runpytest().assert_outcomes(passed=4)


def test_a_configured_bucket_and_staged_prefix_are_used_as_they_are(suite, monkeypatch, bucket, tmp_path):
    store = bucket.connect()
    uri = stage(store, StageRequest(str(deployable(tmp_path / "x" if (tmp_path / "x").mkdir() is None else None)),
                                    bucket.bucket, env="prod", work_dir=tmp_path / "w")).uri
    monkeypatch.setenv("RIVA__ARTIFACT", uri)
    monkeypatch.setenv("RIVA__BUCKET", bucket.bucket)
    monkeypatch.setenv("RIVA__S3_ENDPOINT_URL", bucket.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", bucket.credentials[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", bucket.credentials[1])
    suite.makeconftest(PLUGINS + SAME)
    result = suite.runpytest()
    result.assert_outcomes(passed=4)
    state = json.loads((suite.path / "state" / "020.json").read_text())
    assert state["facts"]["artifact"]["uri"] == uri
    assert state["figures"]["fetched_bytes"]["value"] > 0  # fetched from the bucket, verified
    suite.runpytest().assert_outcomes(passed=4)  # a rerun does not download a verified artifact again
    state = json.loads((suite.path / "state" / "020.json").read_text())
    assert state["figures"]["fetched_bytes"]["value"] == 0
