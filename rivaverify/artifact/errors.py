"""The one error of artifact staging: a message that names the thing, what was expected, and the next step."""

from __future__ import annotations


class ArtifactError(Exception):
    """Staging or fetching failed; `transient` marks errors worth retrying (network, throttling, 5xx)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
