"""The one catalogue of failure signatures (each with its cause, next step, source and a real example line), used
by the log gate, the next steps, the support bundle and `rivaverify diagnose`; log kinds and start milestones;
redaction of secrets."""

from __future__ import annotations

from rivaverify.diagnostics.catalogue import (
    FAIL,
    SKIP,
    WARN,
    Diagnosis,
    LogVerdict,
    Signature,
    diagnose,
    log_verdict,
)
from rivaverify.diagnostics.cursor import LogCursor
from rivaverify.diagnostics.redact import MASK, is_secret_name, redact_mapping, redact_text
from rivaverify.diagnostics.runtime import RUNTIME
from rivaverify.diagnostics.startup import STARTUP

SIGNATURES: tuple[Signature, ...] = STARTUP + RUNTIME
BY_NAME = {s.name: s for s in SIGNATURES}

__all__ = [
    "BY_NAME", "FAIL", "MASK", "SIGNATURES", "SKIP", "WARN", "Diagnosis", "LogCursor", "LogVerdict", "Signature",
    "diagnose", "is_secret_name", "log_verdict", "redact_mapping", "redact_text",
]
