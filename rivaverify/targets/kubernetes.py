"""Target kubernetes: a running deployment found through the Kubernetes API (RIVA__KUBE_NAMESPACE,
RIVA__KUBE_SELECTOR; kubeconfig or the pod's service account), attached to like an endpoint, but every replica is
checked at its own address: a Service spreads requests, so one healthy answer through it proves one pod."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rivaverify import readiness
from rivaverify.targets.base import Launch
from rivaverify.targets.endpoint import EndpointTarget

if TYPE_CHECKING:
    from rivaverify import deploy


class KubernetesTarget(EndpointTarget):
    name = "kubernetes"

    def refusal(self) -> str | None:
        if not self.settings.kube_selector:
            return ("target kubernetes needs RIVA__KUBE_SELECTOR, the label selector of the Riva pods (the riva-api "
                    "chart: app=riva-api,release=RELEASE; a NIMService: app=NAME), and RIVA__KUBE_NAMESPACE")
        try:
            import kubernetes  # noqa: F401 (the extra's presence)
        except ImportError:
            return "target kubernetes needs the kube extra: pip install 'riva-verify[kube]'"
        return None

    def replicas(self) -> list:
        """The selected pods now, each with its address and facts (rivaverify.kube.discovery.Replica)."""
        from rivaverify.kube import discovery

        s = self.settings
        api = discovery.api_client(str(s.kubeconfig) if s.kubeconfig else None, s.kube_context)
        return discovery.replicas(api, s.kube_namespace, s.kube_selector or "")

    def inside(self) -> list[tuple[str, str, bool | None, str]]:
        """(replica, check, passed, detail) of the shim and argv checks in every ready classic replica, through
        exec; passed None: exec is not possible there, the detail says why (the check skips)."""
        from rivaverify.kube import discovery, podexec

        if self.nim:
            return []  # a NIM has no start-riva launcher: nothing to shim
        s = self.settings
        api = discovery.api_client(str(s.kubeconfig) if s.kubeconfig else None, s.kube_context)
        out = []
        for r in (r for r in discovery.replicas(api, s.kube_namespace, s.kube_selector or "") if r.ready):
            for name, check in (("shim first on PATH", podexec.shim_first), ("argv", podexec.tritonserver_argv)):
                out.append((r.name, name, *check(api, r, r.container)))
        return out

    def _each(self, check, ready_only: bool = False) -> readiness.Check:
        """A readiness check that passes when the check passes on every replica (pods listed again each try, so a
        rolling update's new pods are seen)."""
        from rivaverify.kube import replicas

        def run() -> tuple[bool, str]:
            reps = self.replicas()
            verdicts = replicas.each(reps, check, ready_only)
            problem = replicas.problem(verdicts, "replicas")
            return problem is None, problem or f"{len(verdicts)} replicas: " + ", ".join(r.name for r in reps)
        return run

    def stages(self, dep: deploy.Deployment, launch: Launch | None) -> list[readiness.Stage]:
        """pods found -> every replica ready -> gRPC health SERVING on each -> the model listed on each."""
        from rivaverify.kube import replicas

        timeout, s = self.ready_timeout_s, self.settings

        def found() -> tuple[bool, str]:
            reps = self.replicas()
            return bool(reps), "; ".join(r.facts() for r in reps) or (
                f"no pod in namespace {s.kube_namespace} matches {s.kube_selector}")
        return [readiness.Stage("pods found", found, min(timeout, 60)),
                readiness.Stage("every replica ready", self._each(lambda address: (True, "ready")), timeout),
                readiness.Stage("grpc health serving on every replica", self._each(replicas.health()), timeout),
                readiness.Stage("model listed on every replica", self._each(replicas.model_listed(s.language_code)),
                                min(timeout, 30))]

    @property
    def triton_host(self) -> str:
        """A ready replica's pod IP: Triton's metrics are per pod, not behind the Service (RIVA__HOST's host when the
        API cannot be read)."""
        try:
            ready = [r for r in self.replicas() if r.ready and r.ip]
        except Exception:  # noqa: BLE001 - readiness reports the API's failure
            ready = []
        return ready[0].ip if ready else self.settings.grpc_host
