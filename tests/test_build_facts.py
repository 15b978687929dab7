"""The compatibility gate on planted build facts: another compute capability or TensorRT refused (the next step
named), another GPU model of the same capability warned, facts missing (a repository made by hand) warned."""

from __future__ import annotations

import json

import pytest

from rivaverify import buildfacts

A10G = {"index": 0, "name": "NVIDIA A10G", "compute_capability": 8.6}
RTX3090 = {"index": 0, "name": "NVIDIA GeForce RTX 3090", "compute_capability": 8.6}
T4 = {"index": 0, "name": "Tesla T4", "compute_capability": 7.5}


def planted(tmp_path, **kw):
    record = buildfacts.facts(kw.pop("compute_capability"), **kw)
    buildfacts.write(tmp_path, record)
    return buildfacts.read(tmp_path)


def test_another_compute_capability_is_refused_naming_both_and_the_next_step(tmp_path):
    record = planted(tmp_path, compute_capability="8.6", gpu_name="NVIDIA A10G", tensorrt="10.3.0")
    v = buildfacts.check(record, buildfacts.here([T4], "10.3.0", image="riva-speech:2.19.0"), tmp_path)
    (why,) = v.refused
    assert "compute capability 8.6 (NVIDIA A10G)" in why and "compute capability 7.5 (Tesla T4)" in why
    assert "rivaverify convert" in why and "generated on an incompatible device" in why
    assert v.compared["built_for"] == "8.6" and v.compared["here"] == ["7.5"]


def test_another_tensorrt_is_refused(tmp_path):
    record = planted(tmp_path, compute_capability=8.6, gpu_name="NVIDIA A10G", tensorrt="8.6.1.6")
    v = buildfacts.check(record, buildfacts.here([A10G], "10.3.0.26", image="riva-speech:2.19.0"), tmp_path)
    (why,) = v.refused
    assert "TensorRT 8.6.1.6" in why and "TensorRT 10.3.0.26" in why and "riva-speech:2.19.0" in why
    assert "convert again on this GPU" in why and not v.warnings


def test_a_shorter_tensorrt_version_of_the_same_release_matches(tmp_path):
    record = planted(tmp_path, compute_capability="8.6", gpu_name="NVIDIA A10G", tensorrt="10.3.0")
    assert buildfacts.check(record, buildfacts.here([A10G], "10.3.0.26"), tmp_path).refused == []


def test_another_gpu_model_of_the_same_capability_passes_with_a_warning(tmp_path):
    record = planted(tmp_path, compute_capability="8.6", gpu_name="NVIDIA A10G", tensorrt="10.3.0")
    v = buildfacts.check(record, buildfacts.here([RTX3090], "10.3.0"), tmp_path)
    assert v.refused == []
    (warning,) = v.warnings
    assert "NVIDIA A10G" in warning and "RTX 3090" in warning and "not comparable" in warning


def test_the_same_gpu_and_tensorrt_pass_quietly(tmp_path):
    record = planted(tmp_path, compute_capability="8.6", gpu_name="NVIDIA A10G", tensorrt="10.3.0")
    v = buildfacts.check(record, buildfacts.here([A10G, dict(A10G, index=1)], "10.3.0"), tmp_path)
    assert (v.refused, v.warnings) == ([], [])


def test_missing_facts_are_a_repository_made_by_hand_warned_not_refused(tmp_path):
    assert buildfacts.read(tmp_path) is None
    v = buildfacts.check(None, buildfacts.here([T4], "10.3.0"), tmp_path)
    assert v.refused == [] and "made by hand" in v.warnings[0]


def test_an_unknown_image_tensorrt_is_not_compared_and_says_why(tmp_path):
    record = planted(tmp_path, compute_capability="8.6", gpu_name="NVIDIA A10G", tensorrt="10.3.0")
    why = "the image riva-speech:2.19.0 names no TensorRT version (no TRT_VERSION in its environment)"
    v = buildfacts.check(record, buildfacts.here([A10G], None, why), tmp_path)
    assert v.refused == [] and why in v.warnings[0] and "not compared" in v.warnings[0]


def test_riva_lite_facts_pass_on_riva_lite_and_are_refused_on_a_gpu(tmp_path):
    record = planted(tmp_path, compute_capability="cpu")
    v = buildfacts.check(record, buildfacts.RIVA_LITE, tmp_path)
    assert (v.refused, v.warnings) == ([], [])
    (why,) = buildfacts.check(record, buildfacts.here([A10G], "10.3.0"), tmp_path).refused
    assert "no GPU (cpu, riva-lite)" in why and "8.6" in why
    gpu_record = planted(tmp_path, compute_capability="8.6", gpu_name="NVIDIA A10G")
    (why,) = buildfacts.check(gpu_record, buildfacts.here(None), tmp_path).refused
    assert "this host has no GPU (cpu)" in why


@pytest.mark.parametrize("text", ["{not json", json.dumps({"gpu_name": "x"}), "[]"])
def test_unreadable_facts_name_the_file_and_what_to_do(tmp_path, text):
    (tmp_path / buildfacts.FILE).write_text(text)
    with pytest.raises(buildfacts.BuildFactsError, match=r"\.rivaverify-build\.json.*rivaverify convert"):
        buildfacts.read(tmp_path)


def test_written_facts_have_every_key_and_leave_no_partial_file(tmp_path):
    buildfacts.write(tmp_path, buildfacts.facts("7.5", gpu_name="Tesla T4", build_options={"chunk_size": 0.16}))
    data = json.loads((tmp_path / buildfacts.FILE).read_text())
    assert sorted(data) == sorted(buildfacts.KEYS) and data["compute_capability"] == "7.5"
    assert data["build_options"] == {"chunk_size": 0.16} and data["built_at"]
    assert [p.name for p in tmp_path.iterdir()] == [buildfacts.FILE]


def test_gpus_not_visible_from_here_are_not_compared_and_say_why(tmp_path):
    record = planted(tmp_path, compute_capability="8.6", gpu_name="NVIDIA A10G", tensorrt="10.3.0")
    why = "the endpoint riva.example:50051 runs on another host"
    v = buildfacts.check(record, buildfacts.Here((), gpus_unknown=why), tmp_path)
    assert v.refused == [] and any(why in w and "not compared" in w for w in v.warnings)
