"""The layer rules of docs/architecture.md, checked on every module's syntax tree (imports in functions too)."""

from __future__ import annotations

import ast
import re

from tests.conftest import ROOT

DOC = ROOT / "docs" / "architecture.md"
CODE = re.compile(r"`([^`]+)`")
ALLOWANCE = re.compile(r"`([^`]+\.py)` may import `([^`]+)`")


def rules() -> dict[str, tuple[set[str], dict[str, set[str]]]]:
    """layer -> (names it may not import, {file: names that file may import all the same}), from the doc."""
    text = DOC.read_text()
    section = text.split("## Rules", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        layer = CODE.findall(cells[0])[0]
        allowed: dict[str, set[str]] = {}
        for path, name in ALLOWANCE.findall(cells[2]):
            allowed.setdefault(path, set()).add(name)
        out[layer] = (set(CODE.findall(cells[1])), allowed)
    return out


def imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import: statements anywhere, and importlib.import_module("literal")."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in
              ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def violations(layer: str, forbidden: set[str], allowed: dict[str, set[str]]) -> list[str]:
    out = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for line, module in imports(ast.parse(path.read_text(), rel)):
            top = module.split(".")[0]
            if top in forbidden and top not in allowed.get(rel, set()):
                out.append(f"{rel}:{line} imports {module}: layer {layer} may not import {top}")
    return out


def test_the_doc_states_a_rule_for_every_layer():
    got = rules()
    assert set(got) == {"rivalite", "rivagateway", "rivaverify", "plugins", "fixtures", "suites", "testing"}
    assert "rivaverify" in got["rivalite"][0] and "rivalite" in got["rivaverify"][0]
    assert got["rivaverify"][1] == {"rivaverify/adapters/rivalite.py": {"rivalite"}}


def unused_allowances(table: dict[str, tuple[set[str], dict[str, set[str]]]]) -> list[str]:
    """Allowances no file needs: the file is missing, or imports nothing of what it may."""
    out = []
    for layer, (_, allowed) in sorted(table.items()):
        for rel, names in sorted(allowed.items()):
            path = ROOT / rel
            used = {m.split(".")[0] for _, m in imports(ast.parse(path.read_text(), rel))} if path.is_file() else set()
            out += [f"{layer}: `{rel}` may import `{name}`, and " + ("imports nothing of it" if path.is_file() else
                                                                      "there is no such file")
                    for name in sorted(names - used)]
    return out


def test_every_allowance_is_used():
    unused = unused_allowances(rules())
    assert not unused, "allowances of docs/architecture.md no file uses:\n  " + "\n  ".join(unused)


def test_an_unused_allowance_is_caught():
    table = {"rivaverify": (set(), {"rivaverify/adapters/rivalite.py": {"rivalite", "rivagateway"},
                                    "rivaverify/adapters/nothing.py": {"rivagateway"}})}
    assert unused_allowances(table) == [
        "rivaverify: `rivaverify/adapters/nothing.py` may import `rivagateway`, and there is no such file",
        "rivaverify: `rivaverify/adapters/rivalite.py` may import `rivagateway`, and imports nothing of it"]


def test_every_module_keeps_to_its_layer():
    broken = [v for layer, (forbidden, allowed) in rules().items() for v in violations(layer, forbidden, allowed)]
    assert not broken, "layer rules of docs/architecture.md broken:\n  " + "\n  ".join(broken)


def test_a_function_level_import_is_caught(tmp_path, monkeypatch):
    """The rule holds inside functions and for import_module, where no import linter looks."""
    monkeypatch.setattr("tests.test_layers.ROOT", tmp_path)
    (tmp_path / "rivalite").mkdir()
    (tmp_path / "rivalite" / "x.py").write_text(
        "import os\n\ndef f():\n    from rivaverify.shim import install\n\n"
        "def g():\n    import importlib\n    return importlib.import_module('rivagateway.app')\n")
    got = violations("rivalite", {"rivaverify", "rivagateway"}, {})
    assert got == ["rivalite/x.py:4 imports rivaverify.shim: layer rivalite may not import rivaverify",
                   "rivalite/x.py:8 imports rivagateway.app: layer rivalite may not import rivagateway"]


def test_testing_is_not_installed_with_the_products():
    text = (ROOT / "pyproject.toml").read_text()
    include = re.search(r"include = \[(.*?)\]", text).group(1)
    assert "testing" not in include and "rivaverify" in include
