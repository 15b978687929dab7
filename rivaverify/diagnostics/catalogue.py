"""The signature type, and matching text against the catalogue (startup.py and runtime.py hold the signatures)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# How a signature counts when a server log has it (a failure's own text always counts):
FAIL = "fail"  # the deployment is broken: it fails even a phase whose tests passed
WARN = "warn"  # worth the report, not a failure
SKIP = "skip"  # a server logs it for every bad request (phase 060 sends some on purpose)


@dataclass(frozen=True)
class Signature:
    name: str
    pattern: re.Pattern[str]
    cause: str  # one sentence: what it means
    next_step: str  # may name the pattern's groups: {model}
    source: str  # where the wording and the cause were published
    example: str  # a line as logged (tests/data/real-logs has it in context where one was found)
    in_logs: str = FAIL
    gpu_only: bool = False  # in a log, it means something only where a GPU is expected (a CPU Triton prints it)

    def step(self, match: re.Match[str]) -> str:
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        return self.next_step.format_map(groups) if groups else self.next_step


def sig(name: str, pattern: str, cause: str, next_step: str, source: str, example: str,
        in_logs: str = FAIL, gpu_only: bool = False) -> Signature:
    return Signature(name, re.compile(pattern, re.IGNORECASE), cause, next_step, source, example, in_logs, gpu_only)


@dataclass(frozen=True)
class Diagnosis:
    signature: str
    line: str
    next_step: str
    level: str = FAIL  # FAIL or WARN (as the signature counts in a log)
    line_no: int = 0  # 1-based, in the text or file it was found in (0: not known)
    cause: str = ""
    source: str = ""


def counts(sig_: Signature, log: bool, gpu: bool, warnings: bool) -> bool:
    """Whether a signature counts: in a log no request errors, warnings only when asked, GPU-only ones where one
    is expected."""
    if not log:
        return True
    if sig_.in_logs == SKIP or (sig_.in_logs == WARN and not warnings):
        return False
    return gpu or not sig_.gpu_only


def found(sig_: Signature, match: re.Match[str], line: str, line_no: int, log: bool) -> Diagnosis:
    level = sig_.in_logs if log else FAIL
    return Diagnosis(sig_.name, line.strip()[:300], sig_.step(match), level, line_no, sig_.cause, sig_.source)


def diagnose(text: str, log: bool = False, gpu: bool = False, warnings: bool = False) -> list[Diagnosis]:
    """Every signature found in `text`, once each, with the first line that matched. For a log (`log`): no
    request errors, warnings only when asked, and the GPU-only ones only where a GPU is expected (`gpu`)."""
    from rivaverify.diagnostics import SIGNATURES

    out = []
    lines = text.splitlines()
    for sig_ in SIGNATURES:
        if not counts(sig_, log, gpu, warnings):
            continue
        for number, line in enumerate(lines, 1):
            m = sig_.pattern.search(line)
            if m:
                out.append(found(sig_, m, line, number, log))
                break
    names = {d.signature for d in out}
    out = [d for d in out if not any(yields_to(d.signature, s.name) and s.pattern.search(d.line)
                                     for s in SIGNATURES if s.name in names)]
    return sorted(out, key=lambda d: d.signature in LAST)  # the cause first, "read the lines above" after


GENERIC = {"model-load-failed", "critical-log-line"}  # not listed for a line where a specific signature matched
LAST = GENERIC | {"process-exited", "triton-died-before-ready"}  # effects: listed after their causes
# A signature not listed for a line where a narrower one matched: nvcr.io refusing an image also says 403 Forbidden.
YIELDS = {"ngc-auth": {"image-pull-refused"}}


def yields_to(name: str, other: str) -> bool:
    """Whether signature `name` is left out for a line where `other` also matched."""
    return (name in GENERIC and other not in GENERIC) or other in YIELDS.get(name, set())


@dataclass(frozen=True)
class LogVerdict:
    """What a phase's log lines say: failures fail even a passing phase; warnings go into its report."""
    failures: list[Diagnosis]
    warnings: list[Diagnosis]

    def message(self, where: str) -> str:
        lines = [f"the deployment's log {where} shows {len(self.failures)} critical signature(s) "
                 "(expected: none in a healthy deployment's log):"]
        for d in self.failures:
            lines += [f"- {d.signature}: {d.line}", f"  next step: {d.next_step}"]
        return "\n".join(lines)


def log_verdict(text: str, gpu_expected: bool) -> LogVerdict:
    got = diagnose(text, log=True, gpu=gpu_expected, warnings=True)
    return LogVerdict([d for d in got if d.level == FAIL], [d for d in got if d.level == WARN])


_SPECIAL = set("\\.^$*+?{}[]()|")


def needles(pattern: str) -> tuple[bytes, ...]:
    """Lowercase literals of which a line that matches `pattern` holds at least one: the longest literal run
    outside groups in each top-level alternative. A fast `find` on them picks the lines the regex runs on."""
    out, depth, branch_runs, run, i = [], 0, [], "", 0
    while i <= len(pattern):
        c = pattern[i] if i < len(pattern) else "|"
        if depth == 0 and c == "|" or i == len(pattern):
            branch_runs.append(run)
            best = max(branch_runs, key=len).strip()
            if len(best) < 3:
                raise ValueError(f"no literal of 3+ characters in a branch of {pattern!r}")
            out.append(best.lower().encode())
            branch_runs, run = [], ""
        elif c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in _SPECIAL | {"'", "-", "/"}:
            run += pattern[i + 1] if depth == 0 else ""
            i += 1
        elif c in "?*{" and depth == 0:
            branch_runs.append(run[:-1])
            run = ""
            if c == "{":
                i = pattern.index("}", i)
        elif c in _SPECIAL or c == "\\":
            depth += c == "(" or c == "["
            depth -= c == ")" or c == "]"
            branch_runs.append(run)
            run = ""
            if c == "\\":
                i += 1
        elif depth == 0:
            run += c
        i += 1
    return tuple(dict.fromkeys(out))
