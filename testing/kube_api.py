"""A simulated Kubernetes API for tests: enough of the REST API for the `kubernetes` client's list calls (pods by
label selector, services, deployments, the NIM Operator's nimservices and nimcaches), on 127.0.0.1; and replicas
that answer Riva's gRPC (health, model list, Recognize) on loopback addresses 127.0.0.2, 127.0.0.3, ... as pod IPs.
No real API server can be installed here: what it proves is the client side, against this simulation."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
from collections.abc import Callable
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import grpc
from riva.client.proto import health_pb2, health_pb2_grpc, riva_asr_pb2, riva_asr_pb2_grpc

PATHS = {  # (group prefix, plural) of what is served; list kind is derived from the plural's kind
    ("api/v1", "pods"): "Pod", ("api/v1", "services"): "Service", ("apis/apps/v1", "deployments"): "Deployment",
    ("apis/apps.nvidia.com/v1alpha1", "nimservices"): "NIMService",
    ("apis/apps.nvidia.com/v1alpha1", "nimcaches"): "NIMCache",
}


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value.lstrip("="):
            return False
    return True


WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
Exec = Callable[[list[str]], str]  # a pod's answer to `kubectl exec -- COMMAND...`: its stdout


def _frame(payload: bytes, opcode: int = 2) -> bytes:
    """One unmasked WebSocket frame, as a server sends it."""
    n = len(payload)
    head = bytes([0x80 | opcode]) + (bytes([n]) if n < 126 else bytes([126]) + struct.pack(">H", n) if n < 65536
                                     else bytes([127]) + struct.pack(">Q", n))
    return head + payload


class KubeAPI:
    """`with KubeAPI(objects) as api: api.kubeconfig(tmp_path)`; objects as `kubectl get -o json` writes them.
    `execs[pod name]` answers exec in that pod (the v4.channel.k8s.io WebSocket protocol); any other pod's exec is
    refused 403, as for a service account without create on pods/exec."""

    def __init__(self, objects: list[dict], execs: dict[str, Exec] | None = None) -> None:
        self.objects, self.requests, self.execs = objects, [], dict(execs or {})
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                api.requests.append(self.path)
                if "/exec?" in self.path and self.headers.get("Upgrade", "").lower() == "websocket":
                    return api.exec(self)
                status, body = api.answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str) -> tuple[int, dict]:
        url = urlparse(path)
        parts = url.path.strip("/").split("/")
        # <prefix...>/namespaces/<ns>/<plural>
        if len(parts) < 4 or parts[-3] != "namespaces":
            return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound"}
        prefix, ns, plural = "/".join(parts[:-3]), parts[-2], parts[-1]
        kind = PATHS.get((prefix, plural))
        if kind is None:
            return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound"}
        selector = parse_qs(url.query).get("labelSelector", [""])[0]
        items = [o for o in self.objects if o.get("kind") == kind and o["metadata"].get("namespace") == ns
                 and _matches(o["metadata"].get("labels") or {}, selector)]
        return 200, {"kind": f"{kind}List", "apiVersion": prefix.split("/", 1)[-1], "metadata": {}, "items": items}

    def exec(self, h: BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        name = url.path.rstrip("/").split("/")[-2]
        handler = self.execs.get(name)
        if handler is None:
            body = json.dumps({"kind": "Status", "code": 403, "reason": "Forbidden"}).encode()
            h.send_response(403)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        key = h.headers["Sec-WebSocket-Key"]
        h.send_response(101)
        h.send_header("Upgrade", "websocket")
        h.send_header("Connection", "Upgrade")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        h.send_header("Sec-WebSocket-Accept", accept)
        h.send_header("Sec-WebSocket-Protocol", "v4.channel.k8s.io")
        h.end_headers()
        out = handler(parse_qs(url.query)["command"])
        h.wfile.write(_frame(b"\x01" + out.encode()) + _frame(b'\x03{"metadata":{},"status":"Success"}')
                      + _frame(struct.pack(">H", 1000), opcode=8))
        h.wfile.flush()
        h.close_connection = True

    def kubeconfig(self, folder: Path, namespace: str = "default") -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "kubeconfig"
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "sim",
            "clusters": [{"name": "sim", "cluster": {"server": self.url}}],
            "users": [{"name": "sim", "user": {"token": "simulated"}}],
            "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "sim", "namespace": namespace}}]}))
        return path

    def __enter__(self) -> KubeAPI:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Riva(riva_asr_pb2_grpc.RivaSpeechRecognitionServicer, health_pb2_grpc.HealthServicer):
    def __init__(self, transcript: str, serving: bool) -> None:
        self.transcript, self.serving = transcript, serving

    def Check(self, request, context):  # noqa: N802 (gRPC's names)
        s = health_pb2.HealthCheckResponse
        return s(status=s.SERVING if self.serving else s.NOT_SERVING)

    def GetRivaSpeechRecognitionConfig(self, request, context):  # noqa: N802
        m = riva_asr_pb2.RivaSpeechRecognitionConfigResponse.Config(
            model_name="parakeet-sim", parameters={"language_code": "en-US", "type": "offline"})
        return riva_asr_pb2.RivaSpeechRecognitionConfigResponse(model_config=[m])

    def Recognize(self, request, context):  # noqa: N802
        alt = riva_asr_pb2.SpeechRecognitionAlternative(transcript=self.transcript)
        return riva_asr_pb2.RecognizeResponse(results=[riva_asr_pb2.SpeechRecognitionResult(alternatives=[alt])])


class Replica:
    """A pod's Riva gRPC on its own loopback address; `transcript` is what every Recognize answers."""

    def __init__(self, ip: str, transcript: str, serving: bool = True) -> None:
        self.ip = ip
        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        servicer = _Riva(transcript, serving)
        riva_asr_pb2_grpc.add_RivaSpeechRecognitionServicer_to_server(servicer, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, self.server)
        self.port = self.server.add_insecure_port(f"{ip}:0")

    def __enter__(self) -> Replica:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop(None)


def pod(name: str, ip: str, port: int, labels: dict[str, str], ready: bool = True, restarts: int = 0,
        last: str | None = None, namespace: str = "riva") -> dict:
    """A Pod shaped like one of the riva-api chart's Deployment (container riva-speech-api), as the API returns it."""
    term = {"terminated": {"reason": last, "exitCode": 137 if last == "OOMKilled" else 1}} if last else {}
    probe = {"exec": {"command": ["/bin/grpc_health_probe", f"-addr=:{port}"]}, "initialDelaySeconds": 10,
             "periodSeconds": 10, "failureThreshold": 12}
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": f"gpu-node-{ip.rsplit('.', 1)[1]}", "containers": [{
            "name": "riva-speech-api", "image": "nvcr.io/nvidia/riva/riva-speech:2.14.0",
            "command": ["/opt/riva/bin/start-riva"], "ports": [{"containerPort": port, "name": "speech-grpc"}],
            "resources": {"limits": {"nvidia.com/gpu": "1"}}, "readinessProbe": probe, "startupProbe": probe}]},
        "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": str(ready)}],
                   "containerStatuses": [{"name": "riva-speech-api", "ready": ready, "restartCount": restarts,
                                          "lastState": term}]}}
