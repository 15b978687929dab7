"""What only a look inside a running pod shows (`kubectl exec`, through the API): the first tritonserver on the
container's PATH and whether it is the shim, and the running tritonserver's argv. Where exec is not allowed (no
`create` on `pods/exec`) or the image has no shell, each answers None with the reason, and the check skips."""

from __future__ import annotations

from kubernetes import client as k8s
from kubernetes.stream import stream

from rivaverify import shim
from rivaverify.kube.discovery import Replica

# Every running tritonserver's argv, NUL-separated arguments, one process a line, from /proc (no ps in the image).
ARGV = ('for p in /proc/[0-9]*; do case "$(readlink $p/exe 2>/dev/null)" in */tritonserver) '
        'tr "\\0" "\\t" < $p/cmdline; echo;; esac; done')
FIRST = 'f=$(command -v tritonserver) && echo "$f" && head -c 4096 "$f"'


def run(api: k8s.ApiClient, r: Replica, container: str, script: str, timeout: float = 30) -> tuple[str | None, str]:
    """(stdout, '') of `sh -c script` in the container, or (None, why it could not run)."""
    try:
        out = stream(k8s.CoreV1Api(api).connect_get_namespaced_pod_exec, r.name, r.namespace, container=container,
                     command=["sh", "-c", script], stderr=True, stdin=False, stdout=True, tty=False,
                     _request_timeout=timeout)
    except k8s.ApiException as e:
        if "403" in str(e.reason) or e.status == 403:
            return None, (f"exec into {r.name} is not allowed (pods/exec in namespace {r.namespace}): grant the "
                          "service account create on pods/exec to run the shim and argv checks there")
        return None, f"exec into {r.name} failed: {e.reason}"
    return out, ""


def shim_first(api: k8s.ApiClient, r: Replica, container: str) -> tuple[bool | None, str]:
    """Whether the first tritonserver on the container's PATH is the shim; None when it cannot be seen."""
    out, why = run(api, r, container, FIRST)
    if out is None:
        return None, why
    path, _, head = out.partition("\n")
    if not path:
        return False, f"{r.name}: no tritonserver on the container's PATH"
    ok = shim.LOG_PREFIX in head and any(o in head for o in shim.REPO_OPTIONS)
    return ok, f"{r.name}: first tritonserver on PATH is {path}" + ("" if ok else " (not the shim)")


def tritonserver_argv(api: k8s.ApiClient, r: Replica, container: str) -> tuple[bool | None, str]:
    """Whether the running tritonserver was given --model-repository exactly once; None when it cannot be seen."""
    out, why = run(api, r, container, ARGV)
    if out is None:
        return None, why
    procs = [line.split("\t") for line in out.splitlines() if line.strip()]
    if not procs:
        return False, f"{r.name}: no tritonserver process runs"
    values = [shim.model_repository_values([a for a in argv if a]) for argv in procs]
    ok = all(len(v) == 1 for v in values)
    return ok, f"{r.name}: tritonserver --model-repository values {values}"
