"""API keys from a file of `key_id:key` lines, looked up by their sha256 (keys are never kept in logs)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

KEY_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_KEY_LEN = 16


class KeyFileError(ValueError):
    """A key file that cannot be used; the message names the file and line, never a key."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def parse(text: str, source: str = "keys file") -> dict[bytes, str]:
    """sha256(key) -> key_id for every `key_id:key` line; blank lines and # comments are skipped."""
    out: dict[bytes, str] = {}
    seen: set[str] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key_id, sep, key = line.partition(":")
        key_id, key = key_id.strip(), key.strip()
        where = f"{source}:{n}"
        if not sep or not key_id or not key:
            raise KeyFileError(f"{where}: not a `key_id:key` line; write one key per line as key_id:key")
        if not KEY_ID.match(key_id):
            raise KeyFileError(f"{where}: key id {key_id!r} may only hold letters, digits and _.@- (64 at most)")
        if len(key) < MIN_KEY_LEN:
            raise KeyFileError(f"{where}: the key of {key_id!r} is shorter than {MIN_KEY_LEN} characters; "
                               "make one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
        if key_id in seen:
            raise KeyFileError(f"{where}: key id {key_id!r} appears twice; ids name keys in logs and metrics")
        digest = _digest(key)
        if digest in out:
            raise KeyFileError(f"{where}: the key of {key_id!r} is the same as the key of {out[digest]!r}")
        seen.add(key_id)
        out[digest] = key_id
    return out


class KeyStore:
    """The keys of one file; reload() swaps them in only when the whole file is valid."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._keys: dict[bytes, str] = {}
        self.reload()

    def reload(self) -> int:
        try:
            text = self.path.read_text()
        except OSError as exc:
            raise KeyFileError(f"cannot read the keys file {self.path}: {exc.strerror}; "
                               "give --keys FILE with one key_id:key a line") from None
        keys = parse(text, str(self.path))
        if not keys:
            raise KeyFileError(f"the keys file {self.path} holds no key: add key_id:key lines "
                               "(or run with --no-auth on a trusted network)")
        self._keys = keys
        return len(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, key: str | None) -> str | None:
        """The key id of a valid key, else None."""
        return self._keys.get(_digest(key)) if key else None
