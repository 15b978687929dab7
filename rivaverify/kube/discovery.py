"""A running deployment's replicas, found through the Kubernetes API (the `kubernetes` client; kubeconfig, or the
pod's service account in a cluster): each pod's address, readiness, node, restarts and last termination, probes
and GPU limits; a NIMService's and NIMCache's state."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as kconfig

from rivaverify.kube import riva

GRPC_PORT = 50051  # Riva's gRPC port, classic and NIM
PORT_NAMES = ("speech-grpc", "grpc-api", "grpc")  # the riva-api chart's name first (its "grpc" is Triton's 8001)


def api_client(kubeconfig: str | None = None, context: str | None = None) -> k8s.ApiClient:
    """kubeconfig (the file given, else $KUBECONFIG or ~/.kube/config) or, inside a pod, its service account."""
    cfg = k8s.Configuration()
    if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        kconfig.load_incluster_config(client_configuration=cfg)
    else:
        kconfig.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg)
    return k8s.ApiClient(cfg)


@dataclass
class Replica:
    """One pod, as the API reports it."""
    name: str
    namespace: str
    ip: str | None
    node: str | None
    phase: str
    ready: bool
    port: int
    restarts: int = 0
    last_termination: str | None = None  # "OOMKilled (exit 137)", ...
    gpus: str = "none"
    probes: dict[str, str] = field(default_factory=dict)
    container: str = ""  # the Riva server's container (exec goes there)

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    def facts(self) -> str:
        last = f", last terminated {self.last_termination}" if self.last_termination else ""
        return (f"{self.name} on {self.node or 'no node'}: {self.phase}, {'ready' if self.ready else 'not ready'}, "
                f"{self.restarts} restart(s){last}, GPUs {self.gpus}")


def _server(spec: dict[str, Any]) -> dict[str, Any]:
    cs = spec.get("containers") or [{}]
    return next((c for c in cs if riva.flavor(c)), cs[0])


def grpc_port(c: dict[str, Any]) -> int:
    ports = c.get("ports") or []
    for name in PORT_NAMES:
        p = next((p for p in ports if p.get("name") == name), None)
        if p and (name != "grpc" or not any(q.get("containerPort") == GRPC_PORT for q in ports)):
            return int(p["containerPort"])
    return GRPC_PORT


def replica(pod: dict[str, Any]) -> Replica:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    c = _server(spec)
    cstat = next((s for s in status.get("containerStatuses") or [] if s.get("name") == c.get("name")), {})
    term = (cstat.get("lastState") or {}).get("terminated")
    ready = any(x.get("type") == "Ready" and x.get("status") == "True" for x in status.get("conditions") or [])
    return Replica(
        meta.get("name", "?"), meta.get("namespace", "?"), status.get("podIP"), spec.get("nodeName"),
        status.get("phase", "?"), ready, grpc_port(c), int(cstat.get("restartCount", 0)),
        f"{term.get('reason', '?')} (exit {term.get('exitCode')})" if term else None,
        str(((c.get("resources") or {}).get("limits") or {}).get(riva.GPU, "none")),
        {p: riva.probe_text(c.get(p)) for p in ("readinessProbe", "livenessProbe", "startupProbe") if c.get(p)},
        c.get("name", ""))


def replicas(api: k8s.ApiClient, namespace: str, selector: str) -> list[Replica]:
    """The pods the selector picks in the namespace, by name."""
    resp = k8s.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector, _preload_content=False)
    pods = json.loads(resp.data).get("items") or []
    return sorted((replica(p) for p in pods), key=lambda r: r.name)


def nim_states(api: k8s.ApiClient, namespace: str) -> dict[str, str]:
    """'NIMService/name' and 'NIMCache/name' -> status.state, for the operator's objects in the namespace."""
    out = {}
    custom = k8s.CustomObjectsApi(api)
    for kind, plural in (("NIMService", "nimservices"), ("NIMCache", "nimcaches")):
        try:
            items = custom.list_namespaced_custom_object("apps.nvidia.com", "v1alpha1", namespace, plural)["items"]
        except k8s.ApiException as e:
            if e.status == 404:  # the operator is not installed
                continue
            raise
        out.update({f"{kind}/{i['metadata']['name']}": (i.get("status") or {}).get("state", "?") for i in items})
    return out
