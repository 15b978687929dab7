"""/metrics in Prometheus' text format (prometheus-client): the last run's gauges, read at scrape time from the
scheduler (no stale series), and over runs a counter by outcome and a histogram of latencies. Names follow the
blackbox exporter's `probe_success` / `probe_duration_seconds` and goss' outcome counter."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from rivaverify.serve.checks import FAILED, PASSED, Run
from rivaverify.serve.scheduler import Scheduler

PREFIX = "rivaverify_"
LABELS = ("target", "flavor", "model")
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)


class LastRun(Collector):
    def __init__(self, scheduler: Scheduler, target: str, flavor: str) -> None:
        self.scheduler, self.target, self.flavor = scheduler, target, flavor

    def _family(self, name: str, doc: str, check: bool = False) -> GaugeMetricFamily:
        return GaugeMetricFamily(PREFIX + name, doc, labels=(("check",) if check else ()) + LABELS)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self.scheduler
        run = s.last
        base = [self.target, self.flavor, run.model if run else ""]
        interval = self._family("interval_seconds", "seconds between the starts of two runs")
        interval.add_metric(base, s.interval_s)
        yield interval
        created = self._family("serve_start_timestamp_seconds", "unix time rivaverify serve started")
        created.add_metric(base, s.created)
        yield created
        success = self._family("probe_success", "1: the last run passed and is fresh (younger than 2 intervals)")
        success.add_metric(base, float(bool(run and run.passed and s.fresh(run))))
        yield success
        if s.last_success is not None:
            last_ok = self._family("last_success_timestamp_seconds", "unix time the last passing run ended")
            last_ok.add_metric(base, s.last_success)
            yield last_ok
        if run is None:
            return
        yield from self._last_run(run, base)

    def _last_run(self, run: Run, base: list[str]) -> Iterator[GaugeMetricFamily]:
        families = {
            "duration": self._family("probe_duration_seconds", "how long the last run took"),
            "ended": self._family("last_run_timestamp_seconds", "unix time the last run ended"),
            "ok": self._family("check_success", "1: the check passed in the last run, 0: it failed", True),
            "secs": self._family("check_duration_seconds", "how long the check took in the last run", True),
            "wer": self._family("last_wer", "word error rate of the check's transcript in the last run", True),
            "wer_bound": self._family("wer_bound", "the WER bound (RIVA__MAX_WER)", True),
            "lat": self._family("last_latency_seconds", "Recognize's response, the stream's final after the last "
                                "chunk, HTTP's response, in the last run", True),
            "lat_bound": self._family("latency_bound_seconds", "the latency bound (RIVA__MAX_RESPONSE_S)", True),
        }
        families["duration"].add_metric(base, run.seconds)
        families["ended"].add_metric(base, run.started + run.seconds)
        for c in run.checks:
            if c.status not in (PASSED, FAILED):
                continue
            labels = [c.name, *base]
            families["ok"].add_metric(labels, float(c.status == PASSED))
            families["secs"].add_metric(labels, c.seconds)
            for key, value in (("wer", c.wer), ("wer_bound", c.wer_bound), ("lat", c.latency_s),
                               ("lat_bound", c.latency_bound_s)):
                if value is not None:
                    families[key].add_metric(labels, value)
        yield from families.values()


class Metrics:
    def __init__(self, scheduler: Scheduler, target: str, flavor: str) -> None:
        self.target, self.flavor = target, flavor
        self.registry = CollectorRegistry()
        self.registry.register(LastRun(scheduler, target, flavor))
        self.runs = Counter(PREFIX + "runs", "verification runs by outcome (passed, failed)", ("outcome", *LABELS),
                            registry=self.registry)
        self.latency = Histogram(PREFIX + "latency_seconds", "latencies over runs, per check", ("check", *LABELS),
                                 buckets=BUCKETS, registry=self.registry)

    def observe(self, run: Run) -> None:
        """Count a run that ended (the scheduler's on_run)."""
        base = (self.target, self.flavor, run.model)
        self.runs.labels(PASSED if run.passed else FAILED, *base).inc()
        for c in run.checks:
            if c.latency_s is not None:
                self.latency.labels(c.name, *base).observe(c.latency_s)

    def text(self) -> bytes:
        return generate_latest(self.registry)
