"""Phase 020: the staged model artifact is complete, described, intact, and the one the repository came from."""

from __future__ import annotations

import pytest

from rivaverify.artifact import verify

pytestmark = [pytest.mark.smoke, pytest.mark.production, pytest.mark.aws]


@pytest.fixture(scope="module")
def staged(staged_artifact, plan):
    if plan.dry_run:
        pytest.skip("dry run")
    return staged_artifact


def test_marker_present_and_newest(staged, record_fact):
    record_fact("artifact", {"uri": staged.uri, "artifact_id": staged.artifact_id,
                             "mode": staged.artifact.get("mode")})
    problems = verify.marker_problems(staged)
    assert not problems, "\n".join(problems)


def test_artifact_json_matches_schema(staged):
    problems = verify.schema_problems(staged)
    assert not problems, "\n".join(problems)


def test_models_match_checksums(staged, record_fact, record_figure):
    record_fact("models", {n: {"size_bytes": staged.sizes.get(n), "sha256": s}
                           for n, s in staged.sha256.items()})
    record_figure("fetched_bytes", staged.downloaded_bytes, "B")
    problems = verify.model_problems(staged)
    assert not problems, "\n".join(problems)


def test_repository_built_from_this_artifact(staged, settings, target, request, record_fact):
    if target.nim and not settings.model_repo:
        pytest.skip("flavor nim: the NIM deploys its model into its cache itself (from NGC; riva-lite from its "
                    "pinned model), not from the staged artifact")
    try:  # by name: the artifact phase also runs where the deployment fixtures are not installed
        repo = request.getfixturevalue("model_repo")
    except pytest.FixtureLookupError:
        pytest.skip("no model_repo fixture (the deployment fixtures are not installed): nothing to compare")
    if settings.model_repo and not (repo / verify.SOURCE_RECORD).exists():
        pytest.skip(f"repository {repo} comes from RIVA__MODEL_REPO, not from the staged artifact")
    record_fact("model_repo", str(repo))
    problems = verify.source_record_problems(repo, staged)
    assert not problems, "\n".join(problems)
