"""Failure signatures and redaction."""

from __future__ import annotations

from rivaverify.diagnostics import diagnose, redact_mapping, redact_text

TRITON_LOG = """I1123 04:23:43.571826 2737 server.cc:302] "No server context available. Exiting immediately."
error: creating server: Invalid argument - --model-repository must be specified
One of the processes has exited unexpectedly. Stopping container.
"""


def test_missing_model_repository_points_at_the_shim():
    found = diagnose(TRITON_LOG)
    assert [d.signature for d in found] == ["no-model-repository", "process-exited"]
    assert "shim is not first on PATH" in found[0].next_step
    assert found[0].line == "error: creating server: Invalid argument - --model-repository must be specified"


def test_other_signatures():
    cases = {
        "E1123 model_lifecycle.cc:642] failed to load 'asr' version 1: Internal": "model-load-failed",
        "Error: Unavailable model requested. Lang: de-DE, Type: offline": "unavailable-model",
        "E0000 failed to start GRPC service: Address already in use": "port-in-use",
        "CUDA failure 2: out of memory": "out-of-memory",
        "ModuleNotFoundError: No module named 'numpy'": "python-backend-import",
    }
    for line, name in cases.items():
        assert name in [d.signature for d in diagnose(line)], line
    healthy = ("  > Triton server is ready...\n"
               "I1123 04:23:45.100000   123 riva_server.cc:307] Riva Conversational AI Server listening on "
               "0.0.0.0:50051\n"
               "W1123 04:23:45.100100   123 stats_reporter.cc:41] No API key provided. Stats reporting disabled.")
    assert diagnose(healthy, log=True) == []


def test_redact_text_masks_values_not_names():
    text = "API_KEY=abc123 password: hunter2 Authorization: Bearer tok.en-1 model=parakeet known-secret-42"
    out = redact_text(text, secrets=["known-secret-42"])
    for secret in ("abc123", "hunter2", "tok.en-1", "known-secret-42"):
        assert secret not in out
    assert "API_KEY=***" in out and "model=parakeet" in out


def test_redact_mapping_masks_secret_names_nested():
    out = redact_mapping({"AWS_SECRET_ACCESS_KEY": "x", "PATH": "/bin", "nested": {"token": "y", "n": 1}})
    assert out == {"AWS_SECRET_ACCESS_KEY": "***", "PATH": "/bin", "nested": {"token": "***", "n": 1}}


def test_request_errors_count_in_failures_not_in_server_logs():
    line = "riva-lite INFO INVALID_ARGUMENT: Error: Unavailable model requested. Lang: xx-XX, Type: offline"
    assert [d.signature for d in diagnose(line)] == ["unavailable-model"]
    assert diagnose(line, log=True) == []
