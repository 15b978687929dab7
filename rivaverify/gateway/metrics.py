"""The gateway's /metrics: Prometheus text format parsed into samples, and sums of samples by label."""

from __future__ import annotations

import re

_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus text format: sample name -> [(labels, value)]; HELP/TYPE lines skipped."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and not line.startswith("#"):
            out.setdefault(m.group(1), []).append((dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def metric(samples: dict, name: str, **labels: str) -> float:
    """The sum of a sample's values whose labels include `labels` (0 when absent)."""
    return sum(v for lab, v in samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items()))
