"""Build facts: what a model repository's TensorRT engines were built for (`.rivaverify-build.json` at its root),
and the gate that refuses a repository built for another GPU or TensorRT than the one that would serve it.

TensorRT engines load only on the compute capability and the TensorRT version they were built with (`The engine
plan file is generated on an incompatible device, expecting compute 8.6 got compute 7.5`); another GPU model of the
same capability loads them with a warning (docs/riva-behaviour.md). riva-lite builds no engine: compute capability
"cpu", TensorRT none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rivaverify.files import write_json_atomic

FILE = ".rivaverify-build.json"
KEYS = ("gpu_name", "compute_capability", "driver", "tensorrt", "triton", "image", "build_options", "built_at")
CPU = "cpu"  # riva-lite: no GPU, no engine
CONVERT = "convert again on this GPU with this image (`rivaverify convert`, or riva-deploy -f the .rmir here)"


class BuildFactsError(ValueError):
    """A build facts file that cannot be read; the message names it and what to do."""


def capability(value: Any) -> str | None:
    """A compute capability as nvidia-smi prints it ("8.6"), "cpu", or None when unknown."""
    if value is None or value == "":
        return None
    if str(value).strip().lower() == CPU:
        return CPU
    try:
        return f"{float(value):.1f}"
    except (TypeError, ValueError):
        return str(value).strip()


def facts(compute_capability: Any, *, gpu_name: str | None = None, driver: str | None = None,
          tensorrt: str | None = None, triton: str | None = None, image: str | None = None,
          build_options: Mapping | None = None, built_at: str | None = None) -> dict[str, Any]:
    """A build facts record with every key."""
    return {"gpu_name": gpu_name, "compute_capability": capability(compute_capability), "driver": driver,
            "tensorrt": tensorrt, "triton": triton, "image": image, "build_options": dict(build_options or {}),
            "built_at": built_at or datetime.now(UTC).isoformat(timespec="seconds")}


def read(repo: Path) -> dict[str, Any] | None:
    """The repository's build facts, None when it has none (a repository made by hand)."""
    path = Path(repo) / FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BuildFactsError(f"{path} is not readable JSON ({exc}): {CONVERT}, or delete it to check the "
                              "repository as one made by hand") from None
    if not isinstance(data, dict) or not data.get("compute_capability"):
        raise BuildFactsError(f"{path} has no compute_capability: {CONVERT}, or delete it to check the repository "
                              "as one made by hand")
    return data


def write(repo: Path, record: Mapping[str, Any]) -> Path:
    """Write the build facts at the repository's root, atomically."""
    return write_json_atomic(Path(repo) / FILE, {k: record.get(k) for k in KEYS})


@dataclass(frozen=True)
class Here:
    """What would serve the repository: the GPUs' compute capabilities and names, the image's TensorRT."""

    capabilities: tuple[str, ...]  # ("cpu",) with no GPU
    gpu_names: tuple[str, ...] = ()
    tensorrt: str | None = None
    tensorrt_unknown: str = ""  # why the TensorRT version is not known (then it is not compared)
    image: str | None = None
    gpus_unknown: str = ""  # why the serving GPUs are not visible from here (then they are not compared)

    def describe(self) -> str:
        if self.capabilities == (CPU,):
            return "no GPU (cpu)"
        names = f" ({', '.join(sorted(set(self.gpu_names)))})" if self.gpu_names else ""
        return f"compute capability {', '.join(sorted(set(self.capabilities)))}{names}"


RIVA_LITE = Here((CPU,), tensorrt_unknown="")


def here(gpus: Iterable[Mapping] | None, tensorrt: str | None = None, tensorrt_unknown: str = "",
         image: str | None = None) -> Here:
    """Here from preflight.gpus() rows (compute_capability, name); no GPU (None or []) is "cpu"."""
    rows = list(gpus or [])
    caps = tuple(c for c in (capability(g.get("compute_capability")) for g in rows) if c) or (CPU,)
    names = tuple(str(g["name"]) for g in rows if g.get("name") and g.get("name") != "?")
    return Here(caps, names, tensorrt, tensorrt_unknown, image)


@dataclass
class Verdict:
    refused: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    compared: dict[str, Any] = field(default_factory=dict)


def _same_version(a: str, b: str) -> bool:
    """TensorRT versions match when one is the other or a dotted prefix of it (10.3.0 and 10.3.0.26)."""
    x, y = str(a).strip().split("."), str(b).strip().split(".")
    n = min(len(x), len(y))
    return x[:n] == y[:n]


def check(record: Mapping[str, Any] | None, where: Here, repo: Path) -> Verdict:
    """Refuse a repository built for another compute capability or TensorRT than `where`; warn when it was built
    on another GPU model of the same capability, or when its build facts are missing."""
    v = Verdict()
    if record is None:
        v.warnings.append(f"{repo} has no {FILE}: a repository made by hand (or by riva_init.sh), so what GPU and "
                          "TensorRT its engines were built for is unknown and not checked; `rivaverify convert` "
                          "records it")
        return v
    built = capability(record.get("compute_capability"))
    gpu, trt = record.get("gpu_name"), record.get("tensorrt")
    v.compared = {"built_for": built, "built_on": gpu, "built_tensorrt": trt, "here": list(where.capabilities),
                  "here_gpus": list(where.gpu_names), "here_tensorrt": where.tensorrt}
    built_on = f"compute capability {built}" + (f" ({gpu})" if gpu else "")
    if built == CPU:
        built_on = "no GPU (cpu, riva-lite)"
    if where.gpus_unknown:
        v.warnings.append(f"{repo} was built for {built_on}; {where.gpus_unknown}: the compute capability is not "
                          "compared")
    elif any(c != built for c in where.capabilities):
        v.refused.append(f"{repo} was built for {built_on}, and this host has {where.describe()}: its TensorRT "
                         "engines will not load (`The engine plan file is generated on an incompatible device`); "
                         f"{CONVERT}")
    if trt and where.tensorrt and not _same_version(trt, where.tensorrt):
        v.refused.append(f"{repo} was built with TensorRT {trt}, and the image {where.image or ''} has TensorRT "
                         f"{where.tensorrt}: its engines will not load (`The engine plan file is not compatible with "
                         f"this version of TensorRT`); {CONVERT}")
    elif bool(trt) != bool(where.tensorrt):
        known = f"built with TensorRT {trt}" if trt else "its build facts name no TensorRT"
        why = where.tensorrt_unknown or (f"the image has TensorRT {where.tensorrt}" if where.tensorrt else
                                         "the image's TensorRT version is unknown")
        v.warnings.append(f"{repo}: {known}; {why}: the TensorRT versions are not compared")
    if not v.refused and not where.gpus_unknown and gpu and where.gpu_names and any(n != gpu for n in where.gpu_names):
        v.warnings.append(f"{repo} was built on {gpu} and runs on {', '.join(sorted(set(where.gpu_names)))} (both "
                          f"compute capability {built}): the engines load, but TensorRT warns `Using an engine plan "
                          "file across different models of devices is not recommended` and latency and capacity "
                          "figures are not comparable with ones measured on the build GPU")
    return v
