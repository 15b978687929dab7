"""The aiohttp application: /v1/stream (WebSocket), /ping, /health, /metrics; keys, rate limits, access log."""

from __future__ import annotations

import json
import logging
import time

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from rivagateway.config import Config
from rivagateway.keys import KeyStore
from rivagateway.metrics import Metrics
from rivagateway.ratelimit import SlidingWindow
from rivagateway.riva import RivaPool
from rivagateway.session import Stream

STREAM_PATH = "/v1/stream"
ANONYMOUS = "-"
CFG = web.AppKey("cfg", Config)
METRICS = web.AppKey("metrics", Metrics)
KEYS = web.AppKey("keys", object)
LIMITER = web.AppKey("limiter", SlidingWindow)
POOL = web.AppKey("pool", object)
STATE = web.AppKey("state", dict)


class AccessLogger(AbstractAccessLogger):
    """One line per request: no headers, no query string, the key id instead of the key."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        extra = f" close={request['close_code']}" if "close_code" in request else ""
        self.logger.info('%s "%s %s" %s %.3fs key=%s%s', request.remote, request.method, request.path,
                         response.status, time, request.get("key_id", ANONYMOUS), extra)


def _json(status: int, body: dict, headers: dict | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


def _presented_key(request: web.Request, header: str) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get(header) or None


@web.middleware
async def count_requests(request: web.Request, handler):
    metrics = request.app[METRICS]
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "other"
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.requests.labels(route, str(status)).inc()
        metrics.request_seconds.labels(route).observe(time.perf_counter() - start)


async def ping(request: web.Request) -> web.Response:
    return web.Response(text="pong\n")


async def health(request: web.Request) -> web.Response:
    """200 with status ok when Riva's gRPC health is SERVING, else 503 with status degraded and why."""
    cfg, metrics = request.app[CFG], request.app[METRICS]
    riva = await request.app[POOL].health(cfg.health_timeout)
    ok = riva == "SERVING"
    metrics.riva_up.set(1 if ok else 0)
    body = {
        "status": "ok" if ok else "degraded", "riva": riva, "riva_target": cfg.riva,
        "streams_active": request.app[STATE]["active"],
        "limits": {"rate_limit": cfg.rate_limit, "rate_window_s": cfg.rate_window, "max_streams": cfg.max_streams},
        "auth": "none" if cfg.no_auth else "api-key",
    }
    return _json(200 if ok else 503, body)


async def metrics_text(request: web.Request) -> web.Response:
    return web.Response(body=request.app[METRICS].text(), content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def stream(request: web.Request) -> web.StreamResponse:
    app, cfg, metrics = request.app, request.app[CFG], request.app[METRICS]
    key_id = ANONYMOUS
    if not cfg.no_auth:
        key = _presented_key(request, cfg.key_header)
        key_id = app[KEYS].lookup(key)
        if key_id is None:
            metrics.auth_failures.labels("missing" if key is None else "invalid").inc()
            what = "no API key" if key is None else "the API key is not valid"
            return _json(401, {"error": "unauthorized", "message": f"{what}: send Authorization: Bearer <key> or "
                               f"{cfg.key_header}: <key>"}, {"WWW-Authenticate": 'Bearer realm="rivagateway"'})
        request["key_id"] = key_id
    ws = web.WebSocketResponse(max_msg_size=cfg.max_frame_bytes, timeout=2.0, heartbeat=None, compress=False)
    if not ws.can_prepare(request).ok:
        return _json(400, {"error": "not_websocket", "message": f"{STREAM_PATH} is a WebSocket endpoint: "
                           "connect with ws:// (or wss://) and send the start message"})
    wait = app[LIMITER].hit(key_id)
    if wait:
        metrics.rate_limited.labels(key_id).inc()
        return _json(429, {"error": "rate_limited", "message": f"over {cfg.rate_limit} streams per "
                           f"{cfg.rate_window:g} s for key {key_id}", "retry_after_s": round(wait, 3)},
                     {"Retry-After": SlidingWindow.retry_after(wait)})
    state = app[STATE]
    if state["active"] >= cfg.max_streams:
        return _json(503, {"error": "at_capacity", "message": f"{cfg.max_streams} streams are open "
                           "(--max-streams): retry shortly or add a gateway"}, {"Retry-After": "1"})
    await ws.prepare(request)
    state["active"] += 1
    metrics.streams_active.inc()
    s = Stream(ws, cfg, app[POOL], metrics, key_id, request.transport)
    state["streams"].add(s)
    try:
        await s.run()
    finally:  # also when the connection was dropped (a client that read nothing) and the handler cancelled
        state["streams"].discard(s)
        state["active"] -= 1
        metrics.streams_active.dec()
        request["close_code"] = s.close_code
        metrics.streams.labels(key_id, str(s.close_code)).inc()
    return ws


def reload_keys(app: web.Application, log: logging.Logger) -> None:
    """SIGHUP: read the key file again; a bad file keeps the keys in use and says why."""
    keys = app[KEYS]
    if keys is None:
        log.info("SIGHUP: no key file (--no-auth), nothing to reload")
        return
    try:
        n = keys.reload()
    except ValueError as exc:
        app[METRICS].key_reloads.labels("error").inc()
        log.error("SIGHUP: keys not reloaded, the %d in use stay: %s", len(keys), exc)
        return
    app[METRICS].key_reloads.labels("ok").inc()
    log.info("SIGHUP: %d keys loaded from %s", n, keys.path)


def make_app(cfg: Config) -> web.Application:
    app = web.Application(middlewares=[count_requests])
    app[CFG] = cfg
    app[METRICS] = Metrics()
    app[KEYS] = None if cfg.no_auth else KeyStore(cfg.keys)
    app[LIMITER] = SlidingWindow(cfg.rate_limit, cfg.rate_window)
    app[STATE] = {"active": 0, "streams": set()}

    async def going_away(app: web.Application) -> None:
        for s in list(app[STATE]["streams"]):
            s.shutdown()

    app.on_shutdown.append(going_away)

    async def pool(app: web.Application):
        root = cfg.riva_ssl_cert.read_bytes() if cfg.riva_ssl_cert else None
        app[POOL] = RivaPool(cfg.riva, cfg.channels, root, cfg.riva_api_key)
        yield
        await app[POOL].close()

    app.cleanup_ctx.append(pool)
    app.router.add_get("/ping", ping)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_text)
    app.router.add_get(STREAM_PATH, stream)
    return app
