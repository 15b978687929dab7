"""glog's line format, as riva_server prints its log: `I1201 12:00:00.123456   123 riva_server.cc:307] text`.

Severity letter (I, W, E, F), month and day, local time with microseconds, the OS thread id right-aligned in
5 columns, then `file:line]` and the text. The API server process (rivalite.server) logs everything this way.

A record that imitates one of Riva's own lines carries the file:line a real riva_server shows for it:
    log.info("Using model %s from Triton %s", name, url, extra={"source": "grpc_riva_asr.cc:1807"})
Every other record is riva-lite's own: it shows the Python file and line (`asr_service.py:60]`) and its text
starts with "riva-lite: ", so no one mistakes it for a line of Riva's. Riva's lines and their sources:
docs/riva-behaviour.md.

No grpc import here: the launcher (which must not load gRPC before it forks) reads LISTENING.
"""

from __future__ import annotations

import logging
import sys
import threading
from datetime import datetime

# riva_server's line once it serves (observed: riva_server.cc:307); riva-lite's launcher waits for it
LISTENING = "Riva Conversational AI Server listening on"
OWN = "riva-lite: "
_SEVERITY = {logging.DEBUG: "I", logging.INFO: "I", logging.WARNING: "W", logging.ERROR: "E", logging.CRITICAL: "F"}


class GlogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        severity = _SEVERITY.get(record.levelno, "I" if record.levelno < logging.WARNING else "E")
        when = datetime.fromtimestamp(record.created).strftime("%m%d %H:%M:%S.%f")
        # the OS thread id, like glog: a StreamHandler formats in the thread that logged
        tid = getattr(record, "tid", None) or threading.get_native_id()
        text = record.getMessage()
        source = getattr(record, "source", None)
        if not source:
            source = f"{record.filename}:{record.lineno}"
            text = text if text.startswith(OWN) else OWN + text
        line = f"{severity}{when} {tid:5d} {source}] {text}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def install(stream=None, level: int = logging.INFO) -> logging.Handler:
    """Every logger of this process (the root's handler) writes glog lines to `stream` (stderr, as glog)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(GlogFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
