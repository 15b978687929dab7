"""The ordered phases of a verification run and what to do when one fails."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class Step(str):
    """A phase's next step. `when` (a regex on the failures' messages and test ids) names the failures it fits,
    `flavors` the flavors it is for; a step without them fits every failure of its phase."""

    when: re.Pattern[str] | None
    flavors: tuple[str, ...]

    def __new__(cls, text: str, when: str | None = None, flavors: tuple[str, ...] = ()) -> Step:
        step = super().__new__(cls, text)
        step.when = re.compile(when, re.IGNORECASE) if when else None
        step.flavors = flavors
        return step

    def fits(self, failures: str, flavor: str) -> bool:
        return (not self.flavors or flavor in self.flavors) and (self.when is None or bool(self.when.search(failures)))


@dataclass(frozen=True)
class Phase:
    order: str
    name: str
    title: str
    next_steps: tuple[str, ...] = field(default=())  # plain text fits every failure; a Step those it names

    @property
    def label(self) -> str:
        return f"{self.order} {self.name}"


PHASES = (
    Phase("010", "preflight", "host facts: driver, GPU, Docker, RAM, disk, ports", (
        "the failed check above names the fact, the expected and the actual value",
        Step("free RAM or disk, or pick another profile (RIVA__PROFILE)", r"test_free_ram|test_free_disk"),
        Step("stop what holds the Riva/Triton ports (`ss -ltnp` names it)", r"are taken|is held by"),
        Step("GPU: `nvidia-smi` must list the GPU; containers need the NVIDIA Container Toolkit",
             r"test_gpu|nvidia-smi|NVIDIA GPU|driver"),
    )),
    Phase("020", "artifact", "the staged model artifact", (
        "re-stage with `rivaverify stage` (it resumes and verifies)",
        "a sha256 mismatch means the source changed or the copy is corrupt: compare with artifact.json",
    )),
    Phase("030", "modelrepo", "the Triton model repository", (
        "each problem above names the config.pbtxt and the reason; fix it or rebuild the repository",
        "riva-lite: `rivalite deploy ARTIFACT OUT_DIR`; Riva: `riva-deploy` the .rmir again",
    )),
    Phase("040", "deploy", "the shim, tritonserver's effective argv, readiness", (
        "read the server log (logs: on the last line; the failure signature above says what it means)",
        Step("check the shim: `rivaverify shim install DIR --model-repository REPO --print`, DIR/bin first on PATH",
             r"not the shim|no shim|without --model-repository|--model-repository must be specified"
             r"|--model-repository values", flavors=("classic",)),
        Step("a NIM: `curl HOST:9000/v1/health/ready`, and its log's diagnosis: `rivaverify diagnose --container NAME`",
             flavors=("nim",)),
        "the state file below records the readiness stage reached",
    )),
    Phase("050", "smoke", "one Recognize and one StreamingRecognize", (
        "transcribe the clip by hand: python transcribe_file_offline.py --server HOST:PORT --input-file FILE",
        "list the models: python transcribe_file.py --server HOST:PORT --list-models",
    )),
    Phase("060", "production", "corpus WER, latency, concurrency, formats, bad input", (
        "the state file below has the figures and the worst utterances",
        "compare with the baseline; a regression names the figure and the tolerance",
    )),
    Phase("070", "gateway", "the WebSocket gateway in front of Riva", (
        "read the gateway's access log and /health; check its API key file and Riva address",
    )),
    Phase("080", "load", "a short bounded locust load", (
        "read the locust output in the failure and reports/load-suite_stats.csv",
        "rerun by hand: locust -f suites/locustfile.py --host HOST:PORT --headless -u 4 -r 4 -t 20s",
    )),
)

def fitting_steps(phase: Phase, failures: list[dict[str, str]], flavor: str) -> list[str]:
    """The phase's own next steps that fit these failures and this flavor."""
    text = "\n".join(f"{f.get('nodeid', '')}\n{f.get('message', '')}" for f in failures)
    return [str(s) for s in phase.next_steps if not isinstance(s, Step) or s.fits(text, flavor)]


BY_ORDER = {p.order: p for p in PHASES}
BY_NAME = {p.name: p for p in PHASES}
_SUITE_FILE = re.compile(r"(?:^|/)test_(\d{3})_\w+\.py(?:$|::)")


def phase_of_path(path: str) -> Phase | None:
    """The phase of a suite file named test_<order>_<name>.py, or None for other files."""
    m = _SUITE_FILE.search(path)
    return BY_ORDER.get(m.group(1)) if m else None
