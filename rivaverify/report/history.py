"""History: one record a run in <history dir>/<name>.jsonl; each key figure's trend over the last runs of that
name and whether this run regressed beyond the baseline tolerance (the rule of rivaverify.baseline)."""

from __future__ import annotations

import fcntl
import json
import os
import statistics
from pathlib import Path
from typing import Any

from rivaverify.baseline import worse
from rivaverify.files import SCHEMA_VERSION, write_text_atomic

WINDOW = 20  # runs a trend shows, this one included
KEEP = 1000  # records a history file keeps (one a night: almost three years)
NOISE = {"s": 0.01, "ms": 10.0}  # a time that changed by less is not judged: a readiness stage of 1 ms vs 2 ms


def record(run: dict[str, Any], name: str, verified: dict[str, str], verdict: dict[str, Any],
           figures: list[dict[str, Any]]) -> dict[str, Any]:
    """The line this run adds: when, what, the verdict and the key figures (id -> value, unit)."""
    return {
        "schema_version": SCHEMA_VERSION, "name": name, "time": run.get("finished_at"),
        "started_at": run.get("started_at"), "target": verified.get("target"), "flavor": verified.get("flavor"),
        "profile": verified.get("profile"), "image": verified.get("image"), "digest": verified.get("digest"),
        "model": verified.get("model"), "verdict": verdict["status"], "failed_phase": verdict.get("phase"),
        "figures": {f["id"]: {"value": f["value"], "unit": f["unit"]} for f in figures},
    }


def read(path: Path) -> list[dict[str, Any]]:
    """The records of a history file, oldest first; lines that are not a record (a hand edit) are left out."""
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("figures"), dict):
            out.append(rec)
    return out


def append(path: Path, rec: dict[str, Any], keep: int = KEEP) -> list[dict[str, Any]]:
    """Add `rec` to the history file, atomically and one run at a time (a lock on its folder); the records
    after it, oldest first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        records = (read(path) + [rec])[-keep:]
        write_text_atomic(path, "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records))
    finally:
        os.close(fd)  # closing releases the lock
    return records


def trend(records: list[dict[str, Any]], figure: dict[str, Any], tolerance: float,
          window: int = WINDOW) -> dict[str, Any]:
    """The figure's values over the last `window` records that have it (this run's last), and whether this
    run's value is worse than the median of the earlier ones beyond `tolerance` (0.2: 20 %) and by more than
    timer noise (NOISE). Values taken in a phase that failed are shown but neither judged nor part of the
    median."""
    points = []
    for r in reversed(records):  # newest first, until the window is full
        value = r["figures"].get(figure["id"], {}).get("value")
        if isinstance(value, int | float):
            points.insert(0, (r, value))
            if len(points) == window:
                break
    out: dict[str, Any] = {"values": [v for _, v in points], "times": [r.get("time") for r, _ in points],
                           "regression": ""}
    earlier = [v for r, v in points[:-1] if (r.get("failed_phase") or "").split(" ")[0] != figure["phase"]]
    if not earlier:
        return out
    median, now = statistics.median(earlier), points[-1][1]
    out["median"] = median
    unit = "x" if figure.get("higher_is_better") else figure.get("unit", "")
    judged = figure.get("verdict") != "phase failed" and abs(now - median) >= NOISE.get(unit, 0.0)
    if judged and worse(figure["id"], median, now, unit, tolerance):
        out["regression"] = (f"{figure['label']}: {now:g} against a median of {median:g} over the "
                             f"{len(earlier)} earlier run(s), beyond {tolerance:.0%}")
    return out
