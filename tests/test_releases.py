"""Which Riva a deployment is, and the rules its release brings (rivaverify/releases.py): the table, the image tags
as NVIDIA publishes them, the GPU gates on captured nvidia-smi output, and phase 010 run with an nvidia-smi that
answers as those GPUs do (target docker, flavor nim, a real NIM's name: nothing is pulled or started in 010)."""

from __future__ import annotations

import json
import os

import pytest

from rivaverify import preflight, releases
from tests.conftest import ROOT
from tests.test_gpu_gates import A800_CSV, T4_CSV

RNNT = "nvcr.io/nim/nvidia/parakeet-1-1b-rnnt-multilingual"


@pytest.mark.parametrize("image, declared, expected", [
    ("nvcr.io/nvidia/riva/riva-speech:2.19.0", None, "riva-speech 2.19.0"),
    ("nvcr.io/nim/nvidia/parakeet-0-6b-ctc-en-us:1.3.1", None, "Riva ASR NIM 1.3.1"),
    ("nvcr.io/nim/nvidia/nemotron-asr-streaming:1.4.0", None, "Speech NIM 26.10.0"),  # 26.10.0's release notes
    ("nvcr.io/nim/nvidia/parakeet-1-1b-ctc-en-us:26.05.0", None, "Speech NIM 26.05.0"),
    ("nvcr.io/nim/nvidia/parakeet-1-1b-ctc-en-us:latest", "26.10.0", "Speech NIM 26.10.0"),  # as NVIDIA's docs run
    (None, "1.6.0", "Riva ASR NIM 1.6.0"),  # an endpoint, declared
    ("localhost:5000/riva/riva-speech", None, None),
    ("nvcr.io/nim/nvidia/parakeet-1-1b-ctc-en-us:latest", None, None),
])
def test_the_release_from_the_tag_or_the_declared_one(image, declared, expected):
    release = releases.of_image(image, declared)
    assert (str(release) if release.kind else None) == expected
    if not release.kind:
        assert "RIVA__NIM_RELEASE" in release.how or "neither" in release.how


def test_the_rules_follow_the_release_each_with_its_page():
    r = releases.rules
    assert r(releases.Release("asr-nim", "1.3.2", "")).min_compute_capability == 7.0  # Volta or later
    assert r(releases.Release("asr-nim", "1.6.0", "")).min_compute_capability == 7.5  # "> 7.0"
    speech = r(releases.Release("speech-nim", "26.05.0", ""))
    assert (speech.min_compute_capability, speech.min_gpu_memory_gb, speech.memory_required) == (8.0, 16, True)
    assert not speech.http_usage and r(releases.Release("speech-nim", "26.10.0", "")).http_usage
    assert r(releases.Release("", "", "unknown")).min_compute_capability is None  # nothing gated
    assert all(row.source.startswith("https://docs.nvidia.com/nim/") for _, _, row in releases.TABLE)


def test_gpu_gates_by_release_on_captured_gpus():
    t4 = preflight.parse_gpus(T4_CSV)  # Tesla T4: 16 GiB, its capability not in this capture
    t4[0]["compute_capability"] = 7.5
    failures, _ = releases.gpu_problems(t4, releases.Release("speech-nim", "26.10.0", ""))
    assert len(failures) == 1 and "compute capability 7.5; Speech NIM 26.10.0 needs 8.0" in failures[0]
    assert releases.gpu_problems(t4, releases.Release("asr-nim", "1.4.0", "")) == ([], [])
    small = [{"index": 0, "name": "NVIDIA A2", "compute_capability": 8.6, "memory_gb": 14.0}]
    failures, warnings = releases.gpu_problems(small, releases.Release("asr-nim", "1.6.0", ""))
    assert failures == [] and "recommends 16 GB" in warnings[0]
    failures, _ = releases.gpu_problems(small, releases.Release("speech-nim", "26.07.0", ""))
    assert "needs at least 16 GB" in failures[0]


def test_a_profile_too_big_for_the_gpu_names_both_numbers_and_what_fits():
    a800 = preflight.parse_gpus(A800_CSV)[0]  # 80 GiB: everything fits
    assert releases.profile_fit_problem(f"{RNNT}:latest", "mode=all", a800["memory_gb"]) is None
    problem = releases.profile_fit_problem(f"{RNNT}:latest", "mode=all,diarizer=disabled", 44.4)  # an L40S
    assert "needs 50 GiB" in problem and "has 44.4 GiB" in problem
    assert "mode=ofl (25.56 GiB) or mode=str-thr (14.75 GiB)" in problem
    assert "no documented mode fits" in releases.profile_fit_problem(f"{RNNT}:1.8.0", "mode=str-thr", 10)
    assert releases.profile_fit_problem("nvcr.io/nim/nvidia/parakeet-0-6b-ctc-en-us:1.3.1", "mode=all", 8) is None


def _preflight(pytester, monkeypatch, smi_line: str, **env: str):
    bin_dir = pytester.path / "bin"
    bin_dir.mkdir(exist_ok=True)
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\necho '{smi_line}'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    for k, v in {"RIVA__TARGET": "docker", "RIVA__FLAVOR": "nim", "RIVA__NGC_API_KEY": "nvapi-test",
                 "RIVA__STATE_DIR": str(pytester.path / "state"), "RIVA__REPORTS_DIR": str(pytester.path / "reports"),
                 **env}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(ROOT)
    result = pytester.runpytest_subprocess(str(ROOT / "suites" / "test_010_preflight.py"), "-p", "no:cacheprovider",
                                           "-k", "release or profile_fits", "-rs")
    return result, json.loads((pytester.path / "state" / "010.json").read_text())


def test_phase_010_refuses_a_gpu_below_the_release_and_a_profile_too_big(pytester, monkeypatch):
    l40s = "0, NVIDIA L40S, 550.54.15, 46068, 8.9, 45000"
    result, state = _preflight(pytester, monkeypatch, l40s, RIVA__IMAGE=f"{RNNT}:latest",
                               RIVA__NIM_RELEASE="26.10.0", RIVA__NIM_TAGS_SELECTOR="mode=all,diarizer=disabled")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and outcomes.get("passed") == 1, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*needs 50 GiB of GPU memory, and the GPU has 45 GiB*mode=ofl (25.56 GiB)*"])
    assert state["facts"]["release"] == {"kind": "speech-nim", "version": "26.10.0", "how": "RIVA__NIM_RELEASE"}
    t4 = "0, Tesla T4, 535.183.01, 15360, 7.5, 15000"
    result, _ = _preflight(pytester, monkeypatch, t4, RIVA__IMAGE="nvcr.io/nim/nvidia/parakeet-1-1b-ctc-en-us:26.05.0",
                           RIVA__NIM_RELEASE="", RIVA__NIM_TAGS_SELECTOR="mode=ofl")
    result.stdout.fnmatch_lines(["*compute capability 7.5; Speech NIM 26.05.0 needs 8.0 or newer*"])


def test_usage_verdicts_on_answers_shaped_as_the_release_notes_say():
    from rivaverify import nim, nim_realtime

    ok = {"text": "hi", "usage": {"type": "duration", "seconds": 4.15}}
    assert nim.usage_problem(ok, 4.152, True, "answer") is None
    assert "promises" in nim.usage_problem({"text": "hi"}, 4.15, True, "answer")
    assert nim.usage_problem({"text": "hi"}, 4.15, False, "answer") is None  # an older release: not promised
    assert "counts usage.seconds 2 for 4.15 s" in nim.usage_problem({"usage": {"type": "duration", "seconds": 2}},
                                                                    4.15, False, "answer")
    assert "expected {'type': 'duration'" in nim.usage_problem({"usage": {"seconds": "4"}}, 4.15, False, "answer")
    s = nim_realtime.Session(events=[(1.0, {"type": nim_realtime.COMPLETED, "usage": {"type": "duration",
                                                                                       "seconds": 2.0}}),
                                     (2.0, {"type": nim_realtime.COMPLETED, "is_last_result": True,
                                            "usage": {"type": "duration", "seconds": 1.5}})])
    found = nim_realtime.usage_problems(s, 4.0, True)
    assert "goes back: [2.0, 1.5]" in found[0] and "counts usage.seconds 1.5 for 4.00 s" in found[1]


def test_a_result_in_another_language_than_asked_is_named():
    from riva.client.proto import riva_asr_pb2 as rasr

    from rivaverify.asr.smoke import language_problem

    def answer(*codes):
        return rasr.RecognizeResponse(results=[rasr.SpeechRecognitionResult(alternatives=[
            rasr.SpeechRecognitionAlternative(transcript="hola", language_code=list(codes))])])

    assert language_problem(answer("en-US"), "en-US") is None
    assert language_problem(answer(), "en-US") is None  # an older server sets none
    assert language_problem(answer("es-US"), "en-US") == "asked for en-US, the answer says ['es-US']"
    assert language_problem(answer("es-US"), "multi") is None  # the model names what it detected


def test_a_pull_that_does_not_fit_says_what_pruning_frees():
    from rivaverify import docker_disk

    df = {"Images": [{"Size": 30 * docker_disk.GB, "SharedSize": 2 * docker_disk.GB, "Containers": 0},
                     {"Size": 9 * docker_disk.GB, "SharedSize": 0, "Containers": 1}],  # in use: kept
          "BuildCache": [{"Size": 3 * docker_disk.GB, "InUse": False, "Shared": False}]}
    assert docker_disk.reclaimable_gb(df) == 31.0
    assert docker_disk.pull_space_problem("img", 60, 31.0, 50, "/var/lib/docker") is None
    prune = docker_disk.pull_space_problem("img", 25, 31.0, 50, "/var/lib/docker")
    assert "Docker holds 31.0 GiB it can reclaim: `docker image prune -a`" in prune
    assert "pruning would free only 1.0 GiB" in docker_disk.pull_space_problem("img", 25, 1.0, 50, "/")


@pytest.mark.docker
def test_the_engines_reclaimable_space_is_read(docker_engine):
    from rivaverify import docker_disk

    assert docker_disk.reclaimable_gb(docker_engine.df()) >= 0.0
    assert docker_engine.info()["DockerRootDir"]
