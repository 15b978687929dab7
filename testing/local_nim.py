"""riva-lite's NIM face (`rivalite nim`) as a local process for tests: free ports, its own cache folder, its log in
a file. Every process it starts carries RIVALITE_RUN_ID=<id>, so `leftovers()` finds anything that outlived it.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

from rivalite.launcher import free_port
from rivaverify.process import Child, ChildError
from testing.local_riva import RUN_ID_ENV, kill_leftovers, leftovers

READY = "Riva gRPC Server is READY"


def rivalite_command() -> list[str]:
    script = Path(sys.executable).parent / "rivalite"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rivalite.cli"]


class LocalNim(Child):
    def __init__(self, cache: str | os.PathLike, workdir: str | os.PathLike, env: dict[str, str] | None = None):
        """`env` adds to (or, with None values, removes from) the environment: NGC_API_KEY, NIM_TAGS_SELECTOR..."""
        self.cache, self.workdir, self.run_id = Path(cache), Path(workdir), uuid.uuid4().hex
        self.http_port = free_port()
        self.grpc_port = free_port({self.http_port})
        self.grpc_uri, self.base_url = f"127.0.0.1:{self.grpc_port}", f"http://127.0.0.1:{self.http_port}"
        full = {**os.environ, "NIM_CACHE_PATH": str(self.cache), "NIM_HTTP_API_PORT": str(self.http_port),
                "NIM_GRPC_API_PORT": str(self.grpc_port), RUN_ID_ENV: self.run_id, **(env or {})}
        argv = [*rivalite_command(), "nim", "--triton-http-port=0", "--triton-grpc-port=0",
                "--triton-metrics-port=0", "--ready-timeout=90"]
        super().__init__(argv, self.workdir / f"nim-{self.run_id[:8]}.log",
                         env={k: v for k, v in full.items() if v is not None}, name="rivalite nim", tied=False)

    def wait_ready(self, timeout: float = 120) -> LocalNim:
        try:
            self.wait_for(READY, timeout)
        except ChildError as e:
            tail = self.tail(40)
            self.stop()
            raise RuntimeError(f"rivalite nim was not ready ({e}; log {self.log_path}):\n{tail}") from None
        return self

    def output(self) -> str:
        return "\n".join(self.lines())

    def leftovers(self) -> list[int]:
        return leftovers(self.run_id)

    def kill_leftovers(self) -> list[int]:
        return kill_leftovers(self.run_id)
