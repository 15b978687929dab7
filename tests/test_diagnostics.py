"""Failure signatures and redaction."""

from __future__ import annotations

import os

from rivaverify.diagnostics import LogCursor, LogVerdict, diagnose, log_verdict, redact_mapping, redact_text
from tests.conftest import ROOT

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


# The operators' signatures (docs/riva-behaviour.md has each one's source), each on a line as logged.
OPERATOR_LINES = {
    "[TensorRT] ERROR: INVALID_CONFIG: The engine plan file is generated on an incompatible device, expecting "
    "compute 6.1 got compute 7.5, please rebuild.": "engine-other-gpu",  # NVIDIA/TensorRT#564
    "E0101 00:00:00.000000 1 logging.cc:43] Invalid TensorRT engine": "engine-other-gpu",
    "Triton server died before reaching ready state. Terminating Riva startup.": "triton-died-before-ready",
    "E0530 23:11:46.299486 1 logging.cc:43] The engine plan file is not compatible with this version of TensorRT, "
    "expecting library version 5.1.2 got 5.1.5, please rebuild.": "engine-other-tensorrt",  # triton server#317
    "W0101 00:00:00.000000 1 logging.cc:46] Using an engine plan file across different models of devices is not "
    "recommended and is likely to affect performance or even cause errors.": "engine-other-device",
    "E0324 18:14:04.005023 19 model_repository_manager.cc:481] Invalid argument: ensemble "
    "'conformer-en-US-asr-streaming' depends on 'riva-trt-conformer-en-US-asr-streaming-am-streaming' which has "
    "no loaded version": "ensemble-dependency",
    "W1202 05:51:07.297554 20668 pinned_memory_manager.cc:273] \"Unable to allocate pinned system memory, pinned "
    "memory pool will not be available: CUDA driver version is insufficient for CUDA runtime version\"":
        "cuda-driver-too-old",
    "E0324 18:14:03.967139 19 model_lifecycle.cc:596] failed to load 'spectrogram_chunker-English-US' version 1: "
    "Invalid argument: instance group spectrogram_chunker-English-US_0 of model spectrogram_chunker-English-US has "
    "kind KIND_GPU but no GPUs are available": "kind-gpu-no-gpu",
    "instance group asr_0 of model asr has kind KIND_GPU but server does not support GPUs": "kind-gpu-no-gpu",
    "Error: Triton model failed during inference. Error message: inference request for sequence 7 to model "
    "'riva-trt-parakeet-am-streaming' must specify the START flag on the first request of the sequence":
        "sequence-idle",
    "OSError: [Errno 24] Too many open files": "too-many-open-files",
    "E0101 grpc_riva_asr.cc:264] Error: config format doesn't match with header format": "audio-encoding-mismatch",
    "Error: could not detect encoding from audio content": "audio-encoding-mismatch",
    "E0101 00:00:00.000000 1 ctc_decoder.cc:90] Frames expected 51 got 101": "frames-mismatch",
    "nim_sdk.NIMProfileIDNotFound: Could not match a profile in manifest": "nim-profile-not-found",
    "ERROR: Authentication Error": "ngc-auth",
    "Error: Triton model failed during inference. Error message: Internal: CUDA error": "inference-failed",
    "E0101 model_lifecycle.cc:596] failed to load model 'asr': BACKEND_FAILED": "critical-log-line",
    "TRITONBACKEND_ModelInstanceExecute: CUDA_ERROR_ILLEGAL_ADDRESS": "critical-log-line",
    "cublas call failed: CUBLAS_STATUS_EXECUTION_FAILED": "critical-log-line",
    "UNAVAILABLE: all backends failed": "critical-log-line",
}


def test_each_operator_signature_is_named_on_its_line():
    for line, name in OPERATOR_LINES.items():
        assert name in [d.signature for d in diagnose(line)], line


def test_the_ensemble_step_names_the_model_that_failed_not_the_ensemble():
    line = next(k for k, v in OPERATOR_LINES.items() if v == "ensemble-dependency")
    (d,) = [d for d in diagnose(line) if d.signature == "ensemble-dependency"]
    assert d.next_step.startswith("the model riva-trt-conformer-en-US-asr-streaming-am-streaming did not load")
    assert "fix riva-trt-conformer-en-US-asr-streaming-am-streaming, not the ensemble" in d.next_step


def test_in_a_log_warnings_and_request_errors_do_not_fail():
    log = "\n".join(OPERATOR_LINES)
    verdict = log_verdict(log, gpu_expected=True)
    assert {d.signature for d in verdict.warnings} == {"engine-other-device", "sequence-idle", "inference-failed"}
    assert "audio-encoding-mismatch" not in {d.signature for d in verdict.failures + verdict.warnings}
    assert {"engine-other-gpu", "cuda-driver-too-old", "critical-log-line"} <= {d.signature for d in verdict.failures}


def test_cuda_lines_fail_only_where_a_gpu_is_expected():
    line = "E0101 00:00:00 1 ensemble_scheduler.cc:1468] \"unable to create stream for riva-punctuation-en-US: " \
           "CUDA driver version is insufficient for CUDA runtime version\"\nno CUDA-capable device is detected"
    assert log_verdict(line, gpu_expected=False) == LogVerdict([], [])
    assert {d.signature for d in log_verdict(line, gpu_expected=True).failures} == {"cuda-driver-too-old", "no-gpu"}


# riva-lite's log as it starts on a CPU and serves phase 060's bad input (captured from a passing run).
RIVA_LITE_LOG = """\
riva-lite: starting /work/main/.rivaverify/shim/bin/tritonserver
[SHIM] Injected --model-repository=/work/main/.rivaverify/deploy/6634a00deb611321/models
  > Riva waiting for Triton server to load all models...retrying in 1 second
W1202 05:51:07.297554 20668 pinned_memory_manager.cc:273] "Unable to allocate pinned system memory, pinned memory \
pool will not be available: CUDA driver version is insufficient for CUDA runtime version"
I1202 05:51:07.297653 20668 cuda_memory_manager.cc:117] "CUDA memory pool disabled"
E1202 05:51:07.297749 20668 server.cc:241] "CudaDriverHelper has not been initialized."
I1202 05:51:07.312168 20668 python_be.cc:2249] "TRITONBACKEND_ModelInstanceInitialize: \
whisper-tiny-en-US-asr-offline-asr-bls-ensemble_0_0 (CPU device 0)"
W1202 05:51:08.477105 20668 pinned_memory_manager.cc:170] "failed to allocate pinned system memory: no pinned memory \
pool, falling back to non-pinned system memory"
I1202 05:51:08.481018 20668 model_lifecycle.cc:839] "successfully loaded \
'whisper-tiny-en-US-asr-offline-asr-bls-ensemble'"
E1202 05:51:10.616186 20668 ensemble_scheduler.cc:1468] "unable to create stream for riva-punctuation-en-US: CUDA \
driver version is insufficient for CUDA runtime version"
| server_extensions | classification sequence model_repository cuda_shared_memory binary_tensor_data statistics trace |
E1202 05:52:40.687191 20958 grpc_riva_asr.cc:264] Error: audio declared FLAC does not start with a fLaC header: send \
the whole file, or set the encoding the audio really has
E1202 05:52:41.108350 20983 grpc_riva_asr.cc:264] Error: Unavailable model requested given these parameters: \
language_code=en-US; sample_rate=0; type=offline;
"""

# A healthy Riva 2.14 server's log (dusty-nv/jetson-containers#366) and start-riva's lines (RIVA-FACTS).
RIVA_LOG = """\
  > Riva waiting for Triton server to load all models...retrying in 1 second
  > Triton server is ready...
W0120 04:41:02.847985    22 stats_reporter.cc:41] No API key provided. Stats reporting disabled.
I0120 04:42:37.066561   210 grpc_riva_asr.cc:1592] ASRService.StreamingRecognize called.
I0120 04:42:37.068055   210 grpc_riva_asr.cc:1807] Using model conformer-en-US-asr-streaming from Triton localhost:8001
I0120 04:44:16.068457   210 riva_asr_stream.cc:226] Detected format: encoding = 1 RAW numchannels = 1 samplerate = \
48000 bitspersample = 16
I0120 04:44:16.070070   506 grpc_riva_asr.cc:1340] Creating resampler, audio file sample rate=48000 model \
sample_rate=16000
I0120 04:45:45.635736   210 grpc_riva_asr.cc:1923] ASRService.StreamingRecognize returning OK
I0120 04:45:45.637089   210 stats_builder.h:100] {"specversion":"1.0","type":"riva.asr.streamingrecognize.v1",\
"data":{"release_version":"2.14.0","request_count":1,"status":0,"err_msg":""}}
"""


def test_healthy_logs_match_nothing_critical():
    assert log_verdict(RIVA_LITE_LOG, gpu_expected=False) == LogVerdict([], [])
    assert log_verdict(RIVA_LOG, gpu_expected=True) == LogVerdict([], [])
    assert diagnose(RIVA_LITE_LOG, log=True) == [] and diagnose(RIVA_LOG, log=True, gpu=True) == []


def test_log_cursor_reads_what_each_log_gained_and_skips_an_earlier_runs_log(tmp_path):
    old = tmp_path / "riva-local.log"
    old.write_text("failed to load model 'x' (an earlier run)\n")
    past = old.stat().st_mtime_ns - 10**9
    os.utime(old, ns=(past, past))
    cursor = LogCursor(tmp_path)
    assert cursor.read_new() == {}
    old.write_text("line 1\npart")  # rewritten by this run's deployment; a partial line waits
    assert cursor.read_new() == {str(old): "line 1\n"}
    with open(old, "a") as f:
        f.write("ial\n")
    (tmp_path / "gateway.log").write_text("g\n")
    assert cursor.read_new() == {str(old): "partial\n", str(tmp_path / "gateway.log"): "g\n"}
    assert cursor.read_new() == {}
    old.write_text("new\n")  # truncated: another deployment
    assert cursor.read_new() == {str(old): "new\n"}



def test_nim_next_steps_name_the_suites_setting_and_the_containers_variable():
    """The suite reads RIVA__NIM_TAGS_SELECTOR and RIVA__NGC_API_KEY and passes NIM_TAGS_SELECTOR and
    NGC_API_KEY to the NIM: a next step names both, and how to list the profiles; so does docs/signatures.md."""
    profile = diagnose("nim_sdk.NIMProfileIDNotFound: Could not match a profile in manifest")[0].next_step
    auth = diagnose("ERROR: Authentication Error")[0].next_step
    rows = {line.split("|")[1].strip(): line for line in (ROOT / "docs" / "signatures.md").read_text().splitlines()
            if line.startswith("| ")}
    for text in (profile, rows["nim-profile-not-found"]):
        assert "RIVA__NIM_TAGS_SELECTOR" in text and "-e NIM_TAGS_SELECTOR" in text, text
        assert "list-model-profiles" in text, text
    for text in (auth, rows["ngc-auth"]):
        assert "RIVA__NGC_API_KEY" in text and "-e NGC_API_KEY" in text, text


def test_docs_signatures_is_generated_from_the_catalogue_and_exact():
    from rivaverify.diagnostics.render import signatures_markdown

    assert (ROOT / "docs" / "signatures.md").read_text() == signatures_markdown(), (
        "docs/signatures.md differs from the catalogue: run `rivaverify signatures > docs/signatures.md`")


def test_an_image_refused_by_nvcr_is_not_read_as_a_model_download_refused():
    """nvcr.io's 403 on the image (kubelet, NVIDIA/nvcf#40) names the image's fix only; NGC refusing a model download
    (no image line) is still ngc-auth, in a phase's log gate as in `diagnose`."""
    line = "to https://nvcr.io/proxy_auth?scope=repository%3Anvidia%2Fnvcf%2Fnvcf-openbao%3Apull: 403 Forbidden"
    assert [d.signature for d in diagnose(line, log=True)] == ["image-pull-refused"]
    assert [d.signature for d in diagnose("model manifest download returns Authentication Error", log=True)] == [
        "ngc-auth"]
