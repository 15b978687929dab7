"""Reading manifests as `helm template` or `kubectl get -o yaml` writes them (multi-document YAML, `kind: List`),
and the pod specs inside workloads: where each lives in its object, and how many replicas run it."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# kind -> path of the pod spec inside the object
POD_SPEC_AT = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
NIM_KINDS = ("NIMService", "NIMCache")


class Unreadable(Exception):
    """The input is not YAML of Kubernetes objects: the message names the file and why."""


@dataclass
class Workload:
    """A pod spec and where it lives: `obj` (Kind/name), `at` (the dotted path of the pod spec)."""
    obj: str
    kind: str
    at: str
    spec: dict[str, Any]
    replicas: int
    meta: dict[str, Any] = field(default_factory=dict)

    def containers(self, init: bool = False) -> list[dict[str, Any]]:
        return list(self.spec.get("initContainers" if init else "containers") or [])

    def cpath(self, c: dict[str, Any], init: bool = False) -> str:
        return f"{self.at}.{'initContainers' if init else 'containers'}[{c.get('name', '?')}]"

    def volume(self, name: str) -> dict[str, Any] | None:
        return next((v for v in self.spec.get("volumes") or [] if v.get("name") == name), None)


def name_of(o: dict[str, Any]) -> str:
    return f"{o.get('kind', '?')}/{(o.get('metadata') or {}).get('name', '?')}"


def load(sources: list[str]) -> list[dict[str, Any]]:
    """Every object of the files ('-': stdin), `kind: List` flattened, empty documents dropped."""
    out: list[dict[str, Any]] = []
    for src in sources:
        try:
            text = sys.stdin.read() if src == "-" else Path(src).read_text()
            docs = list(yaml.safe_load_all(text))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise Unreadable(f"{src}: {e}") from None
        for i, doc in enumerate(docs):
            if doc is None:
                continue
            if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
                raise Unreadable(f"{src}: document {i + 1} is not a Kubernetes object (no apiVersion and kind)")
            out += list(doc.get("items") or []) if doc["kind"].endswith("List") else [doc]
    return out


def workloads(objects: list[dict[str, Any]]) -> list[Workload]:
    out = []
    for o in objects:
        path = POD_SPEC_AT.get(o.get("kind", ""))
        if path is None:
            continue
        spec: Any = o
        for key in path:
            spec = (spec or {}).get(key)
        if not isinstance(spec, dict):
            continue
        replicas = (o.get("spec") or {}).get("replicas", 1) if o["kind"] in ("Deployment", "StatefulSet") else 1
        out.append(Workload(name_of(o), o["kind"], ".".join(path), spec, int(replicas or 0), o.get("metadata") or {}))
    return out


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {(o.get("metadata") or {}).get("name", "?"): o for o in objects if o.get("kind") == kind}


def is_helm_test(w: Workload) -> bool:
    return "test" in str((w.meta.get("annotations") or {}).get("helm.sh/hook", ""))
