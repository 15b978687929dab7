"""Readiness probes of a Riva deployment, in the order they become true."""

from __future__ import annotations

from typing import Any

import requests

from rivaverify import modelrepo
from rivaverify.asr import client
from rivaverify.readiness import Check, Unreachable


def _get(url: str, unseen_is_skip: bool, timeout: float = 2) -> requests.Response:
    try:
        return requests.get(url, timeout=timeout)
    except requests.ConnectionError as exc:
        if unseen_is_skip:
            raise Unreachable(f"{url} refused or unreachable") from exc
        raise


def triton_health(base: str, which: str, unseen_is_skip: bool = False) -> Check:
    def check() -> tuple[bool, str]:
        r = _get(f"{base}/v2/health/{which}", unseen_is_skip)
        return r.status_code == 200, f"HTTP {r.status_code}"

    return check


def triton_models_ready(base: str, expected: list[str], unseen_is_skip: bool = False) -> Check:
    """Every model Triton's repository index lists is READY, and every expected model is among them."""

    def check() -> tuple[bool, str]:
        try:
            r = requests.post(f"{base}/v2/repository/index", json={}, timeout=5)
        except requests.ConnectionError as exc:
            if unseen_is_skip:
                raise Unreachable(f"{base} refused or unreachable") from exc
            raise
        if r.status_code != 200:
            return False, f"repository index: HTTP {r.status_code}"
        state = {m["name"]: m.get("state", "") for m in r.json()}
        missing = [m for m in expected if m not in state]
        not_ready = {n: s or "UNKNOWN" for n, s in state.items() if s != "READY"}
        if missing or not_ready or not state:
            roots = "; ".join(str(f) for f in modelrepo.load_failures(r.json()))  # the root, not its ensembles
            seen = f"missing {missing}, not ready {not_ready}" if state else "no model loaded"
            return False, f"{roots} ({seen})" if roots else seen
        return True, f"{len(state)} models READY"

    return check


def riva_health(auth: Any) -> Check:
    def check() -> tuple[bool, str]:
        status = client.health(auth, timeout=2)
        return status == "SERVING", status

    return check


def riva_model_listed(auth: Any, language_code: str, model_name: str | None) -> Check:
    """GetRivaSpeechRecognitionConfig lists the expected model (or any model of the language)."""

    def check() -> tuple[bool, str]:
        models = client.list_models(auth, timeout=5)
        if model_name:
            return model_name in models, f"listed: {sorted(models)}"
        ours = [n for n, p in models.items() if p.get("language_code") == language_code]
        return bool(ours), f"{language_code} models: {sorted(ours)} of {sorted(models)}"

    return check
