"""riva-lite's API key check: `authorization: Bearer <key>` (or `x-api-key: <key>`) in request metadata."""

from __future__ import annotations

import hmac

import grpc


class ApiKey(grpc.ServerInterceptor):
    """Requires the API key in metadata for every method but grpc.health.v1.Health."""

    def __init__(self, key: str):
        self.key = key.encode()

    def _ok(self, metadata) -> bool:
        for k, v in metadata or ():
            v = v.encode() if isinstance(v, str) else v
            if k == "authorization" and v[:7].lower() == b"bearer ":
                v = v[7:].strip()
            elif k != "x-api-key":
                continue
            if hmac.compare_digest(v, self.key):
                return True
        return False

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or details.method.startswith("/grpc.health.v1.Health/"):
            return handler
        if self._ok(details.invocation_metadata):
            return handler

        def deny(request, context):
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "Error: missing or invalid API key: send metadata 'authorization: Bearer <key>'",
            )

        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(deny)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(deny)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(deny)
        return grpc.unary_unary_rpc_method_handler(deny)
