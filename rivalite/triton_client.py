"""riva-lite's client of Triton's gRPC inference API: discovery of the ASR models, readiness, inference.

Models are the Triton ensembles whose config has `language_code` and `type` (online/offline) parameters.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import grpc
import numpy as np


class RequestError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message



@dataclass(frozen=True)
class AsrModel:
    name: str
    language_code: str
    type: str  # "online" or "offline"
    parameters: dict
    chunk_s: float


class Triton:
    """Triton's gRPC inference API: model discovery, readiness and inference (one shared client)."""

    def __init__(self, url: str, timeout_s: float = 300.0):
        self.url, self.timeout_s = url, timeout_s
        self._client = None
        self._lock = threading.Lock()
        self._ready_at = (0.0, False)

    @property
    def client(self):
        with self._lock:  # tritonclient's gRPC client is thread-safe for everything but streams
            if self._client is None:
                import tritonclient.grpc as tgrpc

                self._client = tgrpc.InferenceServerClient(self.url)
            return self._client

    def ready(self) -> bool:
        at, value = self._ready_at
        if time.monotonic() - at > 0.5:
            try:
                value = bool(self.client.is_server_ready(client_timeout=2))
            except Exception:
                value = False
            self._ready_at = (time.monotonic(), value)
        return value

    def discover(self) -> dict[str, AsrModel]:
        models = {}
        index = self.client.get_model_repository_index(as_json=True, client_timeout=10)
        for entry in index.get("models", []):
            if entry.get("state") != "READY":
                continue
            config = self.client.get_model_config(entry["name"], as_json=True, client_timeout=10)["config"]
            params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
            if params.get("type") in ("online", "offline") and params.get("language_code"):
                models[entry["name"]] = AsrModel(
                    entry["name"],
                    params["language_code"],
                    params["type"],
                    params,
                    float(params.get("chunk_size") or 0.8),
                )
        return models

    def infer(self, model: str, samples: np.ndarray, rate: int, options: dict) -> dict:
        import tritonclient.grpc as tgrpc
        from tritonclient.utils import InferenceServerException

        inputs = [
            tgrpc.InferInput("AUDIO_SIGNAL", [len(samples)], "FP32"),
            tgrpc.InferInput("SAMPLE_RATE", [1], "INT32"),
            tgrpc.InferInput("OPTIONS", [1], "BYTES"),
        ]
        inputs[0].set_data_from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
        inputs[1].set_data_from_numpy(np.array([rate], dtype=np.int32))
        inputs[2].set_data_from_numpy(np.array([json.dumps(options).encode()], dtype=np.object_))
        try:
            result = self.client.infer(model, inputs, client_timeout=self.timeout_s)
        except InferenceServerException as e:
            if "unavailable" in str(e.status() or "").lower() or "failed to connect" in str(e).lower():
                raise RequestError(
                    grpc.StatusCode.UNAVAILABLE, f"Error: Triton is unavailable at {self.url}: {e.message()}"
                ) from None
            raise RequestError(
                grpc.StatusCode.INTERNAL, f"Error: inference failed in {model}: {e.message()}"
            ) from None
        return json.loads(result.as_numpy("TRANSCRIPT").reshape(-1)[0])
