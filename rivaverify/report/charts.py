"""Small self-contained SVG charts and HTML tables for the report (no plotting library, no files)."""

from __future__ import annotations

import html
import math

COLORS = {"partial": "#4e79a7", "final": "#e15759", "all": "#76b7b2", "wer": "#f28e2b"}


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<figure><figcaption>{html.escape(title)}</figcaption>'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="11">{"".join(body)}</svg></figure>')


def histogram(series: dict[str, list[float]], title: str, bins: int = 20, unit: str = "ms") -> str:
    """Overlaid histograms, one colour per series (e.g. partial and final latencies); bins on a log scale when
    the values span more than 20 times (partials of a few ms beside finals of seconds)."""
    values = [v for vs in series.values() for v in vs]
    if not values:
        return f"<p>{html.escape(title)}: no data</p>"
    lo, hi = min(values), max(values)
    log = lo > 0 and hi / lo > 20
    scale = math.log if log else float
    step = (scale(hi) - scale(lo)) / bins or 1.0
    counts = {k: [0] * bins for k in series}
    for k, vs in series.items():
        for v in vs:
            counts[k][min(bins - 1, int((scale(v) - scale(lo)) / step))] += 1
    top = max(max(c) for c in counts.values()) or 1
    w, h, left, bottom = 480, 200, 40, 30
    bw = (w - left - 10) / bins
    body = []
    for j, (k, c) in enumerate(counts.items()):
        color = COLORS.get(k, "#999")
        for i, n in enumerate(c):
            bh = (h - bottom - 10) * n / top
            x = left + i * bw + j * bw / len(counts)
            body.append(f'<rect x="{x:.1f}" y="{h - bottom - bh:.1f}" width="{bw / len(counts):.1f}" '
                        f'height="{bh:.1f}" fill="{color}"><title>{k}: {n}</title></rect>')
        body.append(f'<text x="{w - 110}" y="{15 + 14 * j}" fill="{color}">{html.escape(k)} ({len(series[k])})'
                    "</text>")
    middle = math.sqrt(lo * hi) if log else (lo + hi) / 2
    body.append(f'<text x="{left}" y="{h - 10}">{lo:.0f} {unit}</text>')
    body.append(f'<text x="{left + (w - left) / 2:.0f}" y="{h - 10}" text-anchor="middle">{middle:.0f} {unit}</text>')
    body.append(f'<text x="{w - 4}" y="{h - 10}" text-anchor="end">{hi:.0f} {unit}</text>')
    body.append(f'<text x="2" y="20">{top}</text>')
    return _svg(w, h, body, title + (" (log scale)" if log else ""))


def bars(groups: dict[str, dict[str, float]], title: str, unit: str = "ms") -> str:
    """Grouped horizontal bars: group (e.g. partial) -> label (p50, p90, ...) -> value."""
    rows = [(g, label, v) for g, d in groups.items() for label, v in d.items()]
    if not rows:
        return f"<p>{html.escape(title)}: no data</p>"
    top = max(v for _, _, v in rows) or 1.0
    w, row_h, left = 480, 16, 130
    body = []
    for i, (g, label, v) in enumerate(rows):
        y = 5 + i * row_h
        bw = (w - left - 70) * v / top
        body.append(f'<text x="2" y="{y + 11}">{html.escape(g)} {html.escape(label)}</text>')
        body.append(f'<rect x="{left}" y="{y}" width="{bw:.1f}" height="{row_h - 3}" '
                    f'fill="{COLORS.get(g, COLORS["all"])}"/>')
        body.append(f'<text x="{left + bw + 4:.1f}" y="{y + 11}">{v:.1f} {unit}</text>')
    return _svg(w, 10 + len(rows) * row_h, body, title)


def sparkline(values: list[float], title: str = "", bad: bool = False, width: int = 140, height: int = 18) -> str:
    """A trend small enough for a table cell: the values as a line, the last one a dot (red when `bad`)."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    step = (width - 6) / max(1, len(values) - 1)
    points = [(3 + i * step, height / 2 if hi == lo else height - 3 - (v - lo) / (hi - lo) * (height - 6))
              for i, v in enumerate(values)]
    x, y = points[-1]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="spark">'
            f"<title>{html.escape(title)}</title>"
            f'<polyline points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}" fill="none" '
            f'stroke="#aaa" stroke-width="1.2"/><circle cx="{x:.1f}" cy="{y:.1f}" r="3" '
            f'fill="{"#e15759" if bad else "#4e79a7"}"/></svg>')


def table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"
