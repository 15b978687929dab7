"""`rivaverify stage` as a command: options, defaults from the seed's variables and .env, dry run, JSON, errors."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest

from rivaverify.artifact import MARKER
from rivaverify.cli import stage as cli
from tests.conftest import ROOT
from tests.test_artifact_support import (  # noqa: F401 (the fixtures bucket and moto_s3)
    bucket_fixture,
    deployable,
    moto_s3_fixture,
)

SEED = ("RIVA_ASR_MODEL_S3_URI", "NVIDIA_DRIVERS_S3_BUCKET", "RIVA_ASR_MODEL_NAME", "MODEL_VERSION", "ENV",
        "AWS_REGION", "AWS_ENDPOINT_URL_S3")


@pytest.fixture(autouse=True)
def _no_seed_env(monkeypatch, tmp_path):
    for name in SEED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def aws(monkeypatch, bucket):
    """The test bucket's endpoint and credentials, as a user's environment would give them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", bucket.credentials[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", bucket.credentials[1])
    monkeypatch.setenv("RIVA__S3_ENDPOINT_URL", bucket.endpoint_url)
    return bucket


def parse(argv):
    p = argparse.ArgumentParser()
    cli._arguments(p)
    return p.parse_args(argv)


def test_help_lists_the_options_and_the_seed_variables():
    out = subprocess.run([sys.executable, "-m", "rivaverify.cli.stage", "--help"], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    for word in ("--source-uri", "--bucket", "--model-name", "--version", "--env", "--region", "--endpoint-url",
                 "--reference-only", "--expected-sha256", "--dry-run", "--json", *SEED[:-1]):
        assert word in out, word


def test_add_parser_makes_a_subcommand():
    parser = argparse.ArgumentParser(prog="rivaverify")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["stage", "--bucket", "b", "--reference-only"])
    assert args.func is cli.run and args.bucket == "b" and args.reference_only


def test_defaults_come_from_the_seed_variables_then_dotenv(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("NVIDIA_DRIVERS_S3_BUCKET=from-dotenv\nMODEL_VERSION=8.1\nENV=staging\n")
    monkeypatch.setenv("RIVA_ASR_MODEL_S3_URI", "s3://src/m-deployable_v1.tar.gz")
    monkeypatch.setenv("MODEL_VERSION", "9.0")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    args = cli.resolve(parse([]), tmp_path / ".env")
    assert (args.source_uri, args.bucket, args.version, args.env, args.region) == (
        "s3://src/m-deployable_v1.tar.gz", "from-dotenv", "9.0", "staging", "eu-west-1")


def test_option_beats_riva_setting_beats_seed_variable(monkeypatch):
    monkeypatch.setenv("NVIDIA_DRIVERS_S3_BUCKET", "seed")
    monkeypatch.setenv("RIVA__BUCKET", "riva")
    assert cli.resolve(parse([])).bucket == "riva"
    assert cli.resolve(parse(["--bucket", "option"])).bucket == "option"
    assert cli.resolve(parse([])).env == "dev"


def test_missing_bucket_is_a_usage_error(capsys):
    assert cli.main(["--source-uri", "s3://a/m-deployable_v1.tar.gz"]) == 2
    assert "no bucket: pass --bucket (or set NVIDIA_DRIVERS_S3_BUCKET" in capsys.readouterr().err


def test_dry_run_contacts_nothing_and_prints_the_plan(capsys):
    argv = ["--source-uri", "s3://src/parakeet-deployable_v8.1.tar.gz", "--bucket", "bkt", "--endpoint-url",
            "http://127.0.0.1:9", "--dry-run", "--json"]  # nothing listens there
    assert cli.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "dry-run"
    assert any("s3://bkt/dev/parakeet/8.1/staging_complete.txt last" in a for a in out["actions"])


def test_stage_then_rerun_with_json_summary(aws, tmp_path, capsys):
    archive = deployable(tmp_path)
    argv = ["--source-uri", str(archive), "--bucket", aws.bucket, "--work-dir", str(tmp_path / "w"), "--json"]
    assert cli.main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["status"] == "staged" and first["mode"] == "full" and first["bytes"]["upload"] > 0
    assert any(s["what"].endswith(MARKER) for s in first["steps"])
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "already-staged"


def test_error_exits_1_with_the_message_on_stderr_and_in_json(aws, capsys):
    argv = ["--source-uri", f"s3://{aws.bucket}/missing-deployable_v1.tar.gz", "--bucket", aws.bucket, "--json"]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert "rivaverify stage: error: source s3://" in captured.err and "not found" in captured.err
    assert json.loads(captured.out)["status"] == "error"


def test_reference_only_as_a_process(aws, tmp_path):
    archive = deployable(tmp_path)
    aws.connect().client.upload_file(str(archive), aws.bucket, "in/" + archive.name)
    env = {**os.environ, "RIVA_ASR_MODEL_S3_URI": f"s3://{aws.bucket}/in/{archive.name}",
           "NVIDIA_DRIVERS_S3_BUCKET": aws.bucket, "ENV": "prod", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "rivaverify.cli.stage", "--reference-only"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"staged s3://{aws.bucket}/prod/parakeet-rnnt-1.1b-en-US/8.1/")
    assert "mode reference-only" in run.stdout


def test_print_schema(capsys):
    assert cli.main(["--print-schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "ArtifactJson"


def test_progress_bars_on_a_terminal_only(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bars = cli._bars(parse([]))
    bar = bars("download x", 100)
    bar.update(100)
    bar.close()
    assert cli._bars(parse(["--no-progress"])) is None and cli._bars(parse(["--json"])) is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert cli._bars(parse([])) is None
