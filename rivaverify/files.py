"""Files written whole or not at all (temporary file, fsync, rename), read back; timestamps for what is written."""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Callable
from contextlib import suppress
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
    # not mkstemp (0600): created as open() creates a file (0666 less the umask), a rewritten file keeps its mode
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with os.fdopen(fd, "w") as f:
            with suppress(FileNotFoundError):
                os.fchmod(f.fileno(), stat.S_IMODE(os.stat(path).st_mode))
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
