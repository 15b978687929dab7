"""Settings: defaults, profiles, overrides, validation messages, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from rivaverify import settings as s

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_the_local_target_with_dev_thresholds():
    cfg = s.load()
    assert cfg.target == s.Target.local
    assert s.thresholds(cfg) == s.PROFILES[s.Profile.dev]


def test_profile_sets_every_threshold_and_one_override_changes_only_itself(monkeypatch):
    monkeypatch.setenv("RIVA__PROFILE", "production")
    monkeypatch.setenv("RIVA__MAX_WER", "0.3")
    got = s.thresholds(s.load())
    want = s.PROFILES[s.Profile.production].model_copy(update={"max_wer": 0.3})
    assert got == want


def test_option_wins_over_environment(monkeypatch):
    monkeypatch.setenv("RIVA__TARGET", "docker")
    assert s.load({"target": "endpoint"}).target == s.Target.endpoint


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("RIVA__HOST=gpu-box:50061\nUNRELATED=1\n")
    monkeypatch.chdir(tmp_path)
    assert s.load().grpc_address == "gpu-box:50061"


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("RIVA__TARGET", "swarm", "'local', 'docker', 'endpoint' or 'kubernetes'"),
        ("RIVA__PROFILE", "prod", "'dev', 'staging' or 'production'"),
        ("RIVA__HOST", "localhost", "HOST:PORT"),
        ("RIVA__MAX_WER", "1.5", "less than or equal to 1"),
        ("RIVA__CONCURRENCY", "many", "valid integer"),
        ("RIVA__TRITON_HTTP_PORT", "70000", "less than or equal to 65535"),
        ("RIVA__HOST_URL", "gpu-box", "testinfra URL"),
    ],
)
def test_invalid_setting_names_variable_value_and_what_is_allowed(monkeypatch, env, value, expected):
    monkeypatch.setenv(env, value)
    with pytest.raises(s.SettingsError) as err:
        s.load()
    assert f"{env}={value!r}" in str(err.value)
    assert expected in str(err.value)


def test_invalid_option_is_named_as_the_option():
    with pytest.raises(s.SettingsError, match=r"--riva-profile='fast'"):
        s.load({"profile": "fast"})


def test_secret_is_never_shown(monkeypatch):
    monkeypatch.setenv("RIVA__API_KEY", "planted-key-4711")
    cfg = s.load()
    assert s.secret_values(cfg) == ["planted-key-4711"]
    assert "planted-key-4711" not in repr(cfg)
    assert s.public_dict(cfg)["api_key"] == "***"


def test_needs_gpu_by_target_and_image():
    assert not s.needs_gpu(s.load())
    assert not s.needs_gpu(s.load({"target": "docker", "image": "riva-lite:latest"}))
    assert s.needs_gpu(s.load({"target": "docker", "image": "nvcr.io/nvidia/riva/riva-speech:2.19.0"}))
    assert s.needs_gpu(s.load({"require_gpu": "true"}))


def test_env_example_documents_every_setting():
    text = (ROOT / ".env.example").read_text()
    missing = [s.env_name(n) for n in s.Settings.model_fields if f"# {s.env_name(n)}=" not in text]
    assert not missing, f".env.example lacks {missing}"
    assert text == s.env_example(), ".env.example is stale: python -m rivaverify.settings > .env.example"


def test_configuration_page_documents_every_setting():
    text = (ROOT / "docs" / "configuration.md").read_text()
    rows = {n: f"| `{s.env_name(n)}` | `{s.option_name(n)}` |" for n in s.Settings.model_fields}
    missing = [s.env_name(n) for n, row in rows.items() if row not in text]
    assert not missing, f"docs/configuration.md lacks {missing}"
    assert text == s.configuration_md(), (
        "docs/configuration.md is stale: python -m rivaverify.settings markdown > docs/configuration.md")


def test_invalid_settings_stop_the_run_before_any_test(suite_dir, monkeypatch):
    suite_dir.makepyfile(test_010_preflight="def test_x():\n    open('ran', 'w').close()\n")
    monkeypatch.setenv("RIVA__TARGET", "swarm")
    result = suite_dir.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*RIVA__TARGET='swarm'*'local', 'docker', 'endpoint' or 'kubernetes'*"])
    assert not (suite_dir.path / "ran").exists()


def test_the_seeds_variables_fill_the_s3_settings_left_unset(tmp_path, monkeypatch):
    """As `rivaverify stage`: RIVA__* (environment or .env) first, then the seed's name (environment or .env)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NVIDIA_DRIVERS_S3_BUCKET", "team-riva")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    (tmp_path / ".env").write_text("AWS_ENDPOINT_URL_S3=http://127.0.0.1:9000\n")
    cfg = s.load()
    assert (cfg.bucket, cfg.aws_region, cfg.s3_endpoint_url) == ("team-riva", "eu-west-1", "http://127.0.0.1:9000")
    (tmp_path / ".env").write_text("RIVA__BUCKET=from-dotenv\n")
    monkeypatch.setenv("RIVA__AWS_REGION", "us-west-2")
    cfg = s.load()
    assert (cfg.bucket, cfg.aws_region, cfg.s3_endpoint_url) == ("from-dotenv", "us-west-2", None)
    assert s.load({"bucket": "from-option"}).bucket == "from-option"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "minio:9000")
    with pytest.raises(s.SettingsError, match=r"RIVA__S3_ENDPOINT_URL \(or AWS_ENDPOINT_URL_S3\)='minio:9000'"):
        s.load()


def test_pytest_help_lists_every_setting_as_an_option():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    missing = [s.option_name(n) for n in s.Settings.model_fields if s.option_name(n) not in r.stdout]
    assert not missing, missing


def test_a_corpus_that_is_not_there_is_named_before_any_test(monkeypatch, tmp_path):
    monkeypatch.setenv("RIVA__CORPUS", str(tmp_path / "nonexist.json"))
    with pytest.raises(s.SettingsError, match=r"RIVA__CORPUS=.*nonexist.json.*no such file"):
        s.load()
    manifest = tmp_path / "mine.json"
    manifest.write_text("")
    monkeypatch.setenv("RIVA__CORPUS", str(manifest))
    assert s.load().corpus == manifest
