"""Kubernetes' own schemas (kubernetes-validate, shipped offline): each built-in object validated, strict (unknown
fields are errors); the NIM Operator's kinds checked for the fields the checks read."""

from __future__ import annotations

from typing import Any

import kubernetes_validate as kv

from rivaverify.kube.findings import Finding
from rivaverify.kube.manifests import NIM_KINDS, name_of

_NIM_FIELDS = {"replicas": int, "authSecret": str, "storage": dict, "expose": dict, "resources": dict,
               "startupProbe": dict, "livenessProbe": dict, "readinessProbe": dict, "image": dict}


def version() -> str:
    return kv.latest_version()


def check(o: dict[str, Any], k8s_version: str | None = None) -> tuple[list[Finding], str | None]:
    """(findings, None) when checked; ([], why) when no schema exists for its kind."""
    if o.get("kind") in NIM_KINDS:
        return _nim(o), None
    v = k8s_version or version()
    try:
        kv.validate(o, v, strict=True)
    except kv.ValidationError as e:
        where = ".".join(str(p) for p in e.path) or "(object)"
        return [Finding(name_of(o), where, f"valid against Kubernetes {v}'s schema", e.message,
                        "the API server refuses the object (or drops the field) and the deployment is not what was "
                        "written", "correct the field (kubectl apply --dry-run=server shows the same)",
                        check="schema")], None
    except kv.SchemaNotFoundError:
        return [], f"no schema for {o.get('apiVersion')} {o.get('kind')} in Kubernetes {v}"
    return [], None


def _nim(o: dict[str, Any]) -> list[Finding]:
    spec = o.get("spec")
    if not isinstance(spec, dict):
        return [Finding(name_of(o), "spec", "a mapping", type(spec).__name__, "the operator reads its spec",
                        "give spec", check="schema")]
    out = []
    for key, typ in _NIM_FIELDS.items():
        if key in spec and not isinstance(spec[key], typ):
            out.append(Finding(name_of(o), f"spec.{key}", typ.__name__, repr(spec[key]),
                               "the operator's CRD refuses the object", f"give spec.{key} as a {typ.__name__}",
                               check="schema"))
    return out
