"""What riva-lite prints, line by line, against what a real Riva container prints (docs/riva-behaviour.md):
start-riva's lines, riva_server's glog lines at start and per request, and riva-lite's own lines (prefixed)."""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import threading
from pathlib import Path

import grpc
import pytest

from rivalite import glog
from rivalite.launcher import EXITED, READY, TRITON_READY, WAITING
from rivaverify import procfs
from rivaverify.readiness import wait_until
from testing.local_riva import LocalRiva

riva_client = pytest.importorskip("riva.client")

SAMPLE = Path(__file__).resolve().parents[1] / "audio" / "en-US_sample.wav"
# glog: severity, MMDD, HH:MM:SS.micros, thread id right-aligned in 5 columns, file:line], text
GLOG = re.compile(r"^(?P<sev>[IWEF])(?P<mmdd>\d{4}) \d\d:\d\d:\d\d\.\d{6} (?P<tid> {0,4}\d+) "
                  r"(?P<source>[\w.]+:\d+)\] (?P<text>.*)$")


def formatted(level: int, msg: str, *args, **extra) -> str:
    out = io.StringIO()
    logger = logging.getLogger(f"test.glog.{len(msg)}")
    handler = logging.StreamHandler(out)
    handler.setFormatter(glog.GlogFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        logger.log(level, msg, *args, extra=extra or None)
    finally:
        logger.removeHandler(handler)
    return out.getvalue().rstrip("\n")


# -- the formatter ------------------------------------------------------------------------------------------
def test_a_riva_line_shows_its_riva_source():
    line = formatted(logging.INFO, "%s %s", glog.LISTENING, "0.0.0.0:50051", source="riva_server.cc:307")
    m = GLOG.match(line)
    assert m, line
    assert m["sev"] == "I" and m["source"] == "riva_server.cc:307"
    assert m["text"] == "Riva Conversational AI Server listening on 0.0.0.0:50051"
    assert len(m["tid"]) >= 5 and int(m["tid"]) > 0  # glog's setw(5)


def test_severities_and_riva_lites_own_lines():
    warn = GLOG.match(formatted(logging.WARNING, "No API key provided. Stats reporting disabled.",
                                source="stats_reporter.cc:41"))
    assert warn["sev"] == "W" and warn["text"] == "No API key provided. Stats reporting disabled."
    own = GLOG.match(formatted(logging.ERROR, "cannot list %s", "models"))
    assert own["sev"] == "E" and own["source"].startswith("test_rivalite_logs.py:")
    assert own["text"] == "riva-lite: cannot list models"
    again = GLOG.match(formatted(logging.INFO, "riva-lite: already marked"))
    assert again["text"] == "riva-lite: already marked"
    assert GLOG.match(formatted(logging.CRITICAL, "x"))["sev"] == "F"


def test_the_thread_id_is_the_os_one():
    seen = {}
    thread = threading.Thread(target=lambda: seen.update(line=formatted(logging.INFO, "x"),
                                                         tid=threading.get_native_id()))
    thread.start()
    thread.join(10)
    assert int(GLOG.match(seen["line"])["tid"]) == seen["tid"]


# -- a real start-riva (about 10-20 s to start on this machine) -----------------------------------------------
def config(**kw):
    return riva_client.RecognitionConfig(**{"language_code": "en-US", "max_alternatives": 1, **kw})


def index(lines: list[str], text: str, after: int = -1) -> int:
    """The first line after `after` that holds `text`."""
    for i, line in enumerate(lines):
        if i > after and text in line:
            return i
    raise AssertionError(f"no line holds {text!r} after line {after}:\n" + "\n".join(lines[-40:]))


def glog_line(riva: LocalRiva, text: str, after: int = -1) -> tuple[int, re.Match]:
    """The first glog line of the API server after `after` whose text is `text` (waits for it: stderr)."""
    def seen():
        lines = riva.output().splitlines()
        for i, line in enumerate(lines):
            m = GLOG.match(line)
            if i > after and m and m["text"] == text:
                return i, m
        return None

    return wait_until(seen, 10, f"riva-lite logging {text!r}")


@pytest.mark.slow
def test_start_prints_start_rivas_lines_then_riva_servers(riva):
    lines = riva.output().splitlines()
    waiting = index(lines, WAITING)
    assert lines[waiting] == WAITING  # two spaces and '>', as NVIDIA's start-riva
    ready = index(lines, TRITON_READY, waiting)
    assert lines[ready] == TRITON_READY
    listening, m = glog_line(riva, f"{READY} {riva.riva_uri}", ready)
    assert m["sev"] == "I" and m["source"] == "riva_server.cc:307"
    stats, m = glog_line(riva, "No API key provided. Stats reporting disabled.", listening)
    assert m["sev"] == "W" and m["source"] == "stats_reporter.cc:41"
    out = "\n".join(lines)
    assert "Riva server is ready" not in out and "Starting Riva Speech Services" not in out
    assert EXITED not in out
    for line in lines:  # riva-lite's own lines say so; the API server's are all glog lines
        if "riva-lite" in line:
            assert line.startswith("riva-lite: ") or (GLOG.match(line) and "] riva-lite: " in line), line


@pytest.mark.slow
def test_recognize_logs_called(riva, asr):
    start = len(riva.output().splitlines())
    asr.offline_recognize(SAMPLE.read_bytes(), config())
    called, m = glog_line(riva, "ASRService.Recognize called.", start - 1)
    assert m["sev"] == "I" and m["source"] == "grpc_riva_asr.cc:244"


@pytest.mark.slow
def test_streaming_recognize_logs_called_then_returning_ok(riva, asr):
    start = len(riva.output().splitlines())
    data = SAMPLE.read_bytes()
    chunks = [data[i:i + 3200] for i in range(0, len(data), 3200)]
    streaming = riva_client.StreamingRecognitionConfig(config=config(), interim_results=True)
    responses = list(asr.streaming_response_generator(audio_chunks=chunks, streaming_config=streaming))
    assert any(r.is_final for resp in responses for r in resp.results)
    called, m = glog_line(riva, "ASRService.StreamingRecognize called.", start - 1)
    assert m["sev"] == "I" and m["source"] == "grpc_riva_asr.cc:1592"
    done, m = glog_line(riva, "ASRService.StreamingRecognize returning OK", called)
    assert m["sev"] == "I" and m["source"] == "grpc_riva_asr.cc:1923"


@pytest.mark.slow
def test_an_error_is_logged_as_riva_logs_it(riva, asr):
    """Riva 2.24: `ASRService.Recognize called.`, then `E... grpc_riva_asr.cc:264] <the error's text>`."""
    start = len(riva.output().splitlines())
    with pytest.raises(grpc.RpcError) as e:
        asr.offline_recognize(SAMPLE.read_bytes(), config(language_code="xx-XX"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    called, _ = glog_line(riva, "ASRService.Recognize called.", start - 1)
    _, m = glog_line(riva, e.value.details(), called)
    assert m["sev"] == "E" and m["source"] == "grpc_riva_asr.cc:264"


@pytest.mark.slow
def test_a_dead_child_prints_start_rivas_line_then_tritons_signal(tmp_path):
    """start-riva's `One of the processes has exited unexpectedly.`, then the real tritonserver's own answer to
    the SIGTERM it gets (`Signal (15) received.`), in that order, as in observed riva-speech logs."""
    pytest.importorskip("pytriton", reason="riva-lite needs the lite extra: pip install -e '.[lite]'")
    (tmp_path / "models").mkdir()
    riva = LocalRiva(tmp_path / "models", tmp_path / "run", args=("--asr_service=false",)).start().wait_ready(60)
    try:
        api = next(p for p in procfs.children(riva.proc.pid) if "rivalite.server" in " ".join(procfs.cmdline(p)))
        os.kill(api, signal.SIGKILL)
        assert riva.proc.wait(30) != 0
    finally:
        riva.stop()
        assert riva.kill_leftovers() == []
    lines = riva.output().splitlines()
    exited = index(lines, EXITED)
    assert lines[exited] == EXITED
    assert lines[index(lines, "Signal (15) received.", exited)] == "Signal (15) received."

