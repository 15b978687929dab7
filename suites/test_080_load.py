"""Phase 080: a short bounded locust load against the deployment; its statistics must add up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _argv(host: str, settings) -> tuple[list[str], Path]:
    out = settings.reports_dir.resolve() / "load-suite"
    users = str(settings.load_users)
    return [sys.executable, "-m", "locust", "-f", str(ROOT / "suites" / "locustfile.py"), "RivaStreamingUser",
            "--host", host, "--headless", "-u", users, "-r", users, "-t", f"{settings.load_seconds}s",
            "--stop-timeout", "60", "--csv", str(out), "--html", f"{out}.html", "--json-file", str(out),
            "--riva-corpus", str(settings.corpus.resolve()), "--riva-max-p95-partial-ms", "1e9",
            "--riva-max-p95-final-ms", "1e9"], out


@pytest.fixture(scope="module")
def load_run(request, settings, plan):
    try:  # asked for here, not as parameters: a dry run's skip of the deployment still plans the load run
        deployment = request.getfixturevalue("deployment")
        request.getfixturevalue("riva")
        request.getfixturevalue("needs_online")  # locust's users stream
    except pytest.skip.Exception:
        if plan.dry_run:  # the deployment was planned; so is the load run
            plan.command(_argv(settings.grpc_address, settings)[0])
        raise
    argv, out = _argv(deployment.grpc_address, settings)
    plan.command(argv)
    if plan.dry_run:
        pytest.skip("dry run")
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=settings.load_seconds + 180)
    stats = json.loads(Path(f"{out}.json").read_text()) if Path(f"{out}.json").exists() else []
    return result, {s["name"]: s for s in stats}


def test_load_runs_without_failures(load_run, record_figure):
    result, stats = load_run
    assert result.returncode == 0, f"locust exited {result.returncode}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    for name in ("partial", "final_after_last_chunk", "stream"):
        assert name in stats, f"no '{name}' events in locust's statistics: {sorted(stats)}"
        s = stats[name]
        record_figure(f"load.{name}.requests", s["num_requests"], "", failures=s["num_failures"])
    assert all(s["num_failures"] == 0 for s in stats.values()), {n: s["num_failures"] for n, s in stats.items()}


def test_load_statistics_add_up(load_run, settings):
    """Every chunk was answered once (one partial or final event per chunk, as phase 060 pairs them), every
    stream ended with a final, the pairing was never flagged, and no latency is negative."""
    _, stats = load_run
    streams = stats["stream"]["num_requests"]
    chunks = stats["stream"]["total_content_length"]
    responses = stats["partial"]["num_requests"] + stats.get("final", {}).get("num_requests", 0)
    assert streams >= settings.load_users, f"{streams} streams finished, at least {settings.load_users} expected"
    assert responses == chunks, f"{responses} responses paired with {chunks} chunks: Riva answers each chunk once"
    ended = stats.get("final_after_last_chunk", {}).get("num_requests", 0)
    assert ended == streams, f"{ended} of {streams} streams ended with a final"
    assert "latency_flag" not in stats, f"latency pairing flagged {stats['latency_flag']['num_failures']} times"
    negative = {n: s["min_response_time"] for n, s in stats.items() if s["min_response_time"] < 0}
    assert not negative, f"negative latencies: {negative}"
