"""What kind of log a file is, and the milestones of a start it shows, by lowercase literals a line holds."""

from __future__ import annotations

import re

# kind -> (what it is, literals its lines hold)
KINDS: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "host": ("the host's riva_start.sh / riva_init.sh output", (
        b"waiting for riva server to load all models", b"riva server is ready", b"health ready check failed",
        b"starting riva speech services", b"riva initialization complete", b"logging into ngc docker registry",
        b"pulling required docker images", b"use this container terminal to run applications")),
    "riva-speech": ("a riva-speech container or a Triton server (start-riva, tritonserver, riva_server)", (
        b"riva_server.cc", b"grpc_riva_asr.cc", b"/opt/riva/bin/start-riva", b"triton server is ready",
        b"model_lifecycle.cc", b"grpc_server.cc", b"model_repository_manager", b"tritonbackend_", b".cc:")),
    "nim": ("a Riva ASR / Speech NIM container", (
        b"info:inference:", b"http_api.py", b"nim_sdk", b"nimprofileidnotfound", b"riva_http_server",
        b"info:uvicorn", b"matched profile_id", b"riva grpc server is ready")),
    "client": ("a client's output (NVIDIA's python-clients, riva_asr_client; boto3's, as the suite stages)", (
        b"grpc._channel", b"_inactiverpcerror", b"rpc failed:", b"riva_asr_client", b"statuscode.",
        b"riva_streaming_asr_client", b"transcribe_file", b"botocore.exceptions", b") when calling the ")),
    "docker": ("a container engine's answer (Docker, Podman, the kubelet) or the NVIDIA Container Toolkit's", (
        b"error response from daemon", b"nvidia-container-cli", b"initializing source docker://",
        b"failed to pull image", b"errimagepull")),
    "triton-table": ("a Triton model status table", (b"| ready", b"| unavailable")),
}

# milestone -> (what it means, literals); in the order a start reaches them
MILESTONES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "triton-services": ("Triton's gRPC/HTTP/metrics services started", (
        b"started grpcinferenceservice", b"started httpservice", b"started metrics service")),
    "model-table": ("Triton printed its model table", (b"| model ",)),
    "triton-ready": ("start-riva saw Triton ready", (b"triton server is ready",)),
    "riva-listening": ("the Riva server listens", (b"riva conversational ai server listening on",)),
    "riva-ready": ("riva_start.sh: the Riva server is ready", (b"riva server is ready",)),
    "nim-grpc-ready": ("the NIM's gRPC server is READY", (b"riva grpc server is ready",)),
    "http-serving": ("the NIM's HTTP server serves", (
        b"starting http inference server", b"uvicorn running on", b"application is ready to receive api requests")),
}

# A row of Triton's model table: | name | version | READY or UNAVAILABLE: reason |
MODEL_ROW = re.compile(r"^\|\s*(?P<name>[^|\s][^|]*?)\s*\|\s*(?P<version>\d+)\s*\|\s*(?P<status>READY|UNAVAILABLE)"
                       r":?\s*(?P<reason>[^|]*?)\s*\|?\s*$")
RIVA_LITE = b"riva-lite"  # a riva-lite log: a CPU deployment, no GPU expected
