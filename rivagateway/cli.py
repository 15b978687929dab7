"""`rivagateway`: serve until SIGTERM or Ctrl-C; SIGHUP reloads the key file."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import sys

from rivagateway.config import Config, parse_args

log = logging.getLogger("rivagateway")
READY = "rivagateway listening on"


async def serve(cfg: Config) -> None:
    from aiohttp import web

    from rivagateway.app import KEYS, STREAM_PATH, AccessLogger, make_app, reload_keys

    app = make_app(cfg)
    runner = web.AppRunner(app, access_log_class=AccessLogger,
                           access_log=logging.getLogger("rivagateway.access") if cfg.access_log else None,
                           handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    tls = None
    if cfg.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    host, port = cfg.host_port()
    site = web.TCPSite(runner, host, port, ssl_context=tls, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1] if port == 0 else port
    scheme = "wss" if tls else "ws"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, reload_keys, app, log)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    auth = "no auth" if cfg.no_auth else f"{len(app[KEYS])} keys"
    log.info("%s %s://%s:%d%s (Riva %s, %s)", READY, scheme, host, bound, STREAM_PATH, cfg.riva, auth)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    cfg = parse_args(argv)
    try:
        import aiohttp  # noqa: F401
        import prometheus_client  # noqa: F401
    except ModuleNotFoundError as exc:
        print(f"rivagateway: {exc.name} is missing: pip install 'riva-verify[gateway]' (or -e '.[gateway]')",
              file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(cfg))
    except ValueError as exc:  # a key file that cannot be used (KeyFileError)
        print(f"rivagateway: {exc}", file=sys.stderr)
        return 2
    except ssl.SSLError as exc:
        print(f"rivagateway: cannot use --tls-cert {cfg.tls_cert} with --tls-key {cfg.tls_key}: {exc.reason or exc}; "
              "give a PEM certificate and its PEM key", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"rivagateway: cannot listen on {cfg.listen}: {exc.strerror}; pick another --listen", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
