"""riva-lite's grpc.health.v1.Health servicer: SERVING while Triton is ready."""

from __future__ import annotations

import time

import grpc
from riva.client.proto import health_pb2, health_pb2_grpc

from rivalite.triton_client import Triton

SERVING, NOT_SERVING = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING


class Health(health_pb2_grpc.HealthServicer):
    def __init__(self, triton: Triton, services: set[str]):
        self.triton, self.services = triton, services

    def _status(self, service: str, context):
        if service not in self.services:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {service!r}")
        return SERVING if self.triton.ready() else NOT_SERVING

    def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=self._status(request.service, context))

    def Watch(self, request, context):
        last = None
        while context.is_active():
            status = self._status(request.service, context)
            if status != last:
                last = status
                yield health_pb2.HealthCheckResponse(status=status)
            time.sleep(1)
