"""The chain as a user runs it: `RIVA__TARGET=docker pytest suites/` with RIVA__ARTIFACT and a bucket converts the
staged .riva with riva-build and riva-deploy in the riva-lite image, stages the repository beside the artifact, and
phase 030's gate passes it (compute capability cpu); the next run, with nothing local, fetches it instead."""

from __future__ import annotations

import json

import pytest

from rivaverify import buildfacts
from tests.test_artifact_support import bucket_fixture, moto_s3_fixture  # noqa: F401 (the fixtures)
from tests.test_convert import convert_containers
from tests.test_docker_suites import DockerRun

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _run(tmp_path, bucket, name, archive):
    key, secret = bucket.credentials
    run = DockerRun(tmp_path / name, tmp_path / name / "work", {
        "RIVA__ARTIFACT": str(archive), "RIVA__BUCKET": bucket.bucket, "RIVA__S3_ENDPOINT_URL": bucket.endpoint_url,
        "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": bucket.region or "us-east-1"})
    result = run.pytest("-m", "artifact or modelrepo")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert run.state_of("020")["status"] == "passed" and run.state_of("030")["status"] == "passed"
    return run, result


def test_the_first_run_converts_and_stages_the_next_fetches(tmp_path, bucket, docker_engine, riva_lite_image,
                                                            rivalite_artifact):
    first, _ = _run(tmp_path, bucket, "first", rivalite_artifact)
    build = first.state_of("030")["facts"]["build"]
    assert build["built_for"] == "cpu" and build["here"] == ["cpu"] and build["warnings"] == []
    assert build["facts"]["image"] == riva_lite_image and build["facts"]["build_options"]["chunk_size"] == 0.16
    (summary,) = (first.reports / "convert").glob("*.convert.json")
    assert set(json.loads(summary.read_text())["seconds"]) == {"riva-build", "riva-deploy"}
    plan = " ".join(a["what"] for a in json.loads((first.reports / "plan.json").read_text())["actions"])
    assert "riva-build speech_recognition -f" in plan and "riva-deploy -f" in plan
    keys = [o["Key"] for o in bucket.connect().client.list_objects_v2(Bucket=bucket.bucket)["Contents"]]
    assert any(".converted/" in k and "/compute-cpu_tensorrt-none/" in k and k.endswith("/conversion.json")
               for k in keys)

    second, _ = _run(tmp_path, bucket, "second", rivalite_artifact)  # the same artifact: already staged
    assert not (second.reports / "convert").exists()  # nothing converted
    repo = next((tmp_path / "second" / "work" / "convert").glob("*/models"))
    assert buildfacts.read(repo)["built_at"] == build["facts"]["built_at"]
    assert json.loads((repo / ".rivaverify-source.json").read_text())["deployed_by"].startswith("fetched s3://")
    assert convert_containers(docker_engine, tmp_path) == []
