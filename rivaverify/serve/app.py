"""The HTTP face of `rivaverify serve` (aiohttp): /healthz (200 or 503, JSON), /metrics (Prometheus text), /.
Requests only read the scheduler's state: a burst of probes never starts a run, and /healthz answers from a short
cache."""

from __future__ import annotations

import json
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from rivaverify.serve import page
from rivaverify.serve.metrics import Metrics
from rivaverify.serve.scheduler import Scheduler

CACHE_S = 1.0


class Serve:
    def __init__(self, scheduler: Scheduler, target: str, flavor: str, cache_s: float = CACHE_S) -> None:
        self.scheduler, self.target, self.flavor, self.cache_s = scheduler, target, flavor, cache_s
        self.metrics = Metrics(scheduler, target, flavor)
        scheduler.on_run = self.metrics.observe
        self._cached: tuple[float, int, bytes] | None = None

    def health(self) -> tuple[int, bytes]:
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > self.cache_s:
            body = page.health_json(self.scheduler, self.target, self.flavor)
            self._cached = (now, 200 if body["healthy"] else 503, json.dumps(body, indent=1).encode())
        return self._cached[1], self._cached[2]

    async def healthz(self, request: web.Request) -> web.Response:
        status, body = self.health()
        return web.Response(status=status, body=body, content_type="application/json")

    async def metrics_text(self, request: web.Request) -> web.Response:
        resp = web.Response(body=self.metrics.text())
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text=page.page(self.scheduler, self.target, self.flavor), content_type="text/html")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_text)
        app.router.add_get("/", self.index)
        return app
