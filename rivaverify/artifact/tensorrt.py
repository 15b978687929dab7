"""The TensorRT version of an image: what its environment declares (TRT_VERSION, TENSORRT_VERSION), else what the
name of its TensorRT library says (libnvinfer.so.MAJOR.MINOR.PATCH; the pip package's tensorrt*-VERSION.dist-info
where the library names its major version only), listed in a short-lived container of the image: its entrypoint
bypassed, no GPU, no network, never pulled, removed after. Each image's answer is kept (by its id) for the session.
Where each layout comes from: docs/riva-behaviour.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rivaverify.buildfacts import _same_version

# NVIDIA's TensorRT Dockerfiles set TRT_VERSION, NGC's framework containers TENSORRT_VERSION
ENV = ("TRT_VERSION", "TENSORRT_VERSION")
ROOTS = ("/usr/lib", "/usr/local", "/opt")  # Debian packages, the tar file (/usr/local/tensorrt), pip's site-packages
DEPTH = 6
LABEL = "riva-verify.probe"
# one listing: find where the image has it, else ls of the usual folders; the status is always 0
LISTING = (f"find {' '.join(ROOTS)} -maxdepth {DEPTH} \\( -name 'libnvinfer.so.*' -o -name 'tensorrt*.dist-info' \\) "
           "2>/dev/null || ls -1d /usr/lib/*-linux-gnu/libnvinfer.so.* /usr/local/tensorrt/lib/libnvinfer.so.* "
           "/opt/tensorrt/lib/libnvinfer.so.* 2>/dev/null; exit 0")
LIB = re.compile(r"(?:^|/)libnvinfer\.so\.(\d+(?:\.\d+)*)$")
WHEEL = re.compile(r"(?:^|/)tensorrt(?:[_-]cu\d+)?(?:[_-](?:libs|bindings))?-(\d+(?:\.\d+)+)\.dist-info/?$")
_SEEN: dict[str, tuple[str | None, str]] = {}


def env_value(env: list[str] | None, names: tuple[str, ...]) -> str | None:
    for item in env or []:
        name, _, value = item.partition("=")
        if name in names and value.strip():
            return value.strip()
    return None


def parse(listing: str) -> tuple[str | None, str]:
    """(version, "") from the paths a listing names, or (None, why none is known)."""
    lines = [line.strip() for line in listing.splitlines() if line.strip()]
    libs = {m.group(1) for m in map(LIB.search, lines) if m}
    wheels = {m.group(1) for m in map(WHEEL.search, lines) if m}
    found = {v for v in libs if v.count(".") >= 2} | wheels  # a pip TensorRT beside the system's must agree with it
    if not found:
        if libs:
            majors = ", ".join(f"libnvinfer.so.{v}" for v in sorted(libs))
            return None, f"its TensorRT library names its major version only ({majors}), no tensorrt package the rest"
        return None, f"it holds no TensorRT library (no libnvinfer.so.* under {', '.join(ROOTS)})"
    best = max(found, key=lambda v: (v.count("."), v))  # the most precise: 10.3.0.26 over 10.3.0
    if not all(_same_version(v, best) for v in found):
        return None, f"it holds several TensorRT versions ({', '.join(sorted(found))}): which one builds is not known"
    return best, ""


def listing(client: Any, image: str, timeout_s: float = 120) -> str:
    """What LISTING prints in a container of the image (by id or name; never pulled), removed after."""
    container = client.containers.create(image, [LISTING], entrypoint=["sh", "-c"], network_disabled=True,
                                         labels={LABEL: "tensorrt"})
    try:
        container.start()
        status = container.wait(timeout=timeout_s).get("StatusCode", -1)
        out = container.logs(stdout=True, stderr=True).decode(errors="replace")
    finally:
        container.remove(force=True)
    if status != 0:
        raise RuntimeError(f"exit {status}: {out.strip()[-300:]}")
    return out


def of_image(client: Any, image: str, attrs: Mapping[str, Any], timeout_s: float = 120) -> tuple[str | None, str]:
    """(TensorRT version, "") of an image on the engine (attrs: its `docker inspect`), or (None, why it is unknown).
    Without a client only the environment is read."""
    version = env_value((attrs.get("Config") or {}).get("Env"), ENV)
    if version:
        return version, ""
    why = f"the image {image} declares no TensorRT version (no {' or '.join(ENV)} in its environment)"
    if client is None:
        return None, why
    key = str(attrs.get("Id") or image)
    if key not in _SEEN:
        try:
            _SEEN[key] = parse(listing(client, key, timeout_s))
        except Exception as exc:  # an APIError (no sh in it), a ReadTimeout past the deadline, a lost engine
            return None, f"{why}, and its TensorRT library could not be listed ({exc})"
    version, reason = _SEEN[key]
    return (version, "") if version else (None, f"{why}, and {reason}")
