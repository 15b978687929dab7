"""Phase 030's gate on planted build facts, run as a suite: another compute capability is refused (the phase fails,
040 is not run, the next step is named), facts missing are warned (a repository made by hand) and the phase passes;
on a GPU host (an nvidia-smi on PATH answering in its CSV format, target endpoint: real Riva), another capability
is refused and another GPU model of the same capability warned."""

from __future__ import annotations

import json
import os

import pytest

from rivaverify import buildfacts
from tests.conftest import ROOT
from tests.repos import make_repo


def _run(pytester, monkeypatch, repo, *files):
    monkeypatch.setenv("RIVA__MODEL_REPO", str(repo))
    monkeypatch.setenv("RIVA__STATE_DIR", str(pytester.path / "state"))
    monkeypatch.setenv("RIVA__REPORTS_DIR", str(pytester.path / "reports"))
    monkeypatch.chdir(ROOT)
    files = files or ("test_030_modelrepo.py", "test_040_deploy.py")
    return pytester.runpytest_subprocess(*(str(ROOT / "suites" / f) for f in files), "-p", "no:cacheprovider",
                                         "--deselect", "suites/test_040_deploy.py")


def _gpu_host(pytester, monkeypatch, line: str) -> None:
    """Target endpoint (real Riva, not riva-lite) on a host whose nvidia-smi prints `line` (GPU_QUERY's fields)."""
    bin_dir = pytester.path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\necho '{line}'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("RIVA__TARGET", "endpoint")


def test_a_repository_built_for_a_gpu_is_refused_on_riva_lite(pytester, monkeypatch, tmp_path):
    repo = make_repo(tmp_path)
    buildfacts.write(repo, buildfacts.facts("8.6", gpu_name="NVIDIA A10G", tensorrt="10.3.0"))
    result = _run(pytester, monkeypatch, repo)
    result.stdout.fnmatch_lines(["*built for compute capability 8.6 (NVIDIA A10G), and this host has no GPU (cpu)*",
                                 "phase 030 modelrepo failed*"])
    assert "rivaverify convert" in result.stdout.str()
    state = json.loads((pytester.path / "state" / "030.json").read_text())
    assert state["status"] == "failed" and state["facts"]["build"]["built_for"] == "8.6"


def test_a_repository_without_build_facts_passes_with_a_warning(pytester, monkeypatch, tmp_path):
    result = _run(pytester, monkeypatch, make_repo(tmp_path))
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 7 and "failed" not in outcomes, outcomes
    result.stdout.fnmatch_lines(["*UserWarning*has no .rivaverify-build.json: a repository made by hand*"])
    state = json.loads((pytester.path / "state" / "030.json").read_text())
    assert "made by hand" in state["facts"]["build"]["warnings"][0]



def test_on_a_gpu_host_another_capability_is_refused_naming_both(pytester, monkeypatch, tmp_path):
    _gpu_host(pytester, monkeypatch, "0, NVIDIA A10G, 550.54.15, 23028, 8.6, 22000")
    repo = make_repo(tmp_path)
    buildfacts.write(repo, buildfacts.facts("7.5", gpu_name="Tesla T4", tensorrt="10.3.0"))
    result = _run(pytester, monkeypatch, repo, "test_030_modelrepo.py")
    result.stdout.fnmatch_lines(["*built for compute capability 7.5 (Tesla T4), and this host has compute capability "
                                 "8.6 (NVIDIA A10G)*convert again on this GPU*"])
    assert json.loads((pytester.path / "state" / "030.json").read_text())["status"] == "failed"


def test_on_a_gpu_host_another_model_of_the_same_capability_is_warned(pytester, monkeypatch, tmp_path):
    _gpu_host(pytester, monkeypatch, "0, NVIDIA GeForce RTX 3090, 550.54.15, 24576, 8.6, 24000")
    repo = make_repo(tmp_path)
    buildfacts.write(repo, buildfacts.facts("8.6", gpu_name="NVIDIA A10G", tensorrt="10.3.0"))
    result = _run(pytester, monkeypatch, repo, "test_030_modelrepo.py")
    assert result.parseoutcomes()["passed"] == 7, result.stdout.str()[-3000:]
    warnings = json.loads((pytester.path / "state" / "030.json").read_text())["facts"]["build"]["warnings"]
    assert any("the TensorRT versions are not compared" in w for w in warnings)  # endpoint: no image here
    assert any("NVIDIA A10G and runs on NVIDIA GeForce RTX 3090" in w and "not comparable" in w for w in warnings)


pytestmark = pytest.mark.slow  # suite runs in subprocesses
