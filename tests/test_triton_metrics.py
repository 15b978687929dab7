# ruff: noqa: E501  (the captured metrics lines are as Triton printed them)
"""Triton's metrics: the parser, deltas, figures and warnings on text captured from riva-lite's CPU tritonserver
(curl of its metrics port before and after one Recognize), a real scrape over HTTP, and a scrape that fails."""

from __future__ import annotations

import http.server
import threading

from plugins.triton_metrics import record
from rivaverify import triton_metrics as tm
from rivaverify.settings import Settings

ENSEMBLE = "whisper-tiny-en-US-asr-offline-asr-bls-ensemble"
AM = "riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline"

# Captured from riva-lite's tritonserver (trimmed to the offline models and the counters read here).
BEFORE = """\
# HELP nv_inference_request_success Number of successful inference requests, all batch sizes
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",version="1"} 0
nv_inference_request_success{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",version="1"} 0
# HELP nv_inference_request_failure Number of failed inference requests, all batch sizes
# TYPE nv_inference_request_failure counter
nv_inference_request_failure{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",reason="BACKEND",version="1"} 0
nv_inference_request_failure{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",reason="BACKEND",version="1"} 0
nv_inference_request_failure{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",reason="OTHER",version="1"} 0
nv_inference_request_failure{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",reason="OTHER",version="1"} 0
# HELP nv_inference_count Number of inferences performed (does not include cached requests)
# TYPE nv_inference_count counter
nv_inference_count{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",version="1"} 0
nv_inference_count{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",version="1"} 0
# HELP nv_inference_exec_count Number of model executions performed (does not include cached requests)
# TYPE nv_inference_exec_count counter
nv_inference_exec_count{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",version="1"} 0
nv_inference_exec_count{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",version="1"} 0
# HELP nv_inference_queue_duration_us Cumulative inference queuing duration in microseconds (includes cached requests)
# TYPE nv_inference_queue_duration_us counter
nv_inference_queue_duration_us{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",version="1"} 0
nv_inference_queue_duration_us{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",version="1"} 0
# HELP nv_inference_compute_infer_duration_us Cumulative compute inference duration in microseconds (does not include cached requests)
# TYPE nv_inference_compute_infer_duration_us counter
nv_inference_compute_infer_duration_us{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",version="1"} 0
nv_inference_compute_infer_duration_us{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",version="1"} 0
"""
AFTER = """\
# HELP nv_inference_request_success Number of successful inference requests, all batch sizes
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",version="1"} 1
nv_inference_request_success{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",version="1"} 1
# HELP nv_inference_request_failure Number of failed inference requests, all batch sizes
# TYPE nv_inference_request_failure counter
nv_inference_request_failure{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",reason="BACKEND",version="1"} 0
nv_inference_request_failure{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",reason="BACKEND",version="1"} 0
nv_inference_request_failure{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",reason="OTHER",version="1"} 0
nv_inference_request_failure{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",reason="OTHER",version="1"} 0
# HELP nv_inference_count Number of inferences performed (does not include cached requests)
# TYPE nv_inference_count counter
nv_inference_count{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",version="1"} 1
nv_inference_count{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",version="1"} 1
# HELP nv_inference_exec_count Number of model executions performed (does not include cached requests)
# TYPE nv_inference_exec_count counter
nv_inference_exec_count{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",version="1"} 1
nv_inference_exec_count{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",version="1"} 1
# HELP nv_inference_queue_duration_us Cumulative inference queuing duration in microseconds (includes cached requests)
# TYPE nv_inference_queue_duration_us counter
nv_inference_queue_duration_us{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",version="1"} 338
nv_inference_queue_duration_us{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",version="1"} 143
# HELP nv_inference_compute_infer_duration_us Cumulative compute inference duration in microseconds (does not include cached requests)
# TYPE nv_inference_compute_infer_duration_us counter
nv_inference_compute_infer_duration_us{model="whisper-tiny-en-US-asr-offline-asr-bls-ensemble",version="1"} 436176
nv_inference_compute_infer_duration_us{model="riva-trt-whisper-tiny-en-US-asr-offline-am-streaming-offline",version="1"} 413425
"""
# Triton's GPU gauges as its docs name them (docs/user_guide/metrics.md), served only where it sees a GPU.
GPU = """\
nv_gpu_utilization{gpu_uuid="GPU-1"} 0.25
nv_gpu_memory_used_bytes{gpu_uuid="GPU-1"} 2147483648
"""


def test_parse_sums_versions_and_failure_reasons():
    s = tm.parse(AFTER)
    assert s.models[ENSEMBLE] == {"success": 1, "failure": 0, "inferences": 1, "executions": 1,
                                  "queue_us": 338, "compute_us": 436176}
    assert set(s.models) == {ENSEMBLE, AM} and s.gpus == {}
    failed = tm.parse(AFTER.replace('reason="BACKEND",version="1"} 0', 'reason="BACKEND",version="1"} 2'))
    assert failed.models[ENSEMBLE]["failure"] == 2


def test_delta_and_figures_of_one_recognize():
    d = tm.delta(tm.parse(BEFORE), tm.parse(AFTER))
    assert not d.restarted and not d.since_start
    figs = tm.figures(d)
    assert figs["triton.success"] == {"value": 2, "unit": "requests", "per_model": {AM: 1, ENSEMBLE: 1}}
    assert figs["triton.failure"]["value"] == 0
    assert figs["triton.queue_us_per_request"]["per_model"] == {AM: 143.0, ENSEMBLE: 338.0}
    assert figs["triton.compute_us_per_request"]["value"] == round((436176 + 413425) / 2, 1)
    assert "triton.gpu_utilization" not in figs  # a CPU Triton serves no GPU gauges
    assert tm.warnings(d, "050", passed=True) == []


def test_gpu_gauges_when_served():
    figs = tm.figures(tm.delta(tm.parse(BEFORE), tm.parse(AFTER + GPU)))
    assert figs["triton.gpu_utilization"]["per_gpu"] == {"GPU-1": 0.25}
    assert figs["triton.gpu_memory_used_bytes"] == {"value": 2147483648, "unit": "bytes",
                                                    "per_gpu": {"GPU-1": 2147483648}}


def test_a_counter_that_goes_down_means_triton_restarted():
    d = tm.delta(tm.parse(AFTER), tm.parse(BEFORE))
    assert d.restarted == [f"{ENSEMBLE} success: 1 -> 0", f"{ENSEMBLE} inferences: 1 -> 0",
                           f"{ENSEMBLE} executions: 1 -> 0", f"{ENSEMBLE} queue_us: 338 -> 0",
                           f"{ENSEMBLE} compute_us: 436176 -> 0", f"{AM} success: 1 -> 0",
                           f"{AM} inferences: 1 -> 0", f"{AM} executions: 1 -> 0", f"{AM} queue_us: 143 -> 0",
                           f"{AM} compute_us: 413425 -> 0"]
    assert d.models[ENSEMBLE]["success"] == 0  # counted since the restart
    (warning,) = tm.warnings(d, "050", passed=True)
    assert warning.startswith("Triton restarted during the phase")


def test_failures_that_grew_warn_a_passing_phase_except_where_bad_input_is_sent():
    grown = AFTER.replace('reason="OTHER",version="1"} 0', 'reason="OTHER",version="1"} 3', 1)
    d = tm.delta(tm.parse(BEFORE), tm.parse(grown))
    (warning,) = tm.warnings(d, "050", passed=True)
    assert f"{ENSEMBLE} 3" in warning and "expected 0" in warning
    assert tm.warnings(d, "060", passed=True) == []  # 060 sends bad input on purpose
    assert tm.warnings(d, "050", passed=False) == []  # a failed phase has its own failure


def test_no_scrape_before_counts_since_triton_started():
    d = tm.delta(tm.Scrape("u", error="ConnectionRefusedError"), tm.parse(AFTER))
    assert d.since_start and d.models[AM]["success"] == 1
    assert tm.figures(d)["triton.success"]["since"].startswith("Triton started")


def test_scrape_over_http_and_a_scrape_that_fails():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(AFTER.encode())

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        got = tm.scrape(url, timeout=5)
        assert not got.error and got.models[AM]["success"] == 1
    finally:
        server.shutdown()
        server.server_close()
    failed = tm.scrape(url, timeout=2)
    assert failed.error and failed.models == {}
    facts = record(failed, failed, "050", True)
    assert facts == [("riva.fact", "triton_metrics", {"url": url, "before": failed.error, "after": failed.error})]


def test_record_gives_figures_and_warnings():
    grown = AFTER.replace('reason="OTHER",version="1"} 0', 'reason="OTHER",version="1"} 1', 1)
    got = record(tm.parse(BEFORE, "u"), tm.parse(grown, "u"), "070", True)
    kinds = [(kind, key) for kind, key, _ in got]
    assert kinds[0] == ("riva.fact", "triton_metrics") and ("riva.figure", "triton.success") in kinds
    assert kinds[-1] == ("riva.fact", "triton_metrics_warnings")


def test_metrics_url_uses_the_triton_host_of_the_target(monkeypatch):
    monkeypatch.setenv("RIVA__TRITON_METRICS_PORT", "8202")
    monkeypatch.setenv("RIVA__HOST", "riva.example:50051")
    assert tm.metrics_url(Settings(target="local")) == "http://127.0.0.1:8202/metrics"
    assert tm.metrics_url(Settings(target="endpoint")) == "http://riva.example:8202/metrics"
    monkeypatch.setenv("RIVA__IMAGE", "nvcr.io/nim/nvidia/parakeet-0-6b-ctc-en-us:1.3.0")
    assert tm.metrics_url(Settings(target="docker")) == "http://riva.example:9000/v1/metrics"  # NIM's
    monkeypatch.setenv("RIVA__METRICS_URL", "http://prom.example:9400/metrics")
    assert tm.metrics_url(Settings(target="docker")) == "http://prom.example:9400/metrics"


# NIM's /v1/metrics names for the GPU (docs.nvidia.com/nim/riva/asr/latest/observability.html); its labels are
# not documented there, so the gauge is keyed by whatever labels it has.
NIM_GPU = 'gpu_utilization{gpu="0"} 0.5\ngpu_memory_used_bytes{gpu="0"} 1073741824\n'


def test_nim_gpu_gauges_and_no_request_counters():
    s = tm.parse(NIM_GPU)
    assert s.models == {} and s.gpus == {"gpu=0": {"gpu_utilization": 0.5, "gpu_memory_used_bytes": 1073741824}}
    d = tm.delta(tm.parse(NIM_GPU), s)
    assert tm.most_successes(d) is None and tm.warnings(d, "050", passed=True) == []  # nothing counted: no verdict


def test_a_phase_that_sent_requests_but_triton_counted_none_warns():
    d = tm.delta(tm.parse(BEFORE), tm.parse(BEFORE))
    assert tm.most_successes(d) == 0
    (warning,) = tm.warnings(d, "050", passed=True)
    assert "counted no successful inference request" in warning and "RIVA__METRICS_URL" in warning
    assert tm.warnings(d, "030", passed=True) == []  # 030 sends no ASR request
    assert tm.most_successes(tm.delta(tm.parse(BEFORE), tm.parse(AFTER))) == 1


def test_counted_waits_for_a_count_that_lags_the_answer():
    """Triton counts a request after its response went out: the first scrape after the answers misses one, the
    next has it; a count that never comes ends at the deadline with what was counted."""
    pages = iter([BEFORE, BEFORE, AFTER])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(next(pages, AFTER).encode())

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slept = []
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        before = tm.scrape(url)
        after, d = tm.counted(url, before, 1, sleeper=slept.append)
        assert not after.error and tm.most_successes(d) == 1 and len(slept) == 1
        after, d = tm.counted(url, before, 2, timeout_s=0.3)
        assert tm.most_successes(d) == 1
    finally:
        server.shutdown()
        server.server_close()
