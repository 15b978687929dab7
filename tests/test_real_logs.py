"""The catalogue held against logs people published from real deployments (tests/data/real-logs/INDEX.md): each
log gives exactly the signatures its row expects, healthy ones no failure, and every signature is proven on a
real line except the few no published log was found for yet (listed here, so a new log that covers one must
update the list)."""

from __future__ import annotations

import re

from rivaverify.diagnostics import SIGNATURES
from rivaverify.diagnostics.render import exit_code
from rivaverify.diagnostics.scan import scan
from tests.conftest import ROOT

LOGS = ROOT / "tests" / "data" / "real-logs"
SOURCE = re.compile(r"https://\S+|code index id \d+")

# Signatures whose wording is sourced but no published log line was found yet. health-check-failed: the line is
# riva_start.sh's own `echo "Health ready check failed."` (NVIDIA's quick start, code index id 19676539935); every
# published riva_start.sh run found ends in "Riva server is ready..." (searches: docs/riva-behaviour.md).
NO_REAL_LOG_YET = {"health-check-failed"}


def rows() -> list[dict[str, str]]:
    out = []
    for line in (LOGS / "INDEX.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].endswith(".log"):
            out.append(dict(zip(("file", "source", "kind", "shows", "expect"), cells, strict=True)))
    return out


def test_at_least_20_real_logs_each_indexed_with_a_source_and_a_cause():
    indexed = {r["file"] for r in rows()}
    assert indexed == {p.name for p in LOGS.glob("*.log")}, "every log has one INDEX row and every row a log"
    assert len(indexed) >= 20
    for r in rows():
        assert SOURCE.search(r["source"]), f"{r['file']}: no source URL or index id: {r['source']}"
        assert len(r["shows"]) > 20, f"{r['file']}: no cause or healthy verdict"


def test_each_real_log_gives_exactly_the_signatures_its_row_expects():
    for r in rows():
        report = scan(open(LOGS / r["file"], "rb"), r["file"])
        found = sorted({f.signature for f in report.findings})
        expect = sorted(n.strip() for n in r["expect"].split(",") if n.strip() not in ("-", ""))
        assert found == expect, f"{r['file']} (source {r['source']}): expected {expect}, found {found}"
        if r["shows"].startswith("healthy"):
            assert report.failures == [] and exit_code(report) == 0, f"{r['file']}: a healthy log raised a failure"
        else:
            assert exit_code(report) in (0, 1)


def test_every_signature_is_proven_on_a_real_line_but_the_declared_gaps():
    """Proven: its regex matched a line of a published log (a generic one also where a specific one is listed)."""
    proven = {name for r in rows() for name in scan(open(LOGS / r["file"], "rb"), r["file"]).counts}
    names = {s.name for s in SIGNATURES}
    assert NO_REAL_LOG_YET <= names
    assert names - proven == NO_REAL_LOG_YET, (
        f"proven now, drop from NO_REAL_LOG_YET: {sorted(NO_REAL_LOG_YET & proven)}; "
        f"neither proven nor declared: {sorted(names - proven - NO_REAL_LOG_YET)}")


def test_each_signature_matches_its_own_example_and_names_a_cause_and_source():
    for s in SIGNATURES:
        assert s.pattern.search(s.example), f"{s.name}: its example line does not match it"
        assert s.cause.endswith(".") and s.source and s.next_step, s.name


def test_lines_that_must_not_alarm():
    """Docker's `No such container` on a clean start (Docker's wording, written here, not from a published log),
    riva_server asking Triton for status while Triton still loads (jetson-containers#450, verbatim), a
    streaming-only NIM's fact (verbatim, code index id 51787747742)."""
    text = (b"Error response from daemon: No such container: riva-speech\n"
            b"E0324 18:13:59.729030    21 model_registry.cc:286] error: unable to get server status: failed to "
            b"connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:8001: Failed to connect to remote host: "
            b"Connection refused\n"
            b"WARNING:riva_http_server:No Offline ASR models found\n")
    import io

    report = scan(io.BytesIO(text), "clean start")
    assert report.failures == [], [(f.signature, f.line) for f in report.failures]
    assert [f.signature for f in report.warnings] == ["no-offline-models"]


def test_a_client_that_saw_a_request_fail_has_failed():
    """A request error is a warning in a server's log (it answered a bad request) and a failure in a client's output:
    grpc's traceback and boto3's error (the suite's staging) are read as a client's."""
    for name in ("grpc-speech-streaming-deadline-exceeded.log", "s3-boto3-putobject-internalerror.log"):
        report = scan(open(LOGS / name, "rb"), name)
        assert "client" in report.kinds and exit_code(report) == 1, (name, report.kinds, report.findings)
