"""Staged readiness with a fake clock: deadlines, backoff, abort, optional stages."""

from __future__ import annotations

from rivaverify.readiness import Stage, Unreachable, wait


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s


def after(clock, t, detail="not yet"):
    return lambda: (clock.now >= t, "up" if clock.now >= t else detail)


def test_stages_pass_in_order_with_backoff():
    clock = Clock()
    result = wait([Stage("alive", after(clock, 0), 5), Stage("live", after(clock, 1.0), 5)],
                  clock=clock, sleeper=clock.sleep, sleep_s=0.1, max_sleep_s=0.4)
    assert result.ok and result.reached == "live" and result.failed is None
    assert clock.sleeps[:4] == [0.1, 0.2, 0.4, 0.4]
    assert [r.status for r in result.results] == ["passed", "passed"]


def test_a_stage_past_its_deadline_fails_and_stops_the_rest():
    clock = Clock()
    result = wait([Stage("alive", after(clock, 0), 5), Stage("ready", after(clock, 99, "HTTP 503"), 2),
                   Stage("models", after(clock, 0), 5)], clock=clock, sleeper=clock.sleep)
    assert not result.ok and result.reached == "alive"
    assert result.failed.name == "ready"
    assert result.failed.detail == "not ready within 2s (last seen: HTTP 503)"
    assert [r.name for r in result.results] == ["alive", "ready"]
    assert 2.0 <= result.failed.elapsed_s < 3.0


def test_abort_gives_up_at_once_with_the_reason():
    clock = Clock()
    result = wait([Stage("ready", after(clock, 99), 60)], abort=lambda: "launcher exited with 1",
                  clock=clock, sleeper=clock.sleep)
    assert result.failed.detail.startswith("launcher exited with 1") and clock.now == 0


def test_probe_errors_are_retried_and_optional_unreachable_stages_skip():
    clock = Clock()
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("refused")
        return True, "ok"

    def unseen():
        raise Unreachable("Triton HTTP port not published")

    result = wait([Stage("health", flaky, 5), Stage("triton", unseen, 5, optional=True)],
                  clock=clock, sleeper=clock.sleep)
    assert result.ok and len(calls) == 3
    assert result.results[1].status == "skipped" and "not published" in result.results[1].detail
