"""`rivaverify kube check`: every object validated against Kubernetes' schemas, then what Riva needs checked on
every Riva server container (classic, a NIM, tritonserver started directly) and every NIMService."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rivaverify.kube import checks_nim, checks_pod, checks_shim, riva, schema
from rivaverify.kube.findings import Finding
from rivaverify.kube.manifests import by_kind, is_helm_test, name_of, workloads


@dataclass
class Result:
    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "Kind/name: why"
    servers: list[str] = field(default_factory=list)  # the Riva servers found, "Kind/name container (flavor)"


def check(objects: list[dict[str, Any]], k8s_version: str | None = None) -> Result:
    res = Result()
    idx = {k: by_kind(objects, k) for k in ("PersistentVolumeClaim", "ConfigMap", "Secret", "NIMCache")}
    for o in objects:
        found, why = schema.check(o, k8s_version)
        res.findings += found
        (res.skipped.append(f"{name_of(o)}: {why}") if why else res.checked.append(name_of(o)))
    loads = workloads(objects)
    health_only: list[tuple[str, str, str]] = []
    for w in loads:
        if is_helm_test(w):
            continue
        for c in w.containers(init=True):
            res.findings += checks_pod.literal_secrets(w, c, init=True) + checks_pod.secret_refs(w, c, idx, True)
        servers = [(c, riva.flavor(c)) for c in w.containers()]
        for c, kind in servers:
            res.findings += checks_pod.literal_secrets(w, c) + checks_pod.secret_refs(w, c, idx)
            if kind is None:
                continue
            res.servers.append(f"{w.obj} {c.get('name')} ({kind})")
            res.findings += checks_pod.budget(w, c, kind)
            if kind == "nim":
                res.findings += checks_pod.gpu(w, c) + checks_pod.shm(w, c) + checks_pod.ngc_key(w, c)
            elif kind != "remote":  # 'remote': no GPU and no tritonserver here, both are in the Triton pods
                res.findings += checks_pod.gpu(w, c) + checks_shim.shim(w, c, kind, idx)
            probes = "; ".join(f"{p}: {riva.probe_text(c.get(p))}" for p in
                               ("readinessProbe", "livenessProbe", "startupProbe"))
            health_only.append((w.obj, w.cpath(c), probes))
        if any(k for _, k in servers):
            res.findings += checks_pod.rwo(w, idx)
    for o in objects:
        if o.get("kind") == "NIMService":
            res.servers.append(f"{name_of(o)} (nim, NIM Operator)")
            res.findings += checks_nim.nimservice(o, idx)
            health_only.append((name_of(o), "spec.readinessProbe", checks_nim.probes_text(o.get("spec") or {})))
    if health_only and not checks_shim.audio_check_present(objects, loads, idx):
        res.findings += [checks_shim.health_only(*h) for h in health_only]
    return res
