"""Staged readiness: each stage retried with backoff until its own deadline; says which stage it reached."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

# A check returns (ok, detail); detail says what was seen ("HTTP 503", "NOT_SERVING", ...).
Check = Callable[[], tuple[bool, str]]
T = TypeVar("T")


@dataclass(frozen=True)
class Stage:
    name: str
    check: Check
    timeout_s: float
    optional: bool = False  # a stage that cannot be seen from here is skipped, not failed


@dataclass
class StageResult:
    name: str
    status: str  # passed, failed, skipped
    elapsed_s: float
    attempts: int
    detail: str


@dataclass
class Readiness:
    results: list[StageResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results)

    @property
    def reached(self) -> str:
        """The last stage passed ('' when none)."""
        passed = [r.name for r in self.results if r.status == "passed"]
        return passed[-1] if passed else ""

    @property
    def failed(self) -> StageResult | None:
        return next((r for r in self.results if r.status == "failed"), None)

    def summary(self) -> str:
        return " -> ".join(f"{r.name} {r.status} ({r.elapsed_s:.1f}s)" for r in self.results)


class Unreachable(Exception):
    """Raised by a check of an optional stage when the thing cannot be seen at all (skip, not fail)."""


def wait(
    stages: list[Stage],
    abort: Callable[[], str | None] = lambda: None,
    sleep_s: float = 0.05,
    max_sleep_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleeper: Callable[[float], None] = time.sleep,
) -> Readiness:
    """Run the stages in order; stop at the first that fails. `abort()` names a reason to give up now."""
    out = Readiness()
    for stage in stages:
        result = _wait_stage(stage, abort, sleep_s, max_sleep_s, clock, sleeper)
        out.results.append(result)
        if result.status == "failed":
            break
    return out


def _wait_stage(stage, abort, sleep_s, max_sleep_s, clock, sleeper) -> StageResult:
    start = clock()
    attempts, detail, delay = 0, "not tried", sleep_s
    while True:
        attempts += 1
        try:
            ok, detail = stage.check()
        except Unreachable as exc:
            if stage.optional:
                return StageResult(stage.name, "skipped", clock() - start, attempts, f"cannot be seen: {exc}")
            ok, detail = False, str(exc)
        except Exception as exc:  # a probe error is a "not yet", with its reason kept
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        elapsed = clock() - start
        if ok:
            return StageResult(stage.name, "passed", elapsed, attempts, detail)
        reason = abort()
        if reason:
            return StageResult(stage.name, "failed", elapsed, attempts, f"{reason} (last seen: {detail})")
        if elapsed >= stage.timeout_s:
            return StageResult(stage.name, "failed", elapsed, attempts,
                               f"not ready within {stage.timeout_s:.0f}s (last seen: {detail})")
        sleeper(min(delay, max(0.0, stage.timeout_s - elapsed)))
        delay = min(delay * 2, max_sleep_s)


class WaitTimeout(TimeoutError):
    """A wait_until deadline passed; the message names what was waited for and the last thing seen."""


def wait_until(check: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.05,
               clock: Callable[[], float] = time.monotonic, sleeper: Callable[[float], None] = time.sleep) -> T:
    """Call `check` until it returns something truthy, and return that; WaitTimeout naming `what` at the deadline.
    An exception from `check` ends the wait (check for what may fail inside it)."""
    deadline = clock() + timeout_s
    while True:
        value = check()
        if value:
            return value
        left = deadline - clock()
        if left <= 0:
            raise WaitTimeout(f"{what}: not within {timeout_s:g} s")
        sleeper(min(interval_s, left))
