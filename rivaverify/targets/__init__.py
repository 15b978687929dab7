"""One type per target (local, docker, endpoint), combined with the flavor, picked once by name: what is served
and visible, ports, the launch, readiness stages, the one ready timeout, the refusals (targets/base.py)."""

from __future__ import annotations

from rivaverify.settings import Settings
from rivaverify.targets.base import Launch, Target


def get(settings: Settings) -> Target:
    """The target the settings name (RIVA__TARGET), with their flavor."""
    if settings.target == "local":
        from rivaverify.targets.local import LocalTarget

        return LocalTarget(settings)
    if settings.target == "docker":
        from rivaverify.targets.docker import DockerTarget

        return DockerTarget(settings)
    if settings.target == "endpoint":
        from rivaverify.targets.endpoint import EndpointTarget

        return EndpointTarget(settings)
    if settings.target == "kubernetes":
        from rivaverify.targets.kubernetes import KubernetesTarget

        return KubernetesTarget(settings)
    raise ValueError(f"unknown target {settings.target!r}: use local, docker, endpoint or kubernetes")


__all__ = ["Launch", "Target", "get"]
