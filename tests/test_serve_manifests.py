"""The shipped examples of running `rivaverify serve` next to a deployment: the Kubernetes manifests' probes reach
the port serve listens on, their arguments parse with the real command line, their RIVA__* variables are settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rivaverify.cli import build_parser
from rivaverify.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
SETTINGS = {env_name(f) for f in Settings.model_fields}


def serve_containers(path: Path) -> list[dict]:
    out = []
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc.get("kind") == "Deployment":
            out += [c for c in doc["spec"]["template"]["spec"]["containers"] if "serve" in c.get("args", [])]
    return out


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_the_probes_reach_serve(path):
    containers = serve_containers(path)
    assert containers, f"{path.name}: no container runs `rivaverify serve`"
    for c in containers:
        args = build_parser().parse_args(c["args"][1:])
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        ready, live = c["readinessProbe"], c["livenessProbe"]
        assert ready["httpGet"]["path"] == "/healthz", f"{path.name}: readiness should ask /healthz: {ready}"
        assert ports[ready["httpGet"]["port"]] == args.listen[1], f"{path.name}: readiness on {ready}, serve on " \
            f"{args.listen}"
        assert ports[live["tcpSocket"]["port"]] == args.listen[1], f"{path.name}: liveness on {live}"
        assert args.listen[0] == "0.0.0.0", f"{path.name}: serve must listen beyond loopback for the kubelet"


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_riva_variable_is_a_setting(path):
    for c in serve_containers(path):
        unknown = {e["name"] for e in c.get("env", []) if e["name"].startswith("RIVA__")} - SETTINGS
        assert not unknown, f"{path.name}: {sorted(unknown)} are not riva-verify settings (docs/configuration.md)"


def test_the_image_copies_what_serve_needs():
    dockerfile = (ROOT / "deploy" / "monitoring" / "Dockerfile").read_text()
    for needed in ("COPY rivaverify", "COPY audio", "'.[serve]'", '"rivaverify", "serve"'):
        assert needed in dockerfile, f"deploy/monitoring/Dockerfile lacks {needed!r}"
