"""One WebSocket stream: client messages -> bounded audio queue -> Riva -> bounded event queue -> client."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import WSMsgType, web

from rivagateway import protocol as p
from rivagateway.audio import MonoMixer
from rivagateway.config import Config
from rivagateway.metrics import Metrics
from rivagateway.riva import END, RivaPool, RivaStreamError, recognize

log = logging.getLogger("rivagateway.stream")


class Closing(Exception):
    """End the stream with an error event (unless code is NORMAL) and this close code."""

    def __init__(self, code: int, error: str, message: str):
        super().__init__(message)
        self.code, self.error, self.message = code, error, message


class Stream:
    def __init__(self, ws: web.WebSocketResponse, cfg: Config, pool: RivaPool, metrics: Metrics, key_id: str,
                 transport: asyncio.BaseTransport | None = None):
        self.ws, self.cfg, self.pool, self.metrics, self.key_id = ws, cfg, pool, metrics, key_id
        self.transport = transport
        self.audio: asyncio.Queue = asyncio.Queue(cfg.audio_buffer_frames)
        self.events: asyncio.Queue = asyncio.Queue(cfg.event_buffer)
        self.seq = 0
        self.started = time.perf_counter()
        self.stopped_at: float | None = None
        self.first_event = True
        self.last_final: float | None = None
        self.close_code = 1006  # until the stream ends one way or another
        self.going_away: asyncio.Future = asyncio.get_running_loop().create_future()

    async def run(self) -> int:
        """Serve the stream to its end; returns the close code."""
        tasks: list[asyncio.Task] = []
        try:
            async with asyncio.timeout(self.cfg.max_stream_seconds):
                start = await self._start()
                riva = asyncio.create_task(self._riva(start))
                reader = asyncio.create_task(self._read(MonoMixer(start.channels)))
                sender = asyncio.create_task(self._send())
                tasks = [riva, reader, sender]
                pending = {*tasks, self.going_away}
                while not riva.done():  # the reader ends at stop; Riva ends after its last final
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for t in done:
                        t.result()
                    if self.going_away.done():
                        raise Closing(p.GOING_AWAY, "SHUTDOWN", "the gateway is stopping: reconnect")
                reader.cancel()
                await self._put_event(None)
                await sender
                self.close_code = p.NORMAL
        except TimeoutError:
            await self._fail(Closing(p.TOO_LONG, "TOO_LONG", f"the stream ran past {self.cfg.max_stream_seconds:g} "
                                     "s (--max-stream-seconds)"), tasks)
        except Closing as exc:
            await self._fail(exc, tasks)
        except ConnectionResetError:
            self.close_code = 1006
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if not self.ws.closed:
            await self._close(self.close_code)
        return self.close_code

    async def _close(self, code: int, reason: str = "") -> None:
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()[:120]), 3.0)
        except Exception:  # noqa: BLE001 - a client that reads nothing: drop it, and its buffer with it
            if self.transport is not None:
                self.transport.abort()

    def shutdown(self) -> None:
        """The gateway is stopping: end the stream with an error event and 1001."""
        if not self.going_away.done():
            self.going_away.set_result(None)

    async def _start(self) -> p.Start:
        try:
            msg = await self.ws.receive(timeout=self.cfg.start_timeout)
        except TimeoutError:
            raise Closing(p.IDLE, "TIMEOUT", f"no start message within {self.cfg.start_timeout:g} s") from None
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            raise ConnectionResetError
        if msg.type != WSMsgType.TEXT:
            raise Closing(p.UNSUPPORTED, "BAD_MESSAGE", "the first message must be the JSON start message, "
                          "not audio: send {\"type\": \"start\", \"sample_rate\": 16000, ...} first")
        try:
            return p.parse_start(p.parse_control(msg.data))
        except p.ProtocolError as exc:
            raise Closing(p.POLICY, "BAD_START", str(exc)) from None

    async def _read(self, mono: MonoMixer) -> None:
        """Client messages until stop: audio (mixed down to mono) into the bounded queue, waiting at most
        buffer_timeout for room."""
        while True:
            try:
                msg = await self.ws.receive(timeout=self.cfg.idle_timeout)
            except TimeoutError:
                raise Closing(p.IDLE, "TIMEOUT", f"no message for {self.cfg.idle_timeout:g} s: send audio or "
                              "{\"type\": \"stop\"}") from None
            if msg.type == WSMsgType.BINARY:
                try:
                    await asyncio.wait_for(self.audio.put(mono(msg.data)), self.cfg.buffer_timeout)
                except TimeoutError:
                    raise Closing(p.OVERLOADED, "BUFFER_FULL", f"{self.cfg.audio_buffer_frames} audio frames waited "
                                  f"for Riva over {self.cfg.buffer_timeout:g} s: send audio at real time") from None
                self.metrics.audio_bytes.inc(len(msg.data))
            elif msg.type == WSMsgType.TEXT:
                try:
                    kind = p.parse_control(msg.data)["type"]
                except p.ProtocolError as exc:
                    raise Closing(p.UNSUPPORTED, "BAD_MESSAGE", str(exc)) from None
                if kind != "stop":
                    raise Closing(p.POLICY, "BAD_MESSAGE", f"unexpected {kind!r} message during a stream: send "
                                  "audio as binary frames, then {\"type\": \"stop\"}")
                self.stopped_at = time.perf_counter()
                await self.audio.put(END)
                return
            elif msg.type == WSMsgType.ERROR and "too big" in str(self.ws.exception()).lower():
                raise Closing(p.TOO_BIG, "TOO_BIG", f"a message was over {self.cfg.max_frame_bytes} bytes")
            else:  # the client closed or vanished: stop Riva too
                raise ConnectionResetError

    async def _riva(self, start: p.Start) -> None:
        try:
            async for resp in recognize(self.pool, start, self.audio, self.cfg.max_stream_seconds,
                                        self.cfg.riva_timeout, self.cfg.riva_retries, self.cfg.retry_backoff,
                                        self.metrics.riva_retries.inc,
                                        self.cfg.audio_buffer_frames * self.cfg.max_frame_bytes):
                received = time.perf_counter()
                for r in resp.results:
                    alt = r.alternatives[0].transcript if r.alternatives else ""
                    self.seq += 1
                    kind = "final" if r.is_final else "partial"
                    await self._put_event((p.event(kind, self.seq, alt, r.is_final, r.stability, r.audio_processed),
                                           kind, received))
        except RivaStreamError as exc:
            self.metrics.riva_errors.labels(exc.code).inc()
            raise Closing(p.RIVA_ERROR, exc.code, f"Riva: {exc.message}") from None

    async def _put_event(self, item) -> None:
        try:
            await asyncio.wait_for(self.events.put(item), self.cfg.buffer_timeout)
        except TimeoutError:
            raise Closing(p.SLOW_CLIENT, "SLOW_CLIENT", f"{self.cfg.event_buffer} events waited over "
                          f"{self.cfg.buffer_timeout:g} s for the client to read them") from None

    async def _send(self) -> None:
        while (item := await self.events.get()) is not None:
            text, kind, received = item
            await self.ws.send_str(text)
            now = time.perf_counter()
            self.metrics.forward_seconds.observe(now - received)
            self.metrics.events.labels(kind).inc()
            if self.first_event:
                self.first_event = False
                self.metrics.first_event_seconds.observe(now - self.started)
            if kind == "final" and self.stopped_at is not None:
                self.last_final = now
        if self.stopped_at is not None and self.last_final is not None:
            self.metrics.final_after_stop_seconds.observe(self.last_final - self.stopped_at)

    async def _fail(self, exc: Closing, tasks: list[asyncio.Task]) -> None:
        """Send the error event (if the client still reads), then close with the code."""
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.close_code = exc.code
        log.info("stream of %s closed %d: %s", self.key_id, exc.code, exc.message)
        if self.ws.closed:
            return
        self.seq += 1
        text = p.event("error", self.seq, code=exc.error, message=exc.message)
        try:
            await asyncio.wait_for(self.ws.send_str(text), 1.0)
        except Exception:  # noqa: BLE001
            if self.transport is not None:
                self.transport.abort()
            return
        await self._close(exc.code, exc.error)
