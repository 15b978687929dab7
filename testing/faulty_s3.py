"""An HTTP proxy in front of an S3 API server that breaks on purpose: the first `fail` requests get HTTP 500
(S3's InternalError), and the first download of an object under `stall_prefix` stops for `stall_s` seconds
halfway through its body. `with FaultyS3(upstream_url, fail=3) as proxy: proxy.url`; `proxy.count` says what
it did."""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

INTERNAL_ERROR = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We '
                  b"encountered an internal error. Please try again.</Message></Error>")
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade",
       "expect"}  # the proxy has the whole body: it answers 100-continue itself and sends the body at once


class FaultyS3:
    def __init__(self, upstream: str, fail: int = 0, stall_prefix: str | None = None, stall_s: float = 0.0):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.fail, self.stall_prefix, self.stall_s = fail, stall_prefix, stall_s
        self.count = {"requests": 0, "failed": 0, "stalled": 0}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _decide(self, method: str, path: str) -> str:
        with self.lock:
            self.count["requests"] += 1
            if self.count["failed"] < self.fail:
                self.count["failed"] += 1
                return "fail"
            if (method == "GET" and self.stall_prefix and self.stall_prefix in path
                    and not self.count["stalled"]):
                self.count["stalled"] += 1
                return "stall"
        return "pass"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                        out += self.rfile.read(size)
                        self.rfile.readline()
                    self.rfile.readline()
                    return out
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _relay(self) -> None:
                body = self._body()
                what = proxy._decide(self.command, self.path)
                if what == "fail":
                    self.send_response(500)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(INTERNAL_ERROR)))
                    self.end_headers()
                    if self.command != "HEAD":  # a HEAD answer has no body: one sent stays on the connection
                        self.wfile.write(INTERNAL_ERROR)  # and garbles the next answer read from it
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                self.send_response(resp.status)
                head = self.command == "HEAD"  # its Content-Length is the object's: passed on as it is
                for k, v in resp.getheaders():
                    if k.lower() not in HOP and (head or k.lower() != "content-length"):
                        self.send_header(k, v)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if what == "stall" and self.command != "HEAD":
                    half = len(data) // 2
                    self.wfile.write(data[:half])
                    self.wfile.flush()
                    time.sleep(proxy.stall_s)
                    data = data[half:]
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        return Handler

    def __enter__(self) -> FaultyS3:
        threading.Thread(target=self.server.serve_forever, daemon=True, name="faulty-s3").start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
