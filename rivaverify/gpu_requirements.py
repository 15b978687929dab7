"""The lowest NVIDIA driver each Riva image needs, as NVIDIA's support matrices state it, and which image a run uses.

Only versions whose page states a minimum are listed; any other version is unknown and the driver check skips.
Riva 2.15-2.19 (riva-speech): their support-matrix pages have an "NVIDIA Driver" row, but its value was not in the
reference text available here, so no riva-speech row is listed (add one with its page when it is read).
"""

from __future__ import annotations

import re
from typing import NamedTuple


class DriverMinimum(NamedTuple):
    kind: str  # "riva-speech" or "nim"
    version: str  # the image tag's release, x.y.z
    min_major: int  # driver branch: 535 means 535.* or later
    source: str


NIM_MATRIX = "https://docs.nvidia.com/nim/riva/asr/{}/support-matrix.html"
# Riva ASR NIM support matrices, Software: "NVIDIA Driver >= 535" (Linux; no branch list or forward-compat note).
NIM_RELEASES = ("1.3.1", "1.3.2", "1.5.0", "1.6.0")
DRIVER_MINIMUMS = tuple(DriverMinimum("nim", v, 535, NIM_MATRIX.format(v)) for v in NIM_RELEASES)

TAG = re.compile(r":(\d+\.\d+\.\d+)(?:[-.+].*)?$")


def image_release(image: str | None) -> tuple[str, str] | None:
    """(kind, x.y.z) of a Riva image reference, or None when it is not one whose release can be read from its tag.
    nvcr.io/nvidia/riva/riva-speech:2.19.0 -> riva-speech; nvcr.io/nim/nvidia/<model>:1.3.0 -> nim."""
    if not image or "@" in image:
        return None
    m = TAG.search(image)
    if not m:
        return None
    repo = image[: m.start()]
    if repo.rsplit("/", 1)[-1] == "riva-speech":
        return "riva-speech", m.group(1)
    if "/nim/" in f"/{repo}/":
        return "nim", m.group(1)
    return None


def is_nim(image: str | None) -> bool:
    """Whether the image is a Riva ASR NIM (nvcr.io/nim/...:x.y.z)."""
    return (image_release(image) or ("",))[0] == "nim"


def driver_minimum(image: str | None) -> tuple[DriverMinimum | None, str]:
    """The sourced minimum for this image, or None with the reason the driver check skips."""
    release = image_release(image)
    if release is None:
        return None, (f"image {image or '(none)'} has no Riva release in its tag (riva-speech:x.y.z or "
                      "nvcr.io/nim/...:x.y.z)")
    for row in DRIVER_MINIMUMS:
        if (row.kind, row.version) == release:
            return row, ""
    return None, (f"no sourced minimum driver for {release[0]} {release[1]} "
                  "(rivaverify/gpu_requirements.py lists the releases whose support matrix states one)")


def driver_major(version: str) -> int | None:
    """535 from '535.183.01'; None when nvidia-smi gave no number ([N/A])."""
    m = re.match(r"(\d+)\.", version.strip() + ".")
    return int(m.group(1)) if m else None


NIM_CONFIGURATION = "https://docs.nvidia.com/nim/riva/asr/1.1.0/configuration.html"
# NIM's Configuration page, GPU Selection: "Passing --gpus all to docker run is not supported in environments
# with two or more GPUs."; expose one GPU with --gpus='"device=1"' or NVIDIA_VISIBLE_DEVICES.
NIM_OPEN_FILES = 2048  # NIM's documented run line: --ulimit nofile=2048:2048 (else `Too many open files`)


def gpu_selection_problem(image: str | None, docker_gpus: str, gpu_count: int) -> str | None:
    """Why this GPU selection cannot run this image on a host with `gpu_count` GPUs, or None. `auto` passes all
    GPUs (--gpus all) when the engine has the NVIDIA runtime, so it counts as `all`."""
    if not is_nim(image) or gpu_count < 2 or docker_gpus not in ("all", "auto"):
        return None
    return (f"RIVA__DOCKER_GPUS={docker_gpus} gives the NIM {image} all {gpu_count} GPUs (--gpus all), which NIM "
            f"does not support on a host with two or more GPUs ({NIM_CONFIGURATION}, GPU Selection): set "
            "RIVA__DOCKER_GPUS to one device id from `nvidia-smi -L` (RIVA__DOCKER_GPUS=0)")
