"""The classic flavor's launcher bug in a pod spec: start-riva (riva-speech 2.15-2.19) runs tritonserver from PATH
without --model-repository, so the shim must be first on the container's PATH (a ConfigMap or volume holding it,
executable), or tritonserver must be started with --model-repository; and probes that never send audio."""

from __future__ import annotations

from typing import Any

from rivaverify import releases
from rivaverify.kube import riva
from rivaverify.kube.checks_pod import Index
from rivaverify.kube.findings import ADVICE, Finding
from rivaverify.kube.manifests import Workload

BUGGY = ((2, 15), (2, 19))  # riva-speech releases whose start-riva has the bug (docs/signatures.md)
SHIM_FIX = ("rivaverify shim install . --print --model-repository /data/models > tritonserver; kubectl create "
            "configmap riva-shim --from-file=tritonserver; mount it at /opt/riva-shim with defaultMode: 0755 and "
            "set env PATH=/opt/riva-shim:<the image's PATH>")
WHY = ("start-riva of riva-speech 2.15-2.19 runs tritonserver without --model-repository: tritonserver "
       "exits with '--model-repository must be specified'")


def _f(w: Workload, field: str, expected: str, actual: str, why: str = WHY, fix: str = SHIM_FIX, **kw) -> Finding:
    return Finding(w.obj, field, expected, actual, why, fix, check="shim", **kw)


def shim(w: Workload, c: dict[str, Any], kind: str, idx: Index) -> list[Finding]:
    cp = w.cpath(c)
    if kind == "triton":
        if "--model-repository" in riva.argv(c) or "--model-store" in riva.argv(c):
            return []
        return [_f(w, f"{cp}.args", "tritonserver --model-repository=<repository>", riva.argv(c),
                   "tritonserver started without a repository exits at once",
                   "add --model-repository=/data/models to args")]
    release = releases.of_image(c.get("image"))
    version = tuple(int(x) for x in release.version.split(".")[:2]) if release.kind == releases.RIVA_SPEECH else None
    if version is not None and not BUGGY[0] <= version <= BUGGY[1]:
        return []  # a riva-speech release whose start-riva passes the repository on
    level = {} if version else {"level": ADVICE}  # an image whose release cannot be read from its tag
    path = (riva.env_value(c, "PATH") or {}).get("value")
    if not path:
        return [_f(w, f"{cp}.env[PATH]", "PATH with the shim's folder first", f"PATH not set ({c.get('image')}): the "
                   "image's PATH finds the real tritonserver first", **level)]
    first = path.split(":")[0].rstrip("/")
    mounts = c.get("volumeMounts") or []
    m = next((m for m in mounts if m.get("mountPath", "").rstrip("/") == first), None)
    key = "tritonserver"
    if m is None:
        m = next((m for m in mounts if m.get("mountPath") == f"{first}/tritonserver"), None)
        key = (m or {}).get("subPath") or key
    if m is None:
        return [_f(w, f"{cp}.volumeMounts", f"a volume mounted at {first} (PATH's first entry) holding tritonserver",
                   "no volume there: the shim can only come from the image", level=ADVICE,
                   fix=f"mount the shim at {first}, or check the image has {first}/tritonserver (RIVA__TARGET="
                       "kubernetes checks it in the running pod)")]
    v = w.volume(m.get("name", "")) or {}
    src = v.get("configMap")
    if src is None:
        return []  # another volume kind: its files cannot be seen from the manifest
    items = {i.get("key"): i for i in src.get("items") or []}
    if items and not any(i.get("path") == "tritonserver" for i in items.values()) and not m.get("subPath"):
        return [_f(w, f"{w.at}.volumes[{v.get('name')}].configMap.items", "an item with path tritonserver",
                   str(sorted(i.get("path") for i in items.values())))]
    item = next((i for i in items.values() if i.get("path") == "tritonserver"), None)
    key = (item or {}).get("key", key)
    mode = (item or {}).get("mode", src.get("defaultMode", 0o644))
    out = []
    if not int(mode) & 0o111:
        out.append(_f(w, f"{w.at}.volumes[{v.get('name')}].configMap.defaultMode", "an executable mode (0755)",
                      f"{int(mode):#o}", "a shim that is not executable is skipped by the PATH search",
                      "set defaultMode: 0755 (493 in JSON)"))
    cm = idx.get("ConfigMap", {}).get(src.get("name", ""))
    data = ((cm or {}).get("data") or {}).get(key)
    if cm is not None and (data is None or "--model-repository" not in data):
        out.append(_f(w, f"ConfigMap/{src.get('name')}.data.{key}", "the shim (a script adding --model-repository)",
                      "missing" if data is None else "a script that never adds --model-repository"))
    return out


def audio_check_present(objects: list[dict[str, Any]], workloads: list[Workload], idx: Index) -> bool:
    """A helm test, Job, CronJob or sidecar that transcribes (riva_streaming_asr_client, rivaverify serve, ...)."""
    for w in workloads:
        for c in w.containers() + w.containers(init=True):
            if riva.flavor(c):
                continue
            texts = [riva.argv(c)] + [str(e.get("value", "")) for e in c.get("env") or []]
            for v in w.spec.get("volumes") or []:
                cm = idx.get("ConfigMap", {}).get((v.get("configMap") or {}).get("name", ""))
                texts += [str(t) for t in ((cm or {}).get("data") or {}).values()]
            if any(a in t for t in texts for a in riva.AUDIO_CLIENTS):
                return True
    return False


def health_only(obj: str, field: str, probes: str) -> Finding:
    return Finding(obj, field, "a check that sends audio and reads the transcript", probes,
                   "none of these probes sends audio: a pod whose models answer health but fail every request stays "
                   "ready, and the Service keeps sending it traffic",
                   "run `rivaverify serve` against each replica (its /healthz transcribes a clip) or add a helm test "
                   "that runs riva_streaming_asr_client and greps the transcript, as the riva-api chart does",
                   level=ADVICE, check="probes-health-only")
