"""State files: written whole or not at all (temporary file, fsync, rename)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

SCHEMA_VERSION = 1


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def write_json_atomic(path: Path | str, data: Any) -> Path:
    """Write JSON to `path` so a reader sees the old file or the new one, never a part."""
    def dump(f: IO[str]) -> None:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
        f.write("\n")

    return _write_atomic(path, dump)


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write `text` to `path` so a reader sees the old file or the new one, never a part."""
    return _write_atomic(path, lambda f: f.write(text))


def _write_atomic(path: Path | str, write: Callable[[IO[str]], Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json(path: Path | str) -> Any:
    return json.loads(Path(path).read_text())
