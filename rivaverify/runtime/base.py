"""The runtime interface every deployment target implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LaunchSpec:
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ports: dict[str, int] = field(default_factory=dict)  # name -> port on this host
    cwd: Path | None = None


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    name: str
    argv: list[str]


@dataclass(frozen=True)
class ExecResult:
    rc: int
    stdout: str
    stderr: str


class Runtime(abc.ABC):
    name = "?"

    @abc.abstractmethod
    def start(self, spec: LaunchSpec) -> None:
        """Start the deployment's launcher; logs go to spec.log_path."""

    @abc.abstractmethod
    def stop(self, timeout_s: float = 15) -> int | None:
        """Stop it and everything it started (SIGTERM, then SIGKILL); return the exit code."""

    @abc.abstractmethod
    def alive(self) -> bool:
        """Whether the launcher still runs."""

    @abc.abstractmethod
    def exit_code(self) -> int | None:
        """The launcher's exit code once it has exited."""

    @abc.abstractmethod
    def logs(self, tail_lines: int | None = None) -> str:
        """What the deployment printed so far."""

    @abc.abstractmethod
    def exec(self, argv: list[str], timeout_s: float = 30) -> ExecResult:
        """Run a command where the deployment runs."""

    @abc.abstractmethod
    def processes(self) -> list[Proc]:
        """The deployment's live processes."""

    @abc.abstractmethod
    def launch_env(self) -> dict[str, str]:
        """The environment the launcher was started with."""

    @abc.abstractmethod
    def host_url(self) -> str:
        """testinfra URL of where the deployment runs (local://, docker://ID)."""

    @abc.abstractmethod
    def ports(self) -> dict[str, int]:
        """Name -> port on this host."""

    def launcher(self) -> Proc | None:
        """The start-riva process (a bash script in Riva's image, a Python script in riva-lite)."""
        return next((p for p in self.processes() if any(Path(a).name == "start-riva" for a in p.argv[:2])), None)

    def find(self, name: str) -> list[Proc]:
        """Live processes whose program is `name`."""
        return [p for p in self.processes() if p.name == name or (p.argv and Path(p.argv[0]).name == name)]
