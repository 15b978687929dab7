"""Checks of a Riva server container in a workload's pod spec: GPU limits, the startup budget against the cold
start, a ReadWriteOnce claim under several replicas, secrets given as literals, a NIM's /dev/shm."""

from __future__ import annotations

from typing import Any

from rivaverify.kube import riva
from rivaverify.kube.findings import Finding
from rivaverify.kube.manifests import Workload

Index = dict[str, dict[str, dict[str, Any]]]  # kind -> name -> object


def gpu(w: Workload, c: dict[str, Any]) -> list[Finding]:
    if riva.has_gpu(c.get("resources")) or riva.env_value(c, "NVIDIA_VISIBLE_DEVICES") or c.get("resources", {}).get(
            "claims") or w.spec.get("resourceClaims"):
        return []  # a limit, the chart's riva.visibleGpus (NVIDIA_VISIBLE_DEVICES) or a DRA claim
    got = ((c.get("resources") or {}).get("limits") or {}).get(riva.GPU, "none")
    return [Finding(w.obj, f"{w.cpath(c)}.resources.limits", f"{riva.GPU}: 1 or more", f"{riva.GPU}: {got}",
                    "without a GPU limit the pod is scheduled anywhere and the device plugin gives it no GPU: Triton "
                    "fails its KIND_GPU models ('no GPUs are available')",
                    f"set resources.limits.{riva.GPU}: 1 (the riva-api chart: riva.numGpus)", check="gpu")]


def cold_start(w: Workload, c: dict[str, Any], kind: str) -> tuple[int, str]:
    """The seconds the container's start must be allowed, and what they are for."""
    if kind == "nim":
        return riva.NIM_COLD_S, ("a NIM whose cache is not filled by a NIMCache downloads the model and builds "
                                 "engines as it starts (the NIM Operator's default budget)")
    if any(b in riva.argv(c) for b in riva.BUILDERS):
        return riva.CLASSIC_BUILD_S, "the API container deploys the models itself (riva-deploy builds engines)"
    return riva.CLASSIC_LOAD_S, "Triton loads engines built before the API starts (the riva-api chart's budget)"


def budget(w: Workload, c: dict[str, Any], kind: str) -> list[Finding]:
    probe, got = riva.start_budget(c)
    if probe is None or got is None:
        return []
    need, what = cold_start(w, c, kind)
    if got >= need:
        return []
    p = c[probe]
    threshold = -(-(need - int(p.get("initialDelaySeconds", 0))) // int(p.get("periodSeconds", 10)))
    return [Finding(w.obj, f"{w.cpath(c)}.{probe}", f"a start budget of at least {need} s: {what}",
                    f"{riva.budget_text(p)} ({probe})",
                    "the kubelet kills the container before it is ready and restarts it, which starts over: the pod "
                    "never becomes ready (CrashLoopBackOff)",
                    f"raise {probe}.failureThreshold to {threshold} "
                    "(or add a startupProbe with that budget and keep liveness short)", check="startup-budget")]


def single_node(w: Workload) -> bool:
    """Every replica lands on one node: nodeName, or a nodeSelector on kubernetes.io/hostname."""
    return bool(w.spec.get("nodeName") or "kubernetes.io/hostname" in (w.spec.get("nodeSelector") or {}))


def rwo(w: Workload, idx: Index) -> list[Finding]:
    if w.replicas < 2 or single_node(w):
        return []
    out = []
    for v in w.spec.get("volumes") or []:
        claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
        pvc = idx.get("PersistentVolumeClaim", {}).get(claim or "")
        modes = set((pvc or {}).get("spec", {}).get("accessModes") or [])
        if pvc and modes and modes <= {"ReadWriteOnce", "ReadWriteOncePod"}:
            out.append(Finding(
                w.obj, f"{w.at}.volumes[{v.get('name')}].persistentVolumeClaim",
                f"a claim {w.replicas} replicas can mount on any node (ReadWriteMany), or one replica",
                f"PersistentVolumeClaim/{claim} accessModes {sorted(modes)}, replicas {w.replicas}",
                "a ReadWriteOnce volume attaches to one node: replicas scheduled elsewhere stay ContainerCreating "
                "(Multi-Attach error)", "use a ReadWriteMany storage class, or run one replica (NVIDIA's nim-llm "
                "chart: 'run only one replica or use a ReadWriteMany storage setup')", check="rwo-shared"))
    return out


def literal_secrets(w: Workload, c: dict[str, Any], init: bool = False) -> list[Finding]:
    out = []
    for e in c.get("env") or []:
        if riva.SECRET_NAME.search(e.get("name", "")) and e.get("value"):
            out.append(Finding(w.obj, f"{w.cpath(c, init)}.env[{e['name']}]", "valueFrom.secretKeyRef",
                               f"a literal value ({len(str(e['value']))} characters, not shown)",
                               "a key written in a manifest is readable by anyone who can read the object, and is "
                               "kept in Helm's release history and in git",
                               f"kubectl create secret generic ngc-api --from-literal={e['name']}=...; then "
                               f"env[{e['name']}].valueFrom.secretKeyRef {{name: ngc-api, key: {e['name']}}}",
                               check="secret-literal"))
    return out


def secret_refs(w: Workload, c: dict[str, Any], idx: Index, init: bool = False) -> list[Finding]:
    """A secretKeyRef to a Secret given in the same manifests must name a key it has."""
    out = []
    for e in c.get("env") or []:
        ref = (e.get("valueFrom") or {}).get("secretKeyRef") or {}
        sec = idx.get("Secret", {}).get(ref.get("name", ""))
        keys = set((sec or {}).get("data") or {}) | set((sec or {}).get("stringData") or {})
        if sec and ref.get("key") not in keys and not ref.get("optional"):
            out.append(Finding(w.obj, f"{w.cpath(c, init)}.env[{e.get('name')}].valueFrom.secretKeyRef",
                               f"a key of Secret/{ref.get('name')}: {', '.join(sorted(keys)) or 'none'}",
                               f"key {ref.get('key')!r}", "the pod stays in CreateContainerConfigError",
                               "name a key the Secret has, or add it to the Secret", check="secret-ref"))
    return out


def ngc_key(w: Workload, c: dict[str, Any]) -> list[Finding]:
    e = riva.env_value(c, "NGC_API_KEY")
    from_secret = bool(e and (e.get("valueFrom") or {}).get("secretKeyRef")) or any(
        "secretRef" in f for f in c.get("envFrom") or [])
    if from_secret or (e and e.get("value")):
        return []  # a literal is the secret-literal check's finding
    return [Finding(w.obj, f"{w.cpath(c)}.env[NGC_API_KEY]", "NGC_API_KEY from a Secret (valueFrom.secretKeyRef)",
                    "not set", "the NIM downloads its model from NGC with this key; without it the start fails "
                    "(NGC 'Authentication Error')", "env NGC_API_KEY valueFrom.secretKeyRef {name: ngc-api, key: "
                    "NGC_API_KEY}", check="ngc-key")]


def shm(w: Workload, c: dict[str, Any]) -> list[Finding]:
    m = next((m for m in c.get("volumeMounts") or [] if m.get("mountPath", "").rstrip("/") == "/dev/shm"), None)
    v = w.volume(m.get("name", "")) if m else None
    medium = ((v or {}).get("emptyDir") or {}).get("medium")
    if medium == "Memory":
        return []
    actual = "no volume at /dev/shm (the runtime's 64 MiB)" if not m else f"volume {m.get('name')}: {v}"
    return [Finding(w.obj, f"{w.cpath(c)}.volumeMounts[/dev/shm]", "an emptyDir with medium: Memory at /dev/shm "
                    "(docker run's --shm-size=8GB)", actual, "Triton's Python backend and the NIM exchange tensors "
                    "through /dev/shm; 64 MiB fails under load", "add volumes[dshm].emptyDir {medium: Memory, "
                    "sizeLimit: 8Gi} and volumeMounts {name: dshm, mountPath: /dev/shm}", check="shm")]
