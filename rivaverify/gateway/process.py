"""Running rivagateway as a process (its command line, key file and readiness line), and the gateway phase 070
checks."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rivaverify.gateway.client import GatewayError
from rivaverify.process import Child, Exited, NotReady

READY = "rivagateway listening on "


def write_keys(path: Path, keys: dict[str, str]) -> Path:
    """A key file (key_id:key lines) only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(f"{k}:{v}\n" for k, v in keys.items()))
    return path


def command(riva: str, keys: Path | None, listen: str = "127.0.0.1:0", args: tuple[str, ...] = ()) -> list[str]:
    script = Path(sys.executable).parent / "rivagateway"
    exe = [str(script)] if script.exists() else [sys.executable, "-m", "rivagateway.cli"]
    auth = ["--keys", str(keys)] if keys is not None else ["--no-auth"]
    return [*exe, "--riva", riva, "--listen", listen, *auth, *args]


class GatewayProcess(Child):
    """`rivagateway` as a child process in a session of its own, logging to a file; `start()` waits for its
    listening line and reads its URL from it."""

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None):
        super().__init__(argv, log_path, env=env, name="rivagateway")
        self.url = ""

    def start(self, timeout: float = 30) -> GatewayProcess:
        super().start()
        try:
            line = self.wait_for(READY, timeout)
        except Exited as exc:
            raise GatewayError(f"rivagateway exited with {exc.rc} before serving: {self.tail()} "
                               f"(log {self.log_path})") from None
        except NotReady:
            self.stop()
            raise GatewayError(f"rivagateway did not serve within {timeout:g} s (log {self.log_path}): "
                               f"{self.tail()}") from None
        self.url = line.split(READY, 1)[1].split()[0]
        return self


@dataclass
class Gateway:
    """The gateway phase 070 checks: its URL, the keys the suite may use, and its process when it started it."""

    url: str
    keys: dict[str, str] = field(default_factory=dict, repr=False)  # key id -> key
    ca_cert: str | None = None
    process: GatewayProcess | None = None

    @property
    def key(self) -> str | None:
        return next(iter(self.keys.values()), None)

    @property
    def limit_key(self) -> str | None:
        """A key for the rate-limit check (its own when the suite made the keys)."""
        return self.keys.get("limits", self.key)
