"""locust hooks shared by our users: our options, the peak of streaming users, thresholds into the exit code.

Imported by each user module; Python imports it once, so the hooks are registered once."""

from __future__ import annotations

from locust import events

from rivaverify.load import checks, options

STREAMING = ("RivaStreamingUser", "GatewayUser")  # the users that count as streams for --riva-min-streams
_peak = {"streams": 0}
_env: list = []


@events.init_command_line_parser.add_listener
def _options(parser, **_kwargs):
    options.add(parser)


@events.init.add_listener
def _init(environment, **_kwargs):
    _env[:] = [environment]


@events.spawning_complete.add_listener
def _spawned(user_count, **_kwargs):
    # what locust dispatched by class (a master's own count of running users lags behind its workers' reports)
    counts = getattr(_env[0].runner, "target_user_classes_count", None) if _env else None
    streams = sum(counts.get(name, 0) for name in STREAMING) if counts else user_count
    _peak["streams"] = max(_peak["streams"], streams)


@events.quitting.add_listener
def _thresholds(environment, **_kwargs):
    from locust.runners import WorkerRunner

    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    classes = environment.user_classes or []
    weight = sum(c.weight for c in classes)
    share = sum(c.weight for c in classes if c.__name__ in STREAMING) / weight if weight else 1.0
    found = checks.problems(environment.stats, environment.parsed_options, _peak["streams"], share)
    for line in found:
        print(f"riva-verify threshold failed: {line}", flush=True)
    if found:
        environment.process_exit_code = 1
