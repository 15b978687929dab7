"""Support bundle and redaction: planted secrets must not appear anywhere in it."""

from __future__ import annotations

import os
import tarfile
import time

PLANTED = {
    "RIVA__API_KEY": "planted-riva-api-key-7f3a",
    "MY_SERVICE_TOKEN": "planted-token-91bc",
    "AWS_SECRET_ACCESS_KEY": "planted-aws-secret-22d0",
    "DB_PASSWORD": "planted-password-5e11",
}

SUITE = """
import pathlib

def test_deploy(settings, plan):
    plan.command(["start-riva", "--riva-uri=0.0.0.0:50051"])
    logs = pathlib.Path("reports/logs")
    logs.mkdir(parents=True, exist_ok=True)
    key = settings.api_key.get_secret_value()
    (logs / "riva.log").write_text(
        f"starting with api key {key}\\n"
        "DB_PASSWORD=planted-password-5e11\\n"
        "Authorization: Bearer planted-token-91bc\\n"
        "error: creating server: Invalid argument - --model-repository must be specified\\n")
    assert False, "deployment failed"
"""


def _bundle_texts(path) -> dict[str, str]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}


def test_failed_run_writes_a_bundle_without_any_planted_secret(suite_dir, monkeypatch):
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    suite_dir.makepyfile(test_040_deploy=SUITE)
    stale = suite_dir.path / "state" / "060.json"  # left by an earlier run: not this run's
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("{}")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    result = suite_dir.runpytest_subprocess()
    assert result.ret == 1
    bundles = list((suite_dir.path / "reports").glob("support-bundle-*.tar.gz"))
    assert len(bundles) == 1, result.stdout.str()
    result.stdout.fnmatch_lines([f"support bundle: {bundles[0].relative_to(suite_dir.path)}"])
    texts = _bundle_texts(bundles[0])
    names = {n.split("/", 1)[1] for n in texts}
    assert {"environment.txt", "settings.json", "system.txt", "logs/riva.log", "state/040.json",
            "reports/plan.json"} <= names
    assert "state/060.json" not in names
    assert "--model-repository must be specified" in next(t for n, t in texts.items() if n.endswith("riva.log"))
    diagnosis = next(t for n, t in texts.items() if n.endswith("diagnosis.txt"))  # the one catalogue's verdict
    assert "- no-model-repository at line 4:" in diagnosis and "the shim is not first on PATH" in diagnosis
    env = next(t for n, t in texts.items() if n.endswith("environment.txt"))
    assert "MY_SERVICE_TOKEN=***" in env and "PATH=" in env
    leaks = [(n, v) for n, t in texts.items() for v in PLANTED.values() if v in t]
    assert not leaks, f"secrets leaked into the bundle: {leaks}"


def test_passing_run_writes_a_bundle_only_when_asked(suite_dir):
    suite_dir.makepyfile(test_010_preflight="def test_ok():\n    pass\n")
    suite_dir.runpytest()
    assert not list((suite_dir.path / "reports").glob("support-bundle-*"))
    suite_dir.runpytest("--support-bundle")
    assert len(list((suite_dir.path / "reports").glob("support-bundle-*.tar.gz"))) == 1
