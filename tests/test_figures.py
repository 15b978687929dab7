"""The key figures of rivaverify/report/figures.py against the suites that record them, read from their syntax
trees: each recorded by a suite of its phase under the registry's name, none under a literal key or another
phase's name, every bound a threshold. The figures of every phase come from Triton's metrics."""

from __future__ import annotations

import ast
import fnmatch

from rivaverify import triton_metrics
from rivaverify.report import figures
from rivaverify.settings import Thresholds
from tests.conftest import ROOT

NAMES = {name: value for name, value in vars(figures).items() if name.isupper() and isinstance(value, str)}


def _literals(node: ast.expr) -> list[str]:
    """The keys written out in an expression: each string, an f-string with * for each {…}."""
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)]
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else []
    return [text for child in ast.iter_child_nodes(node) for text in _literals(child)]


def records(path) -> list[tuple[int, set[str], list[str]]]:
    """(line, registry names, strings) of each record_figure call, and of each call handed record_figure
    (a helper that records: all its arguments count)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        if getattr(node.func, "id", None) == "record_figure" and node.args:
            keys = [node.args[0]]
        elif any(getattr(a, "id", None) == "record_figure" for a in node.args):
            keys = node.args + [k.value for k in node.keywords]
        else:
            continue
        names = {n.attr for key in keys for n in ast.walk(key)
                 if isinstance(n, ast.Attribute) and getattr(n.value, "id", None) == "figures"}
        out.append((node.lineno, names, [text for key in keys for text in _literals(key)]))
    return out


def problems(path, phase: str) -> list[str]:
    """A suite's records that name a key figure wrongly: an unknown name, another phase's, a literal key."""
    rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    out = []
    for line, names, literals in records(path):
        for name in sorted(names):
            phases = {f.phase for f in figures.KEY_FIGURES if f.key == NAMES.get(name)}
            if not phases:
                out.append(f"{rel}:{line} records figures.{name}, which the registry does not name")
            elif phase not in phases:
                out.append(f"{rel}:{line} records figures.{name}, a figure of phase {'/'.join(sorted(phases))}")
        for name, key in NAMES.items():
            if any(fnmatch.fnmatchcase(text, key.replace("{}", "*")) for text in literals):
                out.append(f"{rel}:{line} records key figure {key!r} by a literal key: use figures.{name}")
    return out


def suites() -> dict[str, list]:
    out: dict[str, list] = {}
    for path in sorted((ROOT / "suites").glob("test_*.py")):
        out.setdefault(path.name.split("_")[1], []).append(path)
    return out


def test_every_key_figure_is_recorded_by_a_suite_of_its_phase():
    named = {(phase, name) for phase, paths in suites().items() for p in paths for _, names, _ in records(p)
             for name in names}
    by_value = {v: n for n, v in NAMES.items()}
    missing = [f"{f.phase} {f.key} (figures.{by_value[f.key]})" for f in figures.KEY_FIGURES
               if f.phase != "*" and (f.phase, by_value[f.key]) not in named]
    assert not missing, "key figures no suite records:\n  " + "\n  ".join(missing)


def test_suites_name_key_figures_as_the_registry_does():
    broken = [p for phase, paths in suites().items() for path in paths for p in problems(path, phase)]
    assert not broken, "key figures named wrongly (rivaverify/report/figures.py):\n  " + "\n  ".join(broken)


def test_a_wrong_name_is_caught(tmp_path):
    suite = tmp_path / "test_050_smoke.py"
    suite.write_text("from rivaverify.report import figures\n\n"
                     "def test_a(record_figure, n):\n"
                     "    record_figure('recognize.wer', 0.1)\n"
                     "    record_figure(figures.CORPUS_WER, 0.1)\n"
                     "    record_figure(figures.RECOGNISE_WER, 0.1)\n"
                     "    helper(record_figure, {'final': f'concurrent{n}.final'})\n"
                     "    record_figure(f'format.{n}', 0.1)\n")
    assert problems(suite, "050") == [
        "test_050_smoke.py:4 records key figure 'recognize.wer' by a literal key: use figures.RECOGNIZE_WER",
        "test_050_smoke.py:5 records figures.CORPUS_WER, a figure of phase 060",
        "test_050_smoke.py:6 records figures.RECOGNISE_WER, which the registry does not name",
        "test_050_smoke.py:7 records key figure 'concurrent{}.final' by a literal key: use figures.CONCURRENT_FINAL",
    ]  # line 8: format.* is no key figure


def test_every_name_is_a_key_figure_and_every_bound_a_threshold():
    keys = {f.key for f in figures.KEY_FIGURES}
    assert set(NAMES.values()) == keys
    assert len(NAMES) == len(keys), "two names for one key"
    unknown = [f"{f.key}: {f.bound}" for f in figures.KEY_FIGURES if f.bound and f.bound not in Thresholds.model_fields]
    assert not unknown, f"bounds that are no threshold: {unknown}"


def test_the_figures_of_every_phase_are_those_tritons_metrics_record():
    counts = {k: 1.0 for k in triton_metrics.COUNTERS}
    delta = triton_metrics.Delta(models={"asr": counts}, gpus={"GPU-0": {"gpu_memory_used_bytes": 2.0**30}},
                                 restarted=[], since_start=False)
    recorded = triton_metrics.figures(delta)
    every_phase = [f.key for f in figures.KEY_FIGURES if f.phase == "*"]
    assert every_phase and all(key in recorded for key in every_phase), (every_phase, sorted(recorded))
