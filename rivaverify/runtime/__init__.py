"""Runtimes: one interface (start, stop, logs, exec, processes, ports), one file per implementation."""

from __future__ import annotations

from rivaverify.runtime.base import ExecResult, LaunchSpec, Proc, Runtime


def get(name: str) -> Runtime:
    """A new runtime by name: 'local' (processes here) or 'docker' (a container)."""
    if name == "local":
        from rivaverify.runtime.local import LocalRuntime

        return LocalRuntime()
    if name == "docker":
        from rivaverify.runtime.docker import DockerRuntime

        return DockerRuntime()
    raise ValueError(f"unknown runtime {name!r}: use 'local' or 'docker'")


__all__ = ["ExecResult", "LaunchSpec", "Proc", "Runtime", "get"]
