"""The plan: every action a fixture takes (or, with --dry-run, would take), in order."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from rivaverify.state import now


@dataclass
class Plan:
    dry_run: bool = False
    actions: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, what: str, **details: Any) -> bool:
        """Record an action; True when it should really be carried out (not a dry run)."""
        self.actions.append({"kind": kind, "what": what, "at": now(), **details})
        return not self.dry_run

    def run(self, argv: list[str], **details: Any) -> bool:
        return self.add("run", shlex.join(str(a) for a in argv), argv=[str(a) for a in argv], **details)

    def write(self, path: Any, **details: Any) -> bool:
        return self.add("write", str(path), **details)

    def upload(self, source: Any, dest: str, **details: Any) -> bool:
        return self.add("upload", f"{source} -> {dest}", **details)

    def lines(self) -> list[str]:
        return [f"{i + 1:3d}. {a['kind']:<7} {a['what']}" for i, a in enumerate(self.actions)]

    def to_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "actions": self.actions}
