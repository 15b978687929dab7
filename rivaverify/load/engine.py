"""gRPC for locust's greenlets without gevent's thread pool: one native thread per process runs grpc.aio on its
own asyncio loop. A greenlet hands it a coroutine and sleeps until the result comes back; callbacks (a
response's request event) run on gevent's hub, in the locust process' main thread.

Why not grpc.experimental.gevent.init_gevent(): in that mode every gRPC completion crosses gevent's thread pool,
and a locust process drove about half the streams per core that a plain grpc.aio client drives
(benchmarks/bench_locust_capacity.py). Here the gRPC work is the plain client's; locust's part is the events.
"""

from __future__ import annotations

import asyncio
import collections
import os
import selectors
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import gevent
from gevent import monkey
from gevent.event import AsyncResult
from gevent.lock import BoundedSemaphore

T = TypeVar("T")

_start_thread = monkey.get_original("_thread", "start_new_thread")
_allocate_lock = monkey.get_original("_thread", "allocate_lock")


class _NativeThread:
    """What grpc.aio asks of threading.Thread for its poller, on an OS thread (locust patches threading)."""

    def __init__(self, target: Callable[[], Any], name: str = "", daemon: bool = True) -> None:
        self.name, self.daemon, self._target = name, daemon, target
        self._running = _allocate_lock()

    def start(self) -> None:
        self._running.acquire()
        _start_thread(self._run, ())

    def _run(self) -> None:
        try:
            self._target()
        finally:
            self._running.release()

    def is_alive(self) -> bool:
        if self._running.acquire(False):
            self._running.release()
            return False
        return True

    def join(self, timeout: float | None = None) -> None:
        if self._running.acquire(True, -1 if timeout is None else timeout):
            self._running.release()


def _selector() -> selectors.BaseSelector:
    """The kernel's own selector (gevent's monkey patching swaps in one that needs a hub)."""
    for name in ("EpollSelector", "PollSelector", "SelectSelector"):
        cls = monkey.get_original("selectors", name) if monkey.is_module_patched("selectors") else None
        if cls is None:
            cls = getattr(selectors, name, None)
        if cls is not None:
            return cls()
    raise RuntimeError("no selector")


class Engine:
    def __init__(self) -> None:
        self._hub_loop = gevent.get_hub().loop
        self._to_hub: collections.deque = collections.deque()
        self._hub_woken = False
        # While a greenlet waits on the engine, this keeps the hub from deciding it would wait forever
        self._waiting = 0
        self._awake = self._hub_loop.async_()
        self._awake.start(lambda: None)
        self._awake.ref = False
        self._ready = AsyncResult()
        _start_thread(self._main, ())
        self.loop: asyncio.AbstractEventLoop = self._wait(self._ready)

    def _main(self) -> None:
        try:
            loop = self._start_loop()
        except BaseException as exc:  # the waiting greenlet gets the error instead of waiting forever
            self.to_hub(self._ready.set_exception, exc)
            return
        self.to_hub(self._ready.set, loop)
        loop.run_forever()

    def _start_loop(self) -> asyncio.AbstractEventLoop:
        from grpc._cython import cygrpc

        # The loop's and gRPC's wake-up sockets are plain ones and gRPC's poller is an OS thread; the patched
        # ones are gevent's, for the hub's thread only.
        patched = threading.Thread, socket.socketpair
        threading.Thread, socket.socketpair = _NativeThread, monkey.get_original("socket", "socketpair")
        try:
            loop = asyncio.SelectorEventLoop(_selector())
            asyncio.set_event_loop(loop)
            cygrpc.init_grpc_aio()  # starts the poller and binds this loop; never shut down: once per process
        finally:
            threading.Thread, socket.socketpair = patched
        return loop

    def to_hub(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn(*args) on gevent's hub (from the engine's thread). Calls queue up; one wake-up of the hub runs
        all that are there (appended before the flag is read, so none is left behind)."""
        self._to_hub.append((fn, args))
        if not self._hub_woken:
            self._hub_woken = True
            self._hub_loop.run_callback_threadsafe(self._run_on_hub)

    def _run_on_hub(self) -> None:
        self._hub_woken = False
        while self._to_hub:
            fn, args = self._to_hub.popleft()
            fn(*args)

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Await make() on the engine's loop; the calling greenlet sleeps meanwhile. Killing the greenlet
        (locust stopping a user) cancels the coroutine."""
        result: AsyncResult = AsyncResult()
        task: list[asyncio.Task] = []

        def done(t: asyncio.Task) -> None:
            if t.cancelled():
                self.to_hub(result.set_exception, asyncio.CancelledError())
            elif t.exception() is not None:
                self.to_hub(result.set_exception, t.exception())
            else:
                self.to_hub(result.set, t.result())

        def start() -> None:
            t = self.loop.create_task(make())
            t.add_done_callback(done)
            task.append(t)

        self.loop.call_soon_threadsafe(start)
        try:
            return self._wait(result)
        except BaseException:
            self.loop.call_soon_threadsafe(lambda: task and task[0].cancel())
            raise

    def _wait(self, result: AsyncResult) -> Any:
        self._waiting += 1
        self._awake.ref = True
        try:
            return result.get()
        finally:
            self._waiting -= 1
            self._awake.ref = self._waiting > 0


_engines: dict[int, Engine] = {}
_starting = BoundedSemaphore()


def engine() -> Engine:
    """This process' engine, started on first use (after locust's --processes fork)."""
    with _starting:  # users start together: one engine for all of them
        if os.getpid() not in _engines:
            _engines[os.getpid()] = Engine()
        return _engines[os.getpid()]
