"""Target endpoint: a running deployment at RIVA__HOST, attached to; nothing is started, and what cannot be seen
from here (its processes, logs, repository, GPUs) is skipped with the reason."""

from __future__ import annotations

from rivaverify.targets.base import Target


class EndpointTarget(Target):
    name = "endpoint"
    deploys = False

    def ports(self) -> dict[str, int]:
        """The endpoint's own: checked to be a Riva server by phase 010, never bound by this run."""
        ports = {"riva": self.settings.grpc_port}
        if self.nim:
            ports["nim_http"] = self.settings.nim_http_port
        return ports

    def port_problem(self, host) -> str | None:
        return None  # nothing is started here
