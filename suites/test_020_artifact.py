"""Phase 020: the staged model artifact is complete, described, intact, and the one the repository came from."""

from __future__ import annotations

import pytest

from rivaverify.artifact import verify

pytestmark = [pytest.mark.smoke, pytest.mark.production, pytest.mark.aws]


def test_marker_present_and_newest(staged_artifact, record_fact):
    record_fact("artifact", {"uri": staged_artifact.uri, "artifact_id": staged_artifact.artifact_id,
                             "mode": staged_artifact.artifact.get("mode")})
    problems = verify.marker_problems(staged_artifact)
    assert not problems, "\n".join(problems)


def test_artifact_json_matches_schema(staged_artifact):
    problems = verify.schema_problems(staged_artifact)
    assert not problems, "\n".join(problems)


def test_models_match_checksums(staged_artifact, record_fact, record_figure):
    record_fact("models", {n: {"size_bytes": staged_artifact.sizes.get(n), "sha256": s}
                           for n, s in staged_artifact.sha256.items()})
    record_figure("fetched_bytes", staged_artifact.downloaded_bytes, "B")
    problems = verify.model_problems(staged_artifact)
    assert not problems, "\n".join(problems)


def test_repository_built_from_this_artifact(staged_artifact, settings, request, record_fact):
    try:
        repo = request.getfixturevalue("model_repo")
    except pytest.FixtureLookupError:
        pytest.skip("no model_repo fixture (the deployment fixtures are not installed): nothing to compare")
    if settings.model_repo and not (repo / verify.SOURCE_RECORD).exists():
        pytest.skip(f"repository {repo} comes from RIVA__MODEL_REPO, not from the staged artifact")
    record_fact("model_repo", str(repo))
    problems = verify.source_record_problems(repo, staged_artifact)
    assert not problems, "\n".join(problems)
