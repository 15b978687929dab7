"""Conversion (the seed's riva-131): staged .riva -> `riva-build speech_recognition` -> .rmir -> `riva-deploy -f`
-> a Triton model repository with its build facts, run in the conversion image through the Docker SDK.

    docker run --rm [--gpus all] -e RIVA_MODEL_KEY -v RIVA_DIR:/servicemaker-dev:ro -v OUT:/data IMAGE \\
        sh -c 'riva-build speech_recognition /data/rmir/NAME.rmir:$RIVA_MODEL_KEY /servicemaker-dev/NAME.riva:... \\
               --name=... && riva-deploy -f /data/rmir/NAME.rmir:$RIVA_MODEL_KEY /data/models'

The key passes through the environment only (the command line names $RIVA_MODEL_KEY). Each step runs in its own
container (removed after), its log and duration kept under LOG_DIR. The repository is built in OUT/models.partial
and renamed to OUT/models only when both steps succeeded.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rivaverify import buildfacts
from rivaverify.artifact import tensorrt
from rivaverify.artifact.errors import ArtifactError
from rivaverify.files import write_json_atomic

KEY_ENV = "RIVA_MODEL_KEY"
RIVA_DIR, DATA = "/servicemaker-dev", "/data"
TRITON_ENV = ("TRITON_SERVER_VERSION",)
GPU_LINE = "RIVAVERIFY_GPU:"
# Printed by the deploy step: the GPU it ran on, as nvidia-smi reports it (nothing where there is none).
GPU_PROBE = (f"nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader 2>/dev/null "
             f"| head -n 1 | sed 's/^/{GPU_LINE} /' || true")
DEFAULT_OPTIONS = {"language_code": "en-US", "streaming": True, "chunk_size": 0.16, "decoder_type": "greedy"}


def wanted(settings: Any) -> bool:
    """Whether the deployment's repository is converted in a container: RIVA__CONVERT, by default with target docker
    and flavor classic (a NIM converts inside itself; target local deploys riva-lite's repository directly)."""
    from rivaverify import targets

    return targets.get(settings).converts


class ConvertError(ArtifactError):
    """A conversion that failed; the message names the step, its log and what to do."""


def image_tensorrt(attrs: Mapping[str, Any] | None, image: str, client: Any = None) -> tuple[str | None, str]:
    """(TensorRT version, "") from the image's environment, else (with a client) from the name of its TensorRT
    library, listed in a short-lived container of it; or (None, why it is unknown)."""
    if attrs is None:
        return None, (f"the image {image} is not on the Docker engine yet (pulled when the deployment starts), so "
                      "its TensorRT version is not known")
    return tensorrt.of_image(client, image, attrs)


def inspect(client: Any, image: str) -> dict | None:
    """The image's `docker inspect` attributes, None when it is not on the engine (nothing pulled)."""
    import docker

    try:
        return client.images.get(image).attrs
    except docker.errors.ImageNotFound:
        return None


@dataclass
class ConvertRequest:
    riva: Path  # the staged .riva (or an .rmir: then riva-build is skipped)
    out_dir: Path  # OUT/models, OUT/rmir
    image: str
    build_options: dict = field(default_factory=dict)
    gpus: str = "auto"  # auto (when the engine has the nvidia runtime), all, none, or ids "0,1"
    key: str | None = None  # the .riva's encryption key: the environment only, never argv or a log
    log_dir: Path = Path("reports/convert")
    timeout_s: float = 3600

    @property
    def name(self) -> str:
        return self.riva.name.rsplit(".", 1)[0]

    @property
    def options(self) -> dict:
        return {"name": self.name, **DEFAULT_OPTIONS, **self.build_options}


def _keyed(path: str, req: ConvertRequest) -> str:
    return f"{path}:${KEY_ENV}" if req.key else path


def _option(key: str, value: Any) -> str:
    return f"--{key}={value}" if value is not True and value is not False else f"--{key}={value!s}"


def steps(req: ConvertRequest) -> dict[str, str]:
    """The shell command of each step, as run in the image: {"riva-build": ..., "riva-deploy": ...}."""
    rmir = f"{DATA}/rmir/{req.name}.rmir"
    out: dict[str, str] = {}
    if not req.riva.name.endswith(".rmir"):
        riva = _keyed(f"{RIVA_DIR}/{req.riva.name}", req)
        build = ["riva-build", "speech_recognition", "-f", _keyed(rmir, req), riva,
                 *(_option(k, v) for k, v in sorted(req.options.items()))]
        out["riva-build"] = f"mkdir -p {DATA}/rmir && " + " ".join(_quote(a) for a in build)
    else:
        rmir = f"{RIVA_DIR}/{req.riva.name}"
    deploy = ["riva-deploy", "-f", _keyed(rmir, req), f"{DATA}/models.partial"]
    out["riva-deploy"] = " ".join(_quote(a) for a in deploy) + f" && {GPU_PROBE}"
    return out


def _quote(arg: str) -> str:
    """shlex.quote, leaving $RIVA_MODEL_KEY for the shell to expand (in double quotes)."""
    if f"${KEY_ENV}" in arg:
        return '"' + arg.replace('"', '\\"') + '"'
    return shlex.quote(arg)


def docker_argv(req: ConvertRequest, step: str) -> list[str]:
    """A step as a `docker run` line, for the plan and for people; the key as -e RIVA_MODEL_KEY (its name only)."""
    argv = ["docker", "run", "--rm"]
    if req.gpus not in ("auto", "none"):
        argv += ["--gpus", "all" if req.gpus == "all" else f"device={req.gpus}"]
    if req.key:
        argv += ["-e", KEY_ENV]
    argv += ["-v", f"{req.riva.parent}:{RIVA_DIR}:ro", "-v", f"{req.out_dir}:{DATA}", req.image, "sh", "-c",
             steps(req)[step]]
    return argv


@dataclass
class Converted:
    repo: Path
    facts: dict
    seconds: dict[str, float]
    logs: dict[str, str]

    def to_json(self) -> dict:
        return {"status": "converted", "model_repo": str(self.repo), "build_facts": self.facts,
                "seconds": self.seconds, "logs": self.logs}


def _run_step(client: Any, req: ConvertRequest, step: str, log_path: Path, log: Callable[[str], None]) -> str:
    """One step in its own container; its output written to log_path; the container removed after."""
    from docker.types import Mount

    from rivaverify.runtime.docker_engine import device_requests

    owner = f"{os.getuid()}:{os.getgid()}"
    script = f"trap 'chown -R {owner} {DATA}' EXIT; set -e; {steps(req)[step]}"
    env = {KEY_ENV: req.key} if req.key else {}
    mounts = [Mount(RIVA_DIR, str(req.riva.parent.resolve()), type="bind", read_only=True),
              Mount(DATA, str(req.out_dir.resolve()), type="bind")]
    gpus = device_requests(req.gpus, "nvidia" in ((client.info() or {}).get("Runtimes") or {}))
    log(f"{step}: {' '.join(docker_argv(req, step))}")
    container = client.containers.run(req.image, ["sh", "-c", script], environment=env, mounts=mounts,
                                      device_requests=gpus, detach=True, labels={"riva-verify.convert": step})
    try:
        try:
            status = container.wait(timeout=req.timeout_s).get("StatusCode", -1)
        except Exception as exc:  # requests' ReadTimeout, a lost engine
            container.kill()
            raise ConvertError(f"{step} did not finish within {req.timeout_s:.0f} s ({exc}): read {log_path}") from None
        finally:
            text = container.logs(stdout=True, stderr=True).decode(errors="replace")
            log_path.write_text(text)
    finally:
        container.remove(force=True)
    if status != 0:
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise ConvertError(f"{step} failed in {req.image} (exit {status}); its log: {log_path}\n{tail}\nfix what it "
                           "says (a wrong key, an .riva this image cannot build), then run `rivaverify convert` again")
    return text


def gpu_of(deploy_log: str) -> dict[str, str | None]:
    """The GPU the deploy step ran on, from its RIVAVERIFY_GPU line; {} where it saw none."""
    for line in deploy_log.splitlines():
        if line.startswith(GPU_LINE):
            parts = [p.strip() for p in line[len(GPU_LINE):].split(",")]
            if len(parts) == 3 and re.fullmatch(r"\d+\.\d+", parts[1]):
                return {"gpu_name": parts[0], "compute_capability": parts[1], "driver": parts[2]}
    return {}


def convert(client: Any, req: ConvertRequest, log: Callable[[str], None] = print) -> Converted:
    """Run the steps; OUT/models holds the repository and its build facts only when they all succeeded."""
    if not req.riva.is_file():
        raise ConvertError(f"{req.riva} not found: stage the artifact first (`rivaverify stage`) or give a .riva file")
    attrs = inspect(client, req.image)
    if attrs is None:
        from rivaverify.runtime.docker_engine import DockerError, ensure_image

        try:
            attrs = ensure_image(client, req.image, log).attrs
        except DockerError as exc:
            raise ConvertError(str(exc)) from None
    created = not req.out_dir.exists()
    req.out_dir.mkdir(parents=True, exist_ok=True)
    req.log_dir.mkdir(parents=True, exist_ok=True)
    partial, repo = req.out_dir / "models.partial", req.out_dir / "models"
    shutil.rmtree(partial, ignore_errors=True)
    seconds, logs, text = {}, {}, ""
    try:
        for step in steps(req):
            log_path = req.log_dir / f"{req.name}.{step}.log"
            started = time.monotonic()
            text = _run_step(client, req, step, log_path, log)
            seconds[step] = round(time.monotonic() - started, 2)
            logs[step] = str(log_path)
        env = (attrs.get("Config") or {}).get("Env")
        written = buildfacts.read(partial) or {}  # riva-lite's riva-deploy writes its own ("cpu")
        trt = written["tensorrt"] if "tensorrt" in written else image_tensorrt(attrs, req.image, client)[0]
        gpu = gpu_of(text)
        record = buildfacts.facts(
            written.get("compute_capability") or gpu.get("compute_capability") or buildfacts.CPU,
            gpu_name=written.get("gpu_name") or gpu.get("gpu_name"), driver=written.get("driver") or gpu.get("driver"),
            tensorrt=trt, triton=written.get("triton") or tensorrt.env_value(env, TRITON_ENV),
            image=req.image, build_options={**req.options, **(written.get("build_options") or {})})
        buildfacts.write(partial, record)
        shutil.rmtree(repo, ignore_errors=True)
        partial.rename(repo)
        done = Converted(repo, record, seconds, logs)
        write_json_atomic(req.log_dir / f"{req.name}.convert.json", done.to_json())
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        for empty in (req.out_dir / "rmir", req.out_dir if created else None):
            if empty is not None and empty.is_dir() and not any(empty.iterdir()):
                empty.rmdir()
        raise
    return done
