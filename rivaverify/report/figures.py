"""The key figures, named once: the key a suite records each under (suites import these names), its phase, its
label in the summary and the threshold it is held to. A key with {} is a family: the suite fills in the part (a
readiness stage, a clip, a number of streams). tests/test_figures.py fails when a key figure is recorded by no
suite, or under a name or in a phase this registry does not give it."""

from __future__ import annotations

from dataclasses import dataclass

RECOGNIZE_SECONDS = "recognize.seconds"
RECOGNIZE_WER = "recognize.wer"
STREAMING_FINAL_AFTER_LAST_CHUNK = "streaming.final_after_last_chunk"
STREAMING_WER = "streaming.wer"  # 050's one clip, 060's corpus
HTTP_SECONDS = "http.seconds"
HTTP_WER = "http.wer"
HTTP_GRPC_DISAGREEMENT = "http.grpc_disagreement"
CORPUS_WER = "corpus.wer"
REALTIME_WER = "realtime.{}"  # a clip's id
LATENCY_PARTIAL = "latency.partial"
LATENCY_FINAL = "latency.final"
OFFLINE_RTFX = "offline.rtfx"
STREAMING_RTFX = "streaming.rtfx"
CONCURRENT_PARTIAL = "concurrent{}.partial"  # the number of streams
CONCURRENT_FINAL = "concurrent{}.final"
CONCURRENT_RTFX = "concurrent{}.rtfx"
SERVER_RSS_MB = "server_rss_mb"
NIM_START = "nim.start_{}"  # cold or warm (the model cache)
READY_TOTAL = "ready_total"
READY = "ready.{}"  # a readiness stage, spaces as _
TRITON_FAILURE = "triton.failure"  # recorded for every phase by plugins/triton_metrics.py
TRITON_GPU_MEMORY = "triton.gpu_memory_used_bytes"


@dataclass(frozen=True)
class KeyFigure:
    phase: str  # "*": any phase
    key: str  # one of the names above
    label: str  # {star}: what {} stood for, {phase}: the phase
    bound: str | None = None  # the Thresholds field the figure is held to
    higher_is_better: bool = False
    percent: bool = False

    @property
    def pattern(self) -> str:
        """The key as an fnmatch pattern: {} becomes *."""
        return self.key.replace("{}", "*")


# The figures a person looks for first, in the order the summary lists them.
KEY_FIGURES = (
    KeyFigure("050", RECOGNIZE_SECONDS, "smoke: Recognize response", "max_response_s"),
    KeyFigure("050", STREAMING_FINAL_AFTER_LAST_CHUNK, "smoke: stream final after last chunk", "max_response_s"),
    KeyFigure("050", RECOGNIZE_WER, "smoke: Recognize WER", "max_wer", percent=True),
    KeyFigure("050", STREAMING_WER, "smoke: streaming WER", "max_wer", percent=True),
    # http.*, realtime.*, nim.start_*: flavor nim's (a NIM's HTTP API, realtime WebSocket, cold and warm starts)
    KeyFigure("050", HTTP_SECONDS, "smoke: HTTP transcription response", "max_response_s"),
    KeyFigure("050", HTTP_WER, "smoke: HTTP transcription WER", "max_wer", percent=True),
    KeyFigure("050", HTTP_GRPC_DISAGREEMENT, "smoke: HTTP and gRPC disagree (WER)", "max_wer", percent=True),
    KeyFigure("060", CORPUS_WER, "corpus WER", "max_wer", percent=True),
    KeyFigure("060", STREAMING_WER, "streaming WER", "max_wer", percent=True),
    KeyFigure("060", REALTIME_WER, "realtime WER, {star}", "max_wer", percent=True),
    KeyFigure("060", LATENCY_PARTIAL, "partial latency p95", "max_partial_p95_ms"),
    KeyFigure("060", LATENCY_FINAL, "final latency p95", "max_final_p95_ms"),
    KeyFigure("060", OFFLINE_RTFX, "offline RTFx", "min_rtfx", higher_is_better=True),
    KeyFigure("060", STREAMING_RTFX, "streaming RTFx", higher_is_better=True),
    KeyFigure("060", CONCURRENT_PARTIAL, "partial latency p95, {star} streams", "max_partial_p95_ms"),
    KeyFigure("060", CONCURRENT_FINAL, "final latency p95, {star} streams", "max_final_p95_ms"),
    KeyFigure("060", CONCURRENT_RTFX, "RTFx, {star} streams", higher_is_better=True),
    KeyFigure("060", SERVER_RSS_MB, "server memory (RSS)"),
    KeyFigure("040", NIM_START, "NIM start, {star} cache", "ready_timeout_s"),
    KeyFigure("040", READY_TOTAL, "ready: all stages", "ready_timeout_s"),
    KeyFigure("040", READY, "ready: {star}"),
    KeyFigure("*", TRITON_FAILURE, "Triton request failures in {phase}"),
    KeyFigure("*", TRITON_GPU_MEMORY, "GPU memory used in {phase}"),
)
