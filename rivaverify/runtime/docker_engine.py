"""The Docker engine: a client for DOCKER_HOST (local socket, tcp://, ssh:// through the system's ssh), images
present or pulled, an image's PATH, GPUs as device requests; DockerError says what to do when it is not usable."""

from __future__ import annotations

import contextlib
import os
from typing import Any

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LOGIN_HINT = "run `docker login nvcr.io` (user $oauthtoken, your NGC API key) and try again"


class DockerError(RuntimeError):
    """The engine or the image is not usable; the message says what to do."""


def image_path(image_env: list[str] | None) -> str:
    """PATH of an image's config (Env list), or Docker's default."""
    for entry in image_env or []:
        if entry.startswith("PATH="):
            return entry[5:]
    return DEFAULT_PATH


def device_requests(gpus: str, gpu_runtime: bool) -> list | None:
    """RIVA__DOCKER_GPUS as the SDK's device requests: all, device ids "0,1", none, or auto (all when the engine
    has the NVIDIA runtime)."""
    from docker.types import DeviceRequest

    if gpus == "all" or (gpus == "auto" and gpu_runtime):
        return [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    if gpus not in ("auto", "none"):
        return [DeviceRequest(device_ids=gpus.split(","), capabilities=[["gpu"]])]
    return None


def client() -> Any:
    """A Docker client for DOCKER_HOST (unix socket, tcp://, or ssh:// through the system's ssh)."""
    import docker

    ssh = os.environ.get("DOCKER_HOST", "").startswith("ssh://")
    if ssh:
        _close_exited_ssh_quietly()
    try:
        c = docker.from_env(use_ssh_client=ssh)
        c.ping()
    except Exception as exc:  # DockerException, requests errors, ssh failures: all "no engine"
        where = os.environ.get("DOCKER_HOST") or "the local socket"
        raise DockerError(f"no Docker engine reachable at {where} ({exc}): start dockerd, or set DOCKER_HOST "
                          "(ssh://user@gpu-box works)") from None
    return c


def _close_exited_ssh_quietly() -> None:
    """docker-py's ssh:// transport closes a connection by writing to its ssh process' stdin; after an exec the
    engine has often ended that stream and ssh has exited, so the close raises BrokenPipeError once the exec's
    output was read (docker/docker-py#3218, 1 exec in 4-12 here). Such a close only has the process to end."""
    from docker.transport import sshconn

    close = sshconn.SSHSocket.close
    if getattr(close, "quiet", False):
        return

    def quiet_close(sock: Any) -> None:
        try:
            close(sock)
        except BrokenPipeError:
            with contextlib.suppress(OSError):
                sock.proc.stdin.close()
            sock.proc.terminate()
            sock.proc.wait(5)

    quiet_close.quiet = True  # type: ignore[attr-defined]
    sshconn.SSHSocket.close = quiet_close


def ensure_image(c: Any, image: str, log=print) -> Any:
    """The image by name: used as is when present (never pulled then), else pulled; clear error otherwise."""
    import docker

    try:
        return c.images.get(image)
    except docker.errors.ImageNotFound:
        pass
    log(f"pulling {image} (not present on the engine)")
    try:
        return c.images.pull(image)
    except docker.errors.APIError as exc:
        detail = getattr(exc, "explanation", None) or str(exc)
        raise DockerError(f"image {image} is not on the Docker engine and cannot be pulled ({detail}): "
                          f"{LOGIN_HINT}, or `docker pull {image}` yourself, or set RIVA__IMAGE to an image "
                          "that is present (unset: the riva-lite image, built locally)") from None


def image_present(c: Any, image: str) -> bool:
    """Whether the engine has the image already (nothing to pull)."""
    import docker

    try:
        c.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True
