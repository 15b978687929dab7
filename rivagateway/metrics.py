"""Prometheus metrics of one gateway (its own registry). Labels carry key ids, never keys."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("rivagateway_requests", "HTTP requests by route and status", ["route", "status"],
                                registry=r)
        self.request_seconds = Histogram("rivagateway_request_seconds", "HTTP request duration (streams: "
                                         "until closed)", ["route"], registry=r, buckets=LATENCY_BUCKETS)
        self.streams_active = Gauge("rivagateway_streams_active", "streams open now", registry=r)
        self.streams = Counter("rivagateway_streams", "streams ended, by key id and close code",
                               ["key_id", "close_code"], registry=r)
        self.events = Counter("rivagateway_events", "events sent, by type", ["type"], registry=r)
        self.audio_bytes = Counter("rivagateway_audio_bytes", "audio bytes forwarded to Riva", registry=r)
        self.first_event_seconds = Histogram("rivagateway_first_event_seconds", "stream start to its first "
                                             "event", registry=r, buckets=LATENCY_BUCKETS)
        self.final_after_stop_seconds = Histogram("rivagateway_final_after_stop_seconds", "stop message to the "
                                                  "last final sent", registry=r, buckets=LATENCY_BUCKETS)
        self.forward_seconds = Histogram("rivagateway_forward_seconds", "a Riva response received to its "
                                         "events written to the client (the gateway's own latency)",
                                         registry=r, buckets=LATENCY_BUCKETS)
        self.auth_failures = Counter("rivagateway_auth_failures", "requests refused for their key",
                                     ["reason"], registry=r)
        self.rate_limited = Counter("rivagateway_rate_limited", "requests refused with 429, by key id",
                                    ["key_id"], registry=r)
        self.riva_errors = Counter("rivagateway_riva_errors", "Riva calls that failed, by gRPC code", ["code"],
                                   registry=r)
        self.riva_retries = Counter("rivagateway_riva_retries", "stream starts retried after Riva refused",
                                    registry=r)
        self.riva_up = Gauge("rivagateway_riva_up", "1 when Riva's health check answered SERVING last",
                             registry=r)
        self.key_reloads = Counter("rivagateway_key_reloads", "key file reloads, by result", ["result"],
                                   registry=r)
        for reason in ("missing", "invalid"):
            self.auth_failures.labels(reason)

    def text(self) -> bytes:
        return generate_latest(self.registry)
