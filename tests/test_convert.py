"""Conversion: riva-build and riva-deploy with NVIDIA's shapes in the conversion image (riva-lite's here, the one CI
builds), the key in the environment only, logs and durations kept, nothing half-written on failure."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest

from rivaverify import buildfacts, modelrepo
from rivaverify.artifact import convert
from rivaverify.cli import main
from tests.test_build_facts_rivalite import staged_riva_fixture  # noqa: F401 (the fixture staged_riva)

IMAGE = "nvcr.io/nvidia/riva/riva-speech:2.19.0"


def test_the_steps_have_nvidias_shapes_and_name_the_key_only(tmp_path):
    req = convert.ConvertRequest(tmp_path / "parakeet.riva", tmp_path / "out", IMAGE, {"chunk_size": 0.32},
                                 key="tlt_encode")
    build, deploy = convert.steps(req).values()
    assert build.startswith("mkdir -p /data/rmir && riva-build speech_recognition -f ")
    assert '"/data/rmir/parakeet.rmir:$RIVA_MODEL_KEY" "/servicemaker-dev/parakeet.riva:$RIVA_MODEL_KEY"' in build
    assert "--chunk_size=0.32 --decoder_type=greedy --language_code=en-US --name=parakeet --streaming=True" in build
    assert deploy.startswith('riva-deploy -f "/data/rmir/parakeet.rmir:$RIVA_MODEL_KEY" /data/models.partial')
    argv = convert.docker_argv(req, "riva-build")
    assert "tlt_encode" not in " ".join(argv) and argv[argv.index("-e") + 1] == "RIVA_MODEL_KEY"
    rmir = convert.ConvertRequest(tmp_path / "asr.rmir", tmp_path / "out", IMAGE)
    assert list(convert.steps(rmir)) == ["riva-deploy"] and "/servicemaker-dev/asr.rmir " in convert.steps(rmir)[
        "riva-deploy"]


def test_the_image_tensorrt_is_read_from_its_environment_or_said_unknown():
    assert convert.image_tensorrt({"Config": {"Env": ["PATH=/bin", "TRT_VERSION=10.3.0.26"]}}, IMAGE) == (
        "10.3.0.26", "")
    version, why = convert.image_tensorrt({"Config": {"Env": ["PATH=/bin"]}}, IMAGE)
    assert version is None and "declares no TensorRT version" in why and IMAGE in why
    assert "not on the Docker engine yet" in convert.image_tensorrt(None, IMAGE)[1]


def test_the_gpu_line_of_the_deploy_step_is_parsed():
    log = "done\nRIVAVERIFY_GPU: NVIDIA A10G, 8.6, 550.54.15\n"
    assert convert.gpu_of(log) == {"gpu_name": "NVIDIA A10G", "compute_capability": "8.6", "driver": "550.54.15"}
    assert convert.gpu_of("no nvidia-smi here\n") == {}


def test_the_cli_refuses_bad_input_with_the_next_step(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "x.tar.gz"), "--dry-run", "--image", IMAGE]) == 2
    assert "not a .riva or .rmir" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "x.riva"), "--dry-run", "--image", IMAGE, "--option", "oops"]) == 2
    assert "give KEY=VALUE" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "x.riva"), "--image", IMAGE]) == 2
    assert "rivaverify stage" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_cli_dry_run_prints_the_docker_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RIVA__MODEL_KEY", "secret-key")
    assert main(["convert", str(tmp_path / "asr.riva"), "--dry-run", "--json", "--image", IMAGE, "--offline",
                 "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out)
    assert summary["status"] == "dry-run" and summary["build_options"]["streaming"] is False
    assert "secret-key" not in out and summary["commands"][0][:3] == ["docker", "run", "--rm"]
    assert not (tmp_path / "out").exists()


@pytest.mark.docker
@pytest.mark.slow
def test_convert_in_the_riva_lite_image_makes_a_repository_with_build_facts(docker_engine, riva_lite_image,
                                                                            staged_riva, tmp_path, monkeypatch,
                                                                            capsys):
    monkeypatch.setenv("RIVA__MODEL_KEY", "not-a-real-key")
    assert main(["convert", str(staged_riva), "--image", riva_lite_image, "--out", str(tmp_path / "out"),
                 "--log-dir", str(tmp_path / "logs"), "--option", "chunk_size=0.16", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    repo = tmp_path / "out" / "models"
    assert done["model_repo"] == str(repo) and modelrepo.read(repo).problems == []
    facts = buildfacts.read(repo)
    assert facts == done["build_facts"]
    assert facts["compute_capability"] == "cpu" and facts["image"] == riva_lite_image and facts["tensorrt"] is None
    assert facts["build_options"]["chunk_size"] == 0.16 and facts["build_options"]["name"] == staged_riva.stem
    assert set(done["seconds"]) == {"riva-build", "riva-deploy"} and all(s > 0 for s in done["seconds"].values())
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == [f"{staged_riva.stem}.convert.json",
                                                                     f"{staged_riva.stem}.riva-build.log",
                                                                     f"{staged_riva.stem}.riva-deploy.log"]
    assert not any("not-a-real-key" in p.read_text() for p in (tmp_path / "logs").iterdir())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["models", "rmir"]
    assert convert_containers(docker_engine, tmp_path) == []

    bad = convert.ConvertRequest(staged_riva, tmp_path / "bad", riva_lite_image, {"no_such_option": 1},
                                 log_dir=tmp_path / "logs", timeout_s=300)
    with pytest.raises(convert.ConvertError, match=r"(?s)riva-build failed .*exit 1.*unknown option --no_such_option"):
        convert.convert(docker_engine, bad, log=lambda _: None)
    assert not (tmp_path / "bad").exists()
    assert convert_containers(docker_engine, tmp_path) == []


@pytest.mark.docker
def test_an_images_tensorrt_is_read_from_the_engine(docker_engine, riva_lite_image):
    tag = f"rv-trt-{uuid.uuid4().hex[:8]}:test"
    dockerfile = f"FROM {riva_lite_image}\nENV TRT_VERSION=10.3.0.26\n".encode()
    docker_engine.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True, pull=False)
    try:
        assert convert.image_tensorrt(convert.inspect(docker_engine, tag), tag) == ("10.3.0.26", "")
        assert convert.image_tensorrt(convert.inspect(docker_engine, riva_lite_image), riva_lite_image)[0] is None
        assert convert.inspect(docker_engine, f"rv-absent-{uuid.uuid4().hex[:8]}:x") is None
    finally:
        docker_engine.images.remove(tag, force=True)


def convert_containers(engine, under: Path) -> list:
    """The convert containers (label riva-verify.convert) mounting a folder under `under`: a test's own, not those
    of a test running beside it on another worker (the engine is shared)."""
    root = str(under.resolve())
    return [c.name for c in engine.containers.list(all=True, filters={"label": "riva-verify.convert"})
            if any(m.get("Source", "").startswith(root) for m in c.attrs.get("Mounts", []))]
