"""A finding: the object, the field, expected and actual, why it matters and the fix; text and JSON writers."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

ERROR, ADVICE = "error", "advice"  # an error fails the check (exit 1); advice fails it only with --strict


@dataclass(frozen=True)
class Finding:
    obj: str  # Kind/name
    field: str  # dotted path inside the object
    expected: str
    actual: str
    why: str
    fix: str
    level: str = ERROR
    check: str = ""

    def text(self) -> str:
        return (f"{self.level.upper()} {self.obj} {self.field} [{self.check}]\n  expected: {self.expected}\n"
                f"  actual:   {self.actual}\n  why:      {self.why}\n  fix:      {self.fix}")


def to_text(findings: list[Finding], checked: list[str]) -> str:
    head = f"checked {len(checked)} object(s): {', '.join(checked) or 'none'}"
    if not findings:
        return head + "\nno findings"
    errors = sum(f.level == ERROR for f in findings)
    body = "\n".join(f.text() for f in findings)
    return f"{head}\n{body}\n{errors} error(s), {len(findings) - errors} advice"


def to_json(findings: list[Finding], checked: list[str]) -> str:
    return json.dumps({"checked": checked, "findings": [asdict(f) for f in findings]}, indent=2)


def exit_code(findings: list[Finding], strict: bool = False) -> int:
    """0 clean, 1 findings (errors; advice too when strict)."""
    return 1 if any(f.level == ERROR or strict for f in findings) else 0
