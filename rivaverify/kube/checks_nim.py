"""The NIM Operator's objects: a NIMService's GPUs, startup budget (its probe or the operator's default), a
ReadWriteOnce volume under several replicas, its NGC key; NIMCache and NIMService status when present."""

from __future__ import annotations

from typing import Any

from rivaverify.kube import riva
from rivaverify.kube.checks_pod import Index
from rivaverify.kube.findings import Finding
from rivaverify.kube.manifests import name_of

DEFAULT_STARTUP = {"initialDelaySeconds": 30, "periodSeconds": 10, "failureThreshold": 120}
DEFAULT_LIVENESS = {"initialDelaySeconds": 15, "periodSeconds": 10, "failureThreshold": 3}
RWO = ("ReadWriteOnce", "ReadWriteOncePod")


def _start_probe(spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    sp = spec.get("startupProbe") or {}
    if sp.get("enabled") is False:
        lp = spec.get("livenessProbe") or {}
        return "livenessProbe", (lp.get("probe") or DEFAULT_LIVENESS) if lp.get("enabled") is not False else {}
    return "startupProbe", sp.get("probe") or DEFAULT_STARTUP


def nimservice(o: dict[str, Any], idx: Index) -> list[Finding]:
    obj, spec, out = name_of(o), o.get("spec") or {}, []
    storage = spec.get("storage") or {}
    cache_name = (storage.get("nimCache") or {}).get("name")
    if not (riva.has_gpu(spec.get("resources")) or spec.get("draResources")):
        out.append(Finding(obj, "spec.resources.limits", f"{riva.GPU}: 1 or more (or spec.draResources)",
                           str(((spec.get("resources") or {}).get("limits") or {}).get(riva.GPU, "none")),
                           "the NIM's pod gets no GPU and cannot start its models",
                           f"set spec.resources.limits.{riva.GPU}: 1", check="gpu"))
    probe_name, probe = _start_probe(spec)
    need = riva.NIM_CACHED_S if cache_name else riva.NIM_COLD_S
    got = riva.probe_budget(probe)
    if probe and got is not None and got < need:
        what = ("the model is in a NIMCache: the NIM loads it" if cache_name else
                "no NIMCache: the NIM downloads the model and builds engines as it starts")
        out.append(Finding(obj, f"spec.{probe_name}", f"a start budget of at least {need} s: {what}",
                           riva.budget_text(probe), "the kubelet restarts the NIM before it is ready; it starts over",
                           f"remove spec.{probe_name}.probe (the operator's default is 30 + 120 x 10 s) or raise "
                           "its failureThreshold", check="startup-budget"))
    replicas = int(spec.get("replicas", 1) or 1)
    hpa = ((spec.get("scale") or {}).get("hpa") or {}) if (spec.get("scale") or {}).get("enabled") else {}
    most = max(replicas, int(hpa.get("maxReplicas", 0) or 0))
    cache = idx.get("NIMCache", {}).get(cache_name or "")
    mode, where = (storage.get("pvc") or {}).get("volumeAccessMode"), "spec.storage.pvc.volumeAccessMode"
    if cache is not None:
        mode = ((cache.get("spec") or {}).get("storage") or {}).get("pvc", {}).get("volumeAccessMode")
        where = f"NIMCache/{cache_name} spec.storage.pvc.volumeAccessMode"
    if most > 1 and mode in RWO:
        out.append(Finding(obj, "spec.replicas" if replicas > 1 else "spec.scale.hpa.maxReplicas",
                           "ReadWriteMany storage for more than one replica, or one replica",
                           f"{most} replicas on {where} {mode}", "a ReadWriteOnce volume attaches to one node: "
                           "replicas scheduled elsewhere stay ContainerCreating (Multi-Attach error)",
                           "a ReadWriteMany storage class for the cache, or one replica (NVIDIA's nim-llm chart: "
                           "'run only one replica or use a ReadWriteMany storage setup')", check="rwo-shared"))
    if not spec.get("authSecret") and not cache_name:
        out.append(Finding(obj, "spec.authSecret", "the name of a Secret holding NGC_API_KEY", "not set",
                           "with no NIMCache the NIM downloads its model from NGC and needs the key",
                           "kubectl create secret generic ngc-api-secret --from-literal=NGC_API_KEY=...; spec."
                           "authSecret: ngc-api-secret", check="ngc-key"))
    for e in spec.get("env") or []:
        if riva.SECRET_NAME.search(e.get("name", "")) and e.get("value"):
            out.append(Finding(obj, f"spec.env[{e['name']}]", "valueFrom.secretKeyRef (or spec.authSecret)",
                               f"a literal value ({len(str(e['value']))} characters, not shown)",
                               "a key in a manifest is readable by anyone who can read the object",
                               "move it to a Secret", check="secret-literal"))
    state = (o.get("status") or {}).get("state")
    if state in ("Failed", "NotReady", "Pending"):
        out.append(Finding(obj, "status.state", "Ready", state, "the operator reports the NIM not serving",
                           f"kubectl describe nimservice {(o.get('metadata') or {}).get('name')}; kubectl logs its pod "
                           "(rivaverify diagnose reads NIM logs)", check="status"))
    if cache is not None and (cache.get("status") or {}).get("state") not in (None, "Ready"):
        out.append(Finding(f"NIMCache/{cache_name}", "status.state", "Ready", cache["status"]["state"],
                           f"{obj} waits for its cache", f"kubectl describe nimcache {cache_name}; kubectl logs its "
                           "caching job", check="status"))
    return out


def probes_text(spec: dict[str, Any]) -> str:
    parts = []
    for name, default in (("readinessProbe", "/v1/health/ready"), ("livenessProbe", "/v1/health/live"),
                          ("startupProbe", "/v1/health/ready")):
        p = (spec.get(name) or {}).get("probe")
        parts.append(f"{name}: {riva.probe_text(p) if p else 'httpGet ' + default + ' (operator default)'}")
    return "; ".join(parts)
