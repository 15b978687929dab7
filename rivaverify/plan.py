"""The plan: every action a fixture takes (or, with --dry-run, would take), in order. Whether an action is carried
out is decided here, once: `carry_out` runs it unless this is a dry run; `record` and `command` only note it."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rivaverify.files import now

T = TypeVar("T")


@dataclass
class Plan:
    dry_run: bool = False
    actions: list[dict[str, Any]] = field(default_factory=list)

    def record(self, kind: str, what: str, **details: Any) -> None:
        """Note an action (carried out by the caller, or, in a dry run, only listed)."""
        self.actions.append({"kind": kind, "what": what, "at": now(), **details})

    def command(self, argv: list[str], **details: Any) -> None:
        """Note a command line."""
        self.record("run", shlex.join(str(a) for a in argv), argv=[str(a) for a in argv], **details)

    def write(self, path: Any, **details: Any) -> None:
        """Note a file written."""
        self.record("write", str(path), **details)

    def carry_out(self, kind: str, what: str, do: Callable[[], T], dry: T = None, **details: Any) -> T:
        """Note the action and carry it out: do()'s result; in a dry run, `dry` without calling do()."""
        self.record(kind, what, **details)
        return dry if self.dry_run else do()

    def run(self, argv: list[str], do: Callable[[], T], dry: T = None, **details: Any) -> T:
        """A command noted and carried out as do() (the Python that does what the command line says)."""
        self.command(argv, **details)
        return dry if self.dry_run else do()

    def lines(self) -> list[str]:
        return [f"{i + 1:3d}. {a['kind']:<7} {a['what']}" for i, a in enumerate(self.actions)]

    def to_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "actions": self.actions}
