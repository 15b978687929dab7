"""Diagnose a log of any size: read in blocks (bounded memory), find each signature's literals with a fast `find`,
run its regex on those lines only; the log's kinds, the start's milestones and Triton's model table on the way."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO

from rivaverify.diagnostics import SIGNATURES
from rivaverify.diagnostics.catalogue import FAIL, SKIP, WARN, Signature, needles, yields_to
from rivaverify.diagnostics.kinds import KINDS, MILESTONES, MODEL_ROW, RIVA_LITE

BLOCK = 8 * 1024 * 1024
MAX_LINE = 1024 * 1024  # a longer "line" (no newline: binary data) is cut there
KEEP = 20  # findings kept per signature (all are counted)
MAX_ROWS = 500
KIND_BLOCKS = 2
CAP = 2000  # lines a literal is verified on in one block
REQUEST = {"inference-failed"}  # besides the skip ones: what a client sees of a request the server failed


@dataclass
class Finding:
    signature: str
    level: str  # fail or warn
    line_no: int
    line: str
    cause: str
    next_step: str
    source: str


@dataclass
class ModelRow:
    name: str
    version: str
    status: str
    reason: str
    line_no: int


@dataclass
class Report:
    source: str
    gpu_expected: bool = True
    bytes: int = 0
    lines: int = 0
    binary: bool = False
    kinds: Counter[str] = field(default_factory=Counter)
    milestones: dict[str, int] = field(default_factory=dict)  # name -> first line number
    models: list[ModelRow] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # signature -> lines matched
    capped: set[str] = field(default_factory=set)  # signatures with more lines than were verified

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.level == FAIL]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == WARN]

    @property
    def unreadable(self) -> str:
        """Why this input cannot be diagnosed ("" when it can)."""
        if self.binary:
            return "it is binary data, not a text log"
        if self.bytes == 0:
            return "it is empty"
        if not self.kinds and not self.findings:
            return ("no line of it is Riva's, Triton's, a NIM's, their clients' or Docker's: it is not a log this "
                    "command knows (is it the right container or file?)")
        return ""


_NEEDLES = [(s, needles(s.pattern.pattern)) for s in SIGNATURES]


class _Scanner:
    def __init__(self, report: Report, gpu: bool | None) -> None:
        self.r, self.gpu, self.line_base = report, gpu, 0
        self.kept: Counter[str] = Counter()
        self.blocks = 0

    def block(self, data: bytes) -> None:
        low = data.lower()
        hits: list[tuple[int, str, object]] = []  # (offset, what, payload)
        if self.blocks < KIND_BLOCKS:  # a log's kind shows in its first blocks
            self.blocks += 1
            for kind, (_, lits) in KINDS.items():
                self.r.kinds[kind] += sum(low.count(lit) for lit in lits)
            self.r.kinds += Counter()  # drop the kinds not seen
        for name, (_, lits) in MILESTONES.items():
            if name not in self.r.milestones:
                pos = min((p for p in (low.find(lit) for lit in lits) if p >= 0), default=-1)
                if pos >= 0:
                    hits.append((pos, "milestone", name))
        for sig_, lits in _NEEDLES:
            for lit in lits:
                pos, n = low.find(lit), 0
                while pos >= 0 and n < CAP:
                    hits.append((pos, "sig", sig_))
                    pos, n = low.find(lit, low.find(b"\n", pos) + 1 or len(low)), n + 1
                if pos >= 0:  # more lines than are worth a regex each: counted, not verified
                    self.r.capped.add(sig_.name)
        for lit in KINDS["triton-table"][1]:
            pos = low.find(lit)
            while pos >= 0 and len(self.r.models) < MAX_ROWS:
                hits.append((pos, "row", None))
                pos = low.find(lit, low.find(b"\n", pos) + 1 or len(low))
        self._resolve(data, sorted(hits, key=lambda h: h[0]))
        self.line_base += data.count(b"\n")

    def _resolve(self, data: bytes, hits: list[tuple[int, str, object]]) -> None:
        at, line_no, seen = 0, self.line_base + 1, set()
        for pos, what, payload in hits:
            start = data.rfind(b"\n", 0, pos) + 1
            line_no += data.count(b"\n", at, start)
            at = start
            end = data.find(b"\n", pos)
            line = data[start:end if end >= 0 else len(data)].decode("utf-8", "replace").rstrip("\r")
            if what == "milestone":
                self.r.milestones.setdefault(str(payload), line_no)
            elif what == "row" and (start, "row") not in seen:
                seen.add((start, "row"))
                m = MODEL_ROW.match(line.strip())
                if m:
                    self.r.models.append(ModelRow(m["name"], m["version"], m["status"], m["reason"], line_no))
            elif what == "sig" and (start, id(payload)) not in seen:
                seen.add((start, id(payload)))
                self._signature(payload, line, line_no)  # type: ignore[arg-type]

    def _signature(self, sig_: Signature, line: str, line_no: int) -> None:
        if sig_.gpu_only and not self.gpu:
            return
        m = sig_.pattern.search(line.strip())
        if not m:
            return
        self.r.counts[sig_.name] += 1
        if self.kept[sig_.name] < KEEP:
            self.kept[sig_.name] += 1
            # a request error is a warning in a server's log (it answered a bad request), a failure in a client's
            request = sig_.in_logs == SKIP or sig_.name in REQUEST
            level = FAIL if sig_.in_logs == FAIL or (request and "client" in self.r.kinds) else WARN
            self.r.findings.append(Finding(sig_.name, level, line_no, line.strip()[:400], sig_.cause,
                                           sig_.step(m), sig_.source))


def scan(stream: BinaryIO, source: str, gpu: bool | None = None) -> Report:
    """The report on one log read from `stream` (bytes). `gpu`: whether a GPU is expected (None: yes, unless the
    log is riva-lite's, which runs on a CPU)."""
    report = Report(source)
    head = stream.read(BLOCK)
    report.binary = b"\x00" in head[:8192]
    if report.binary or not head:
        report.bytes = len(head)
        return report
    report.gpu_expected = gpu if gpu is not None else RIVA_LITE not in head.lower()
    scanner = _Scanner(report, report.gpu_expected)
    carry, data = b"", head
    while data:
        report.bytes += len(data)
        data = carry + data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) <= MAX_LINE:
            carry = data
        else:
            cut = cut or len(data)
            scanner.block(data[:cut])
            carry = data[cut:][:MAX_LINE]
        data = stream.read(BLOCK)
    if carry:
        scanner.block(carry + b"\n")
    report.lines = scanner.line_base
    at: dict[int, set[str]] = {}  # line -> the signatures found first there
    for f in report.findings:
        at.setdefault(f.line_no, set()).add(f.signature)
    report.findings = sorted((f for f in report.findings if not any(yields_to(f.signature, o) for o in at[f.line_no])),
                             key=lambda f: f.line_no)
    return report
