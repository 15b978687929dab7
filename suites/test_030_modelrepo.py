"""Phase 030: the Triton model repository the deployment serves, each problem with its file and reason, and its
build facts against the GPU and TensorRT that would serve it."""

from __future__ import annotations

import warnings

import pytest

from rivaverify import buildfacts, modelrepo

pytestmark = [pytest.mark.smoke, pytest.mark.production]


@pytest.fixture(scope="module")
def repository(model_repo, plan):
    if plan.dry_run and not model_repo.is_dir():
        pytest.skip("dry run")
    return modelrepo.read(model_repo)


def _assert_none(repo, check: str, what: str) -> None:
    problems = repo.problems_of(check)
    assert not problems, f"{what} in {repo.path}:\n  " + "\n  ".join(str(p) for p in problems)


def test_repository_holds_models(repository, record_fact):
    record_fact("model_repo", str(repository.path))
    record_fact("models", {
        name: {"backend": m.config.backend or m.config.platform, "versions": m.versions, "steps": m.steps}
        for name, m in repository.models.items() if m.config is not None
    })
    _assert_none(repository, "repository", "no usable repository")


def test_every_config_parses_as_model_config(repository):
    _assert_none(repository, "parse", "config.pbtxt that does not parse as a Triton ModelConfig")


def test_every_config_name_matches_its_folder(repository):
    _assert_none(repository, "name", "model names that differ from their folders")


def test_every_model_sets_a_backend_or_platform(repository):
    _assert_none(repository, "backend", "models without a backend or platform")


def test_every_model_has_a_numeric_version_with_files(repository):
    _assert_none(repository, "version", "models without a usable version directory")


def test_ensemble_steps_point_at_existing_models(repository):
    _assert_none(repository, "ensemble", "ensembles with broken steps")


def test_repository_was_built_for_this_gpu_and_tensorrt(repository, build_target, record_fact):
    """Refused when built for another compute capability or TensorRT (its engines would not load); warned when built
    on another GPU model of the same capability, or when it has no build facts (made by hand)."""
    try:
        record = buildfacts.read(repository.path)
    except buildfacts.BuildFactsError as exc:
        pytest.fail(str(exc), pytrace=False)
    verdict = buildfacts.check(record, build_target, repository.path)
    record_fact("build", {"facts": record, **verdict.compared, "warnings": verdict.warnings})
    for warning in verdict.warnings:
        warnings.warn(warning, UserWarning, stacklevel=1)
    assert not verdict.refused, "\n".join(verdict.refused)
