"""The lowest NVIDIA driver each Riva image needs, as NVIDIA's support matrices state it, and which image a run uses.

Only versions whose page states a minimum are listed; any other version is unknown and the driver check skips.
Riva 2.15-2.19 (riva-speech): their support-matrix pages have an "NVIDIA Driver" row, but its value was not in the
reference text available here, so no riva-speech row is listed (add one with its page when it is read).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from rivaverify import releases


class DriverMinimum(NamedTuple):
    kind: str  # a releases kind: releases.ASR_NIM (no riva-speech or Speech NIM row is sourced yet)
    version: str  # the release, x.y.z
    min_major: int  # driver branch: 535 means 535.* or later
    source: str


NIM_MATRIX = "https://docs.nvidia.com/nim/riva/asr/{}/support-matrix.html"
# Riva ASR NIM support matrices, Software: "NVIDIA Driver >= 535" (Linux; no branch list or forward-compat note).
NIM_RELEASES = ("1.3.1", "1.3.2", "1.5.0", "1.6.0")
DRIVER_MINIMUMS = tuple(DriverMinimum(releases.ASR_NIM, v, 535, NIM_MATRIX.format(v)) for v in NIM_RELEASES)


def is_nim(image: str | None) -> bool:
    """Whether the image is a NIM (nvcr.io/nim/...), whatever its tag."""
    return releases.family(image) == "nim"


def driver_minimum(release: releases.Release) -> tuple[DriverMinimum | None, str]:
    """The sourced minimum for this release (a target's: RIVA__NIM_RELEASE where set, else the image's tag), or
    None with the reason the driver check skips."""
    if not release.kind:
        return None, f"the Riva release is {release}"
    for row in DRIVER_MINIMUMS:
        if (row.kind, row.version) == (release.kind, release.version):
            return row, ""
    return None, (f"no sourced minimum driver for {release} "
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
