"""The summary at the top of reports/<name>.html: <section id="riva-summary"> above pytest-html's own tables, with
the verdict, what was verified, the phases in a row, the next steps of a failed one, the key figures beside their
bounds with their trend, and the charts. The settings and environment fold below it. Rendered from the run's
report data (plugins/reports.py, rivaverify.report) once pytest-html has written its page."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any

import pytest

from plugins.reports import RUN_KEY
from rivaverify.files import write_text_atomic
from rivaverify.phases import phase_of_path
from rivaverify.report import charts
from rivaverify.report.summary import WHAT, fmt

STYLE = """<style>
#riva-summary{color:#222;font-size:13px;margin:0 0 12px}
#riva-summary h2{font-size:15px;margin:12px 0 6px}
#riva-summary .rv-head{display:flex;align-items:baseline;gap:14px;padding:10px 14px;border-radius:6px;color:#fff}
#riva-summary .rv-head.passed{background:#2e7d32}#riva-summary .rv-head.failed{background:#c62828}
#riva-summary .rv-head b{font-size:22px}#riva-summary .rv-head span{font-size:15px}
#riva-summary .rv-failure{background:#fdecea;border-left:4px solid #c62828;padding:6px 10px;margin:8px 0;
 white-space:pre-wrap;font-family:monospace;font-size:12px}
#riva-summary dl{display:flex;flex-wrap:wrap;gap:4px 22px;margin:8px 0}
#riva-summary dl div{display:flex;gap:6px}#riva-summary dt{color:#777}#riva-summary dd{margin:0;font-weight:600}
#riva-summary ol.rv-phases{display:flex;flex-wrap:wrap;gap:6px;list-style:none;padding:0;margin:0}
#riva-summary ol.rv-phases li{padding:4px 10px;border-radius:4px;border:1px solid #ccc}
#riva-summary ol.rv-phases li small{color:#555}
#riva-summary .passed-ph{background:#e8f5e9;border-color:#66bb6a}#riva-summary .failed-ph{background:#fdecea;
 border-color:#e57373}#riva-summary .not_run-ph,#riva-summary .skipped-ph{background:#f5f5f5;color:#777}
#riva-summary .rv-next{border:1px solid #e57373;padding:4px 12px;margin:8px 0;border-radius:4px}
#riva-summary .rv-next ol{margin:4px 0;padding-left:20px}
#riva-summary .rv-cols{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}
#riva-summary table.rv-figures td,#riva-summary table.rv-figures th{padding:1px 8px;border-bottom:1px solid #eee;
 text-align:left;white-space:nowrap}
#riva-summary table.rv-figures th{color:#555;font-weight:600}
#riva-summary td.num{text-align:right;font-variant-numeric:tabular-nums}
#riva-summary .ok{color:#2e7d32;font-weight:600}#riva-summary .bad,#riva-summary .regressed{color:#c62828;
 font-weight:600}
#riva-summary .rv-charts-col figure{margin:0 0 10px}#riva-summary figcaption{font-weight:600;margin-bottom:2px}
#riva-summary .rv-tables{display:flex;flex-wrap:wrap;gap:16px}
#riva-summary .rv-tables>div{max-width:900px;overflow-x:auto}
#riva-summary .rv-tables table td,#riva-summary .rv-tables table th{padding:1px 6px;border:1px solid #eee}
#riva-summary .rv-note{color:#666}
</style>"""


VERDICT_CLASS = {"ok": "ok", "": ""}  # any other verdict (over, under, phase failed) is bad


class SummaryPage:
    def __init__(self, config: pytest.Config, path: Path) -> None:
        self.config, self.path = config, path
        self.charts: list[tuple[str, str]] = []  # (test, HTML) that phase tests attached to their rows

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and phase_of_path(report.nodeid.split("@")[0]) is not None:
            for extra in getattr(report, "extras", []):
                if extra.get("format_type") == "html":
                    self.charts.append((report.nodeid.rpartition("::")[2], extra["content"]))

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session):
        result = yield  # pytest-html has written its page
        run = self.config.stash.get(RUN_KEY, None)
        if run is not None and self.path.is_file():
            write_text_atomic(self.path, insert(self.path.read_text(encoding="utf-8"), render(run, self.charts)))
            self.path.chmod(0o666 & ~_umask())  # as open() makes a file (the temporary file was private)
        return result


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def pytest_configure(config: pytest.Config) -> None:
    path = getattr(config.option, "htmlpath", None)
    if path and not hasattr(config, "workerinput") and not config.option.collectonly:
        config.pluginmanager.register(SummaryPage(config, Path(path)), "riva-summary-page")


ENVIRONMENT = re.compile(r'<div id="environment-header">\s*<h2>Environment</h2>\s*</div>\s*<table id="environment">')


def insert(page: str, section: str) -> str:
    """The summary first in <body>; pytest-html's environment table folded (its own toggle, clicked open)."""
    page = ENVIRONMENT.sub('<div id="environment-header" class="collapsed"><h2>Settings and environment '
                          '(click to show)</h2></div><table id="environment" class="hidden">', page, count=1)
    return page.replace("<body>", "<body>\n" + section, 1)


FIGURE = re.compile(r"<figure>.*?</figure>", re.S)  # a chart of rivaverify.report.charts


def render(run: dict[str, Any], attached: list[tuple[str, str]]) -> str:
    """The section: charts (readiness, and those the tests attached) beside the key figures; the tests' tables
    below them."""
    s = run["summary"]
    figures = "".join(f for _, content in attached for f in FIGURE.findall(content))
    return "\n".join([
        '<section id="riva-summary">', STYLE, _head(run, s["verdict"]), _what(s["verified"]),
        "<h2>Phases</h2>", _phases(run["phases"]), _next(s["verdict"]),
        '<div class="rv-cols"><div><h2>Key figures</h2>', _figures(s), "</div>",
        '<div class="rv-charts-col"><h2>Charts</h2>', _readiness(s["figures"]), figures, "</div></div>",
        _history(s), _tables(attached), "</section>",
    ])


def _e(text: Any) -> str:
    return html.escape(str(text))


def _head(run: dict[str, Any], v: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for p in run["phases"]:
        for k, n in p["counts"].items():
            counts[k] = counts.get(k, 0) + n
    tests = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items())) or v["exit"]
    title = "PASSED" if v["status"] == "passed" else f"FAILED in {v['phase']}" if v.get("phase") else \
        f"FAILED ({v['exit']})"
    out = (f'<div class="rv-head {v["status"]}"><b>{_e(title)}</b><span>{_e(run["name"])} · {_e(run["target"])} · '
           f'{_e(run["profile"])} profile · {_e(tests)}</span></div>')
    if v.get("message"):
        out += f'<div class="rv-failure">{_e(v["test"])}\n{_e(v["message"])}</div>'
    return out


def _what(verified: dict[str, str]) -> str:
    return "<dl>" + "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(verified.get(k, '—'))}</dd></div>" for k in WHAT
                            if k in verified) + "</dl>"


def _phases(phases: list[dict[str, Any]]) -> str:
    items = [f'<li class="{_e(p["status"])}-ph"><b>{_e(p["phase"])} {_e(p["name"])}</b> '
             f'<small>{_e(p["status"].replace("_", " "))} · {p.get("seconds", 0):.1f} s</small></li>' for p in phases]
    return '<ol class="rv-phases">' + "".join(items) + "</ol>" if items else "<p>no phase ran</p>"


def _next(v: dict[str, Any]) -> str:
    if not v.get("next_steps"):
        return ""
    later = f"<p>not run because of it: {_e(', '.join(v['not_run']))}</p>" if v["not_run"] else ""
    steps = "".join(f"<li>{_e(step)}</li>" for step in v["next_steps"])
    return f'<div class="rv-next"><h2>Next steps for {_e(v["phase"])}</h2>{later}<ol>{steps}</ol></div>'


def _bound(f: dict[str, Any]) -> str:
    if f["bound"] is None:
        return ""
    return ("≥ " if f["higher_is_better"] else "≤ ") + fmt(f["bound"], f["unit"], f["percent"])


def _figures(s: dict[str, Any]) -> str:
    if not s["figures"]:
        return '<p class="rv-note">no key figure was recorded in this run</p>'
    window = s.get("history", {}).get("window", "")
    rows = [f"<tr><th>figure</th><th>value</th><th>bound</th><th>verdict</th><th>last {window} runs</th>"
            "<th>against earlier runs</th></tr>"]
    for f in s["figures"]:
        t = f.get("trend", {})
        values = t.get("values", [])
        spark = charts.sparkline(values, f"{f['label']}: " + ", ".join(fmt(v, f["unit"], f["percent"]) for v in values),
                                 bad=bool(t.get("regression")))
        if t.get("regression"):
            against = f'<span class="regressed">▲ worse than median {_e(fmt(t["median"], f["unit"], f["percent"]))}'
            against += "</span>"
        elif "median" in t:
            against = f"median {_e(fmt(t['median'], f['unit'], f['percent']))}"
        else:
            against = '<span class="rv-note">first run</span>' if values else ""
        rows.append(f"<tr><td>{_e(f['label'])}</td><td class='num'>{_e(fmt(f['value'], f['unit'], f['percent']))}"
                    f"</td><td class='num'>{_e(_bound(f))}</td><td class='{VERDICT_CLASS.get(f['verdict'], 'bad')}'>"
                    f"{_e(f['verdict'] or '—')}"
                    f"</td><td>{spark}</td><td>{against}</td></tr>")
    return '<table class="rv-figures">' + "".join(rows) + "</table>"


def _readiness(figures: list[dict[str, Any]]) -> str:
    stages = {f["key"].removeprefix("ready.").replace("_", " "): f["value"] for f in figures
              if f["phase"] == "040" and f["key"].startswith("ready.")}
    return charts.bars({"": stages}, "Readiness: seconds per stage", unit="s") if stages else ""


def _tables(attached: list[tuple[str, str]]) -> str:
    rest = [(test, FIGURE.sub("", content)) for test, content in attached]
    rest = [(test, content) for test, content in rest if content.strip()]
    if not rest:
        return ""
    return ("<h2>Tables</h2><div class='rv-tables'>"
            + "".join(f"<div><h3>{_e(test)}</h3>{content}</div>" for test, content in rest) + "</div>")


def _history(s: dict[str, Any]) -> str:
    h = s.get("history")
    if not h:
        return ""
    if h.get("error"):
        return f'<p class="rv-note">history not kept: {_e(h["error"])}</p>'
    return (f'<p class="rv-note">history: {h["runs"]} run(s) in {_e(h["path"])}; a regression is a figure worse '
            f"than the median of the earlier runs beyond {h['tolerance']:.0%} (RIVA__BASELINE_TOLERANCE)</p>")
