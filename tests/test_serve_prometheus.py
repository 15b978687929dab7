"""Debian's real `prometheus` scraping `rivaverify serve` in front of riva-lite, with the shipped alert rules: the
success gauge is 1; riva-lite stopped -> 0 (and /healthz 503) within two intervals; riva-lite back -> 1 again."""

from __future__ import annotations

import time

import pytest
import requests

from rivalite.launcher import free_port
from rivaverify.process import Child
from rivaverify.readiness import wait_until
from testing.local_riva import LocalRiva
from tests.test_serve import ServeProcess
from tests.test_serve_rules import RULES, prometheus_tool
from tests.test_suites_on_riva_lite import corpus_subset

pytestmark = pytest.mark.slow
INTERVAL = 3  # seconds between serve's runs (a run streams CLIP at real time, then Recognize: under 3 s)
CLIP = "tts-24.wav"  # the corpus' shortest clip, 2.8 s
SCRAPE = 1  # Prometheus' scrape and rule interval, seconds
PROMETHEUS_READY = "Server is ready to receive web requests"


class Prometheus(Child):
    def __init__(self, binary: str, workdir, target: str):
        self.port = free_port()
        config = workdir / "prometheus.yml"
        config.write_text(f"global: {{scrape_interval: {SCRAPE}s, evaluation_interval: {SCRAPE}s}}\n"
                          f"rule_files: [{RULES}]\n"
                          "scrape_configs:\n- job_name: rivaverify-serve\n"
                          f"  static_configs: [{{targets: ['{target}']}}]\n")
        super().__init__([binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                          f"--web.listen-address=127.0.0.1:{self.port}"], workdir / "prometheus.log", name="prometheus")

    def query(self, expr: str) -> list[dict]:
        r = requests.get(f"http://127.0.0.1:{self.port}/api/v1/query", params={"query": expr}, timeout=5)
        assert r.status_code == 200, f"Prometheus answered {expr!r} with HTTP {r.status_code}: {r.text[:300]}"
        return r.json()["data"]["result"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None


def one_clip(workdir):
    """A manifest of CLIP alone."""
    return corpus_subset(workdir / "corpus.json", lambda rows: [r for r in rows if r["audio_filepath"] == CLIP])


def start_riva(models, workdir, ports) -> LocalRiva:
    return LocalRiva(models, workdir, args=("--triton-ready-timeout=90",), ports=ports).start().wait_ready(120)


def test_prometheus_sees_riva_lite_go_down_and_come_back(rivalite_models, tmp_path, request):
    binary = prometheus_tool("prometheus", request.config)
    ports = {name: free_port() for name in ("riva", "http", "grpc", "metrics")}
    t0, timeline = time.monotonic(), []

    def mark(what: str) -> None:
        timeline.append(f"{time.monotonic() - t0:6.1f} s  {what}")

    riva = start_riva(rivalite_models, tmp_path / "riva1", ports)
    serve = prom = again = None
    try:
        mark("riva-lite ready")
        serve = ServeProcess(riva.riva_uri, tmp_path, interval=INTERVAL,
                             env={"RIVA__CORPUS": str(one_clip(tmp_path))}).start()
        prom = Prometheus(binary, tmp_path, f"127.0.0.1:{serve.port}").start(PROMETHEUS_READY, 60)
        mark("serve and prometheus ready")
        success = "rivaverify_probe_success"
        wait_until(lambda: prom.value(success) == 1, 90, f"Prometheus' {success} at 1", interval_s=0.5)
        mark(f"Prometheus: {success} 1")
        assert prom.value('up{job="rivaverify-serve"}') == 1

        riva.stop()
        assert riva.kill_leftovers() == [], "riva-lite left processes"
        down = time.monotonic()
        mark("riva-lite stopped")
        serve.wait_health(503, 2 * INTERVAL)
        mark(f"/healthz 503 ({time.monotonic() - down:.1f} s after the stop)")
        wait_until(lambda: prom.value(success) == 0, 2 * INTERVAL + 2 * SCRAPE, f"Prometheus' {success} at 0",
                   interval_s=0.2)
        mark(f"Prometheus: {success} 0 ({time.monotonic() - down:.1f} s after the stop)")
        firing = wait_until(lambda: prom.query('ALERTS{alertname="RivaAsrDown"}'), 10, "RivaAsrDown pending")
        mark(f"Prometheus: RivaAsrDown {firing[0]['metric']['alertstate']}")
        assert serve.alive(), f"rivaverify serve died with riva-lite down:\n{serve.tail()}"

        again = start_riva(rivalite_models, tmp_path / "riva2", ports)
        up = time.monotonic()
        mark("riva-lite ready again")
        wait_until(lambda: prom.value(success) == 1, 2 * INTERVAL + 30, f"Prometheus' {success} at 1 again",
                   interval_s=0.5)
        mark(f"Prometheus: {success} 1 again ({time.monotonic() - up:.1f} s after riva-lite was ready)")
        assert serve.healthz()[0] == 200
        failed = prom.value('rivaverify_runs_total{outcome="failed"}')
        assert failed and failed >= 1, f"no failed run counted: {failed}"
    finally:
        print("\n".join(["timeline:", *timeline]))
        for child in (prom, serve, again, riva):
            if child is not None:
                child.stop()
    assert again.kill_leftovers() == [], "riva-lite left processes"
