"""A run's figures against an earlier run's (a baseline state file): which got worse beyond a tolerance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load_figures(path: Path) -> dict[str, dict[str, Any]]:
    """The figures of a state/<phase>.json file (key -> {value, unit, ...})."""
    return json.loads(Path(path).read_text())["figures"]


def worse(key: str, before: float, after: float, unit: str, tolerance: float) -> bool:
    """Lower is better, but for RTFx (unit x); WER (no unit) gets an absolute margin, so that 0 stays comparable."""
    if unit == "x":
        return after < before * (1 - tolerance)
    if unit == "":
        return after > before + tolerance * max(before, 0.05)
    return after > before * (1 + tolerance)


def regressions(base: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]], tolerance: float) -> list[str]:
    """'key: before -> after unit' for each numeric figure in both that got worse beyond `tolerance` (0.2: 20 %)."""
    out = []
    for key in sorted(set(base) & set(now)):
        b, n, unit = base[key].get("value"), now[key].get("value"), now[key].get("unit", "")
        if not isinstance(b, int | float) or not isinstance(n, int | float):
            continue
        if worse(key, b, n, unit, tolerance):
            out.append(f"{key}: {b} -> {n} {unit}")
    return out
