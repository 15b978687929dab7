"""riva-lite's client of Triton's gRPC inference API: discovery of the ASR models, readiness, inference.

ASR models are the models whose config has `language_code` and `type` (online/offline) parameters: the
`<name>-asr-bls-ensemble` BLS models of a Riva 2.17+ repository, the `<name>` ensembles of a Riva <= 2.16 one.
Their acoustic models are sequence batched (as Riva's), so every request carries a correlation ID.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from dataclasses import dataclass

import grpc
import numpy as np

DEFAULT_CHUNK_S = 0.16  # Parakeet streaming's server chunk, when a model does not say
DEFAULT_MAX_IDLE_S = 60.0  # Triton's sequence_batching.max_sequence_idle_microseconds in Riva's models


class RequestError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message



@dataclass(frozen=True)
class AsrModel:
    name: str
    language_code: str
    type: str  # "online" or "offline"
    parameters: dict  # what GetRivaSpeechRecognitionConfig lists
    chunk_s: float  # the server chunk: its `chunk_size` parameter
    max_idle_s: float = DEFAULT_MAX_IDLE_S  # its acoustic model's max_sequence_idle_microseconds


def _max_idle_s(config: dict) -> float | None:
    value = config.get("sequence_batching", {}).get("max_sequence_idle_microseconds")
    return float(value) / 1e6 if value not in (None, "", "0", 0) else None


def _acoustic_models(name: str, config: dict) -> list[str]:
    """Where a pipeline's acoustic model may be: its ensemble steps, else Riva's BLS naming."""
    steps = [s["model_name"] for s in config.get("ensemble_scheduling", {}).get("step", [])]
    base = name.removesuffix("-asr-bls-ensemble")
    return [*steps, f"riva-trt-{base}-am-streaming", f"riva-trt-{base}-am-streaming-offline"]


# one-call sequences: ids from a random 48-bit base, so two servicers sharing a Triton do not collide
_SEQUENCE_IDS = itertools.count(random.getrandbits(48) + 1)


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
        index = self.client.get_model_repository_index(as_json=True, client_timeout=10)
        configs = {
            entry["name"]: self.client.get_model_config(entry["name"], as_json=True, client_timeout=10)["config"]
            for entry in index.get("models", [])
            if entry.get("state") == "READY"
        }
        models = {}
        for name, config in configs.items():
            params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
            if params.get("type") in ("online", "offline") and params.get("language_code"):
                idle = [_max_idle_s(configs[m]) for m in _acoustic_models(name, config) if m in configs]
                idle = [s for s in idle if s] or [_max_idle_s(config) or DEFAULT_MAX_IDLE_S]
                models[name] = AsrModel(
                    name,
                    params["language_code"],
                    params["type"],
                    params,
                    float(params.get("chunk_size") or DEFAULT_CHUNK_S),
                    idle[0],
                )
        return models

    def infer(
        self,
        model: str,
        samples: np.ndarray,
        rate: int,
        options: dict,
        *,
        sequence_id: int | None = None,
        start: bool = True,
        end: bool = True,
    ) -> dict:
        """The acoustic model's JSON answer for `samples` (any rate) through the ASR model `model`.

        Each call is its own sequence (a fresh correlation ID, START and END) unless `sequence_id` is given:
        then `start`/`end` say where in that sequence the call is, and a sequence idle past the model's
        max_idle_s is refused by Triton ("must specify the START flag on the first request of the sequence").
        """
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
            if sequence_id is None:
                sequence_id, start, end = next(_SEQUENCE_IDS), True, True
            result = self.client.infer(model, inputs, client_timeout=self.timeout_s, sequence_id=sequence_id,
                                       sequence_start=start, sequence_end=end)
        except InferenceServerException as e:
            if "unavailable" in str(e.status() or "").lower() or "failed to connect" in str(e).lower():
                raise RequestError(
                    grpc.StatusCode.UNAVAILABLE, f"Error: Triton is unavailable at {self.url}: {e.message()}"
                ) from None
            raise RequestError(
                grpc.StatusCode.INTERNAL, f"Error: inference failed in {model}: {e.message()}"
            ) from None
        return json.loads(result.as_numpy("TRANSCRIPT").reshape(-1)[0])
