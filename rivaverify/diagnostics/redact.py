"""Redaction of secrets in mappings and text (logs, state, reports, bundles)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
MASK = "***"
_ASSIGNMENT = re.compile(
    r"(?P<name>[\w.-]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)[\w.-]*)(?P<sep>[\"']?\s*[=:]\s*[\"']?)"
    r"(?P<value>[^\s\"',;&]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(Bearer\s+)[^\s\"']+", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redact_mapping(mapping: Mapping[str, object]) -> dict[str, object]:
    """A copy with the values of secret-looking names masked (nested mappings too)."""
    out: dict[str, object] = {}
    for k, v in mapping.items():
        if isinstance(v, Mapping):
            out[k] = redact_mapping(v)
        else:
            out[k] = MASK if is_secret_name(str(k)) and v not in (None, "") else v
    return out


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values anywhere, and the values of NAME=value pairs with secret-looking names."""
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(s, MASK)
    text = _ASSIGNMENT.sub(lambda m: m.group("name") + m.group("sep") + MASK, text)
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)
