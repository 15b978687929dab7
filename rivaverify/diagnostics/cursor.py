"""What each *.log of a folder gained since the last read: the log gate's input."""

from __future__ import annotations

from pathlib import Path


class LogCursor:
    """What each *.log of a folder gained since the last read, whole lines only. A log already there when the
    cursor was made (an earlier run's) counts once it is rewritten: the runtimes start one log per deployment."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offsets: dict[Path, int] = {}
        self.stale = {p: p.stat().st_mtime_ns for p in self._logs()}

    def this_run(self, path: Path) -> bool:
        """Whether `path` was written since the cursor was made (a log already there counts once rewritten)."""
        return path not in self.stale or path.stat().st_mtime_ns != self.stale[path]

    def _logs(self) -> list[Path]:
        return sorted(self.folder.glob("*.log")) if self.folder.is_dir() else []

    def read_new(self) -> dict[str, str]:
        out = {}
        for path in self._logs():
            st = path.stat()
            if path in self.stale:
                if st.st_mtime_ns == self.stale[path]:
                    continue
                del self.stale[path]
            start = self.offsets.get(path, 0)
            if st.st_size < start:  # truncated: a new deployment's log
                start = 0
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read()
            end = data.rfind(b"\n") + 1
            self.offsets[path] = start + end
            if end:
                out[str(path)] = data[:end].decode(errors="replace")
        return out
