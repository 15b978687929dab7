"""An image's TensorRT version: its environment, else the name of its TensorRT library (libnvinfer.so.X.Y.Z), read
from listings as NVIDIA's layouts give them, and through the engine from an image that declares nothing."""

from __future__ import annotations

import io
import uuid

import pytest

from rivaverify.artifact import convert, tensorrt

DEBIAN = """/usr/lib/x86_64-linux-gnu/libnvinfer.so.10
/usr/lib/x86_64-linux-gnu/libnvinfer.so.10.3.0
/usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10.3.0
/usr/lib/x86_64-linux-gnu/libnvinfer_lean.so.10.3.0
/usr/lib/python3.10/dist-packages/tensorrt-10.3.0.26.dist-info
"""
TAR = """/usr/local/tensorrt/lib/libnvinfer.so.8
/usr/local/tensorrt/lib/libnvinfer.so.8.6.1
/usr/local/tensorrt/lib/libnvinfer_dispatch.so.8.6.1
"""
PIP = """/usr/local/lib/python3.10/dist-packages/tensorrt_libs/libnvinfer.so.10
/usr/local/lib/python3.10/dist-packages/tensorrt_libs/libnvinfer_plugin.so.10
/usr/local/lib/python3.10/dist-packages/tensorrt_cu12_libs-10.3.0.dist-info
/usr/local/lib/python3.10/dist-packages/tensorrt_llm-0.12.0.dist-info
"""
LS_ARM = "/usr/lib/aarch64-linux-gnu/libnvinfer.so.10.4.0\n/usr/lib/aarch64-linux-gnu/libnvinfer.so.10\n"


@pytest.mark.parametrize(("listing", "version"), [(DEBIAN, "10.3.0.26"), (TAR, "8.6.1"), (PIP, "10.3.0"),
                                                   (LS_ARM, "10.4.0")])
def test_the_version_is_read_from_the_library_name_in_each_layout(listing, version):
    assert tensorrt.parse(listing) == (version, "")


def test_no_library_or_an_unclear_one_gives_none_and_says_why():
    assert tensorrt.parse("") == (None, "it holds no TensorRT library (no libnvinfer.so.* under /usr/lib, "
                                        "/usr/local, /opt)")
    version, why = tensorrt.parse("/usr/lib/x86_64-linux-gnu/libnvinfer_plugin.so.10.3.0\n")
    assert version is None and "no libnvinfer.so.*" in why
    version, why = tensorrt.parse("/opt/venv/lib/python3.12/site-packages/tensorrt_libs/libnvinfer.so.10\n")
    assert version is None and "major version only (libnvinfer.so.10)" in why
    version, why = tensorrt.parse(TAR + DEBIAN)
    assert version is None and "several TensorRT versions (10.3.0, 10.3.0.26, 8.6.1)" in why
    # a DeepStream container as reported: the system's TensorRT and another one from pip
    both = ("/usr/lib/x86_64-linux-gnu/libnvinfer.so.10.9.0\n"
            "/usr/local/lib/python3.12/dist-packages/tensorrt_cu13-10.16.1.11.dist-info\n")
    version, why = tensorrt.parse(both)
    assert version is None and "(10.16.1.11, 10.9.0)" in why


def test_the_environment_comes_first_and_without_an_engine_only_it_is_read():
    image = "nvcr.io/nvidia/riva/riva-speech:2.19.0"
    declared = {"Id": "sha256:x", "Config": {"Env": ["TENSORRT_VERSION=10.3.0.26"]}}
    assert convert.image_tensorrt(declared, image, client=None) == ("10.3.0.26", "")
    version, why = convert.image_tensorrt({"Id": "sha256:x", "Config": {"Env": []}}, image)
    assert version is None and why == f"the image {image} declares no TensorRT version (no TRT_VERSION or " \
                                      "TENSORRT_VERSION in its environment)"


@pytest.mark.docker
def test_the_library_is_read_in_a_container_of_an_image_that_declares_nothing(docker_engine, riva_lite_image):
    tag = f"rv-trt-lib-{uuid.uuid4().hex[:8]}:test"
    # no ENV; an entrypoint that fails, which the listing must bypass
    dockerfile = (f"FROM {riva_lite_image}\nRUN mkdir -p /usr/lib/x86_64-linux-gnu && "
                  "touch /usr/lib/x86_64-linux-gnu/libnvinfer.so.10.3.0\nENTRYPOINT [\"false\"]\n").encode()
    docker_engine.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True, pull=False)
    try:
        attrs = convert.inspect(docker_engine, tag)
        assert convert.image_tensorrt(attrs, tag, docker_engine) == ("10.3.0", "")
        assert tensorrt._SEEN[attrs["Id"]] == ("10.3.0", "")  # kept for the session, by the image's id
        lite = convert.image_tensorrt(convert.inspect(docker_engine, riva_lite_image), riva_lite_image, docker_engine)
        assert lite[0] is None and "no libnvinfer.so.*" in lite[1] and riva_lite_image in lite[1]
        # the probe of this test's own image was removed (riva-lite's image is probed by other workers' runs too)
        assert not docker_engine.containers.list(all=True, filters={"label": tensorrt.LABEL, "ancestor": tag})
    finally:
        docker_engine.images.remove(tag, force=True)
