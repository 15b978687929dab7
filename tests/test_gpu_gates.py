"""Phase 010's GPU gates on captured nvidia-smi output: the parsers, the driver table, free memory and MIG.

Where each capture comes from (the code corpus of public repositories, found by its exact text):
- H100_NOUNITS: tests/test_preflight.py's SMI_CSV (GPU_QUERY's older five fields, noheader,nounits).
- A800_CSV: a recorded shell session, `nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv`
  on four A800-SXM4-80GB (header and MiB units kept).
- RTX4070_CSV: an Ollama troubleshooting note, the same query with a model loaded (631 MiB free).
- T4_CSV: an AKS deployment guide, `--query-gpu=name,driver_version,memory.total --format=csv` on a Tesla T4.
- GB10_CSV: a DGX Spark lab report, `--query-gpu=name,memory.total,memory.free,memory.used,... --format=csv`:
  unified memory reads [N/A] (the capture's two trailing columns, behind its elided header, are left out).
- MIG_LIST: the JASMIN notebook service docs, `nvidia-smi -L` on two A100-SXM4-40GB split into 1g.10gb slices.
- "[Insufficient Permissions]": a setup script's note that a MIG slice's container cannot read the card's memory.
"""

from __future__ import annotations

import pytest

from rivaverify import gpu_requirements, preflight, releases

H100_NOUNITS = "0, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 9.0\n1, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 9.0\n"
A800_CSV = """name, memory.total [MiB], memory.free [MiB]
NVIDIA A800-SXM4-80GB, 81920 MiB, 81176 MiB
NVIDIA A800-SXM4-80GB, 81920 MiB, 81176 MiB
NVIDIA A800-SXM4-80GB, 81920 MiB, 81176 MiB
NVIDIA A800-SXM4-80GB, 81920 MiB, 81176 MiB
"""
RTX4070_CSV = "name, memory.total [MiB], memory.free [MiB]\nNVIDIA GeForce RTX 4070, 12282 MiB, 631 MiB\n"
T4_CSV = "name, driver_version, memory.total [MiB]\nTesla T4, 535.183.01, 16384 MiB\n"
GB10_CSV = "name, memory.total [MiB], memory.free [MiB], memory.used [MiB]\nNVIDIA GB10, [N/A], [N/A], [N/A]\n"
MIG_LIST = """GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-2927d07e-3fe9-7904-9e08-b08b82d9a37d)
  MIG 1g.10gb     Device  0: (UUID: MIG-6e95ef19-5145-571b-b040-7e731f1c1af3)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-e109d8d9-923e-7235-0429-96b7fdbcbd30)
  MIG 1g.10gb     Device  0: (UUID: MIG-b4bcd4f3-6f69-516d-9404-b5ada80d760b)
"""


def test_older_five_field_rows_parse_as_before():
    gpus = preflight.parse_gpus(H100_NOUNITS)
    assert gpus[1] == {"index": 1, "name": "NVIDIA H100 80GB HBM3", "driver_version": "550.54.15",
                       "memory_gb": 79.6, "compute_capability": 9.0}
    assert preflight.low_free_memory(gpus, 16) == []  # no memory.free column: nothing to judge


def test_header_and_mib_units():
    gpus = preflight.parse_gpus(A800_CSV)
    assert [g["index"] for g in gpus] == [0, 1, 2, 3]
    assert gpus[0]["memory_gb"] == 80.0 and gpus[0]["memory_free_gb"] == 79.3
    assert gpus[0]["driver_version"] == "?" and gpus[0]["compute_capability"] is None
    t4 = preflight.parse_gpus(T4_CSV)[0]
    assert (t4["name"], t4["driver_version"], t4["memory_gb"]) == ("Tesla T4", "535.183.01", 16.0)


def test_query_fields_in_any_order_follow_the_header():
    header = "index, name, driver_version, memory.total [MiB], compute_cap, memory.free [MiB]"
    row = preflight.parse_gpus(header + "\n0, NVIDIA GeForce RTX 4070, 550.54.15, 12282 MiB, 8.9, 631 MiB\n")[0]
    assert (row["memory_gb"], row["memory_free_gb"], row["compute_capability"]) == (12.0, 0.6, 8.9)
    assert preflight.GPU_QUERY.split(",") == [h.split(" [")[0] for h in header.split(", ")]


@pytest.mark.parametrize("missing", ["[N/A]", "[Not Supported]", "[Insufficient Permissions]"])
def test_values_the_driver_cannot_give_are_none(missing):
    gpu = preflight.parse_gpus(GB10_CSV.replace("[N/A]", missing))[0]
    assert gpu["name"] == "NVIDIA GB10" and gpu["memory_gb"] is None and gpu["memory_free_gb"] is None
    assert preflight.low_free_memory([gpu], 16) == []  # unified memory: no free figure, no failure
    assert preflight.usable_memory_gb(gpu) is None


def test_no_devices_and_garbage():
    assert preflight.parse_gpus("No devices were found\n") == []
    with pytest.raises(ValueError, match="unexpected nvidia-smi line"):
        preflight.parse_gpus("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")


def test_free_memory_gate():
    low = preflight.low_free_memory(preflight.parse_gpus(RTX4070_CSV), 2)
    assert [(g["name"], g["memory_free_gb"]) for g in low] == [("NVIDIA GeForce RTX 4070", 0.6)]
    assert preflight.low_free_memory(preflight.parse_gpus(A800_CSV), 16) == []


def test_mig_slices_are_the_usable_memory():
    slices = preflight.parse_mig_devices(MIG_LIST)
    assert [(s["gpu"], s["profile"], s["device"], s["memory_gb"]) for s in slices] == [
        (0, "1g.10gb", 0, 10.0), (1, "1g.10gb", 0, 10.0)]
    assert slices[0]["uuid"] == "MIG-6e95ef19-5145-571b-b040-7e731f1c1af3"
    gpu = {"index": 0, "memory_gb": 40.0, "memory_free_gb": 0.5, "mig": slices[:1]}
    assert preflight.usable_memory_gb(gpu) == 10.0
    assert preflight.low_free_memory([gpu], 16) == []  # the parent's free memory says nothing under MIG
    assert preflight.parse_mig_devices("GPU 0: Tesla T4 (UUID: GPU-x)\n") == []


@pytest.mark.parametrize("image, family, release", [
    ("nvcr.io/nvidia/riva/riva-speech:2.19.0", "riva-speech", "riva-speech 2.19.0"),
    ("nvcr.io/nvidia/riva/riva-speech:2.15.1-l4t-aarch64", "riva-speech", "riva-speech 2.15.1"),
    ("nvcr.io/nim/nvidia/parakeet-0-6b-ctc-en-us:1.3.1", "nim", "Riva ASR NIM 1.3.1"),
    ("nvcr.io/nim/nvidia/riva-asr:1.6.0", "nim", "Riva ASR NIM 1.6.0"),
    ("nvcr.io/nim/nvidia/parakeet-1-1b-rnnt-multilingual:latest", "nim", None),
    ("nvcr.io/nvidia/riva/riva-speech:latest", "riva-speech", None),
    ("riva-lite:dev", None, None),
    (None, None, None),
])
def test_family_and_release_from_the_image(image, family, release):
    """The family from the name alone (a NIM's docs run `:latest`); the release from the tag (one parser)."""
    assert releases.family(image) == family and gpu_requirements.is_nim(image) == (family == "nim")
    got = releases.of_image(image)
    assert (str(got) if got.kind else None) == release


def test_driver_table_rows_and_unknown_releases():
    row, reason = gpu_requirements.driver_minimum(releases.of_image("nvcr.io/nim/nvidia/parakeet-0-6b-ctc-en-us:1.3.1"))
    assert row is not None and reason == ""
    assert (row.min_major, row.source) == (535, "https://docs.nvidia.com/nim/riva/asr/1.3.1/support-matrix.html")
    for image in ("nvcr.io/nvidia/riva/riva-speech:2.19.0", "nvcr.io/nim/nvidia/riva-asr:1.4.0"):
        row, reason = gpu_requirements.driver_minimum(releases.of_image(image))
        assert row is None and "no sourced minimum driver" in reason
    row, reason = gpu_requirements.driver_minimum(releases.of_image("riva-lite:dev"))
    assert row is None and "names no x.y.z release" in reason
    # RIVA__NIM_RELEASE names the release where the tag does not: the NIM's row applies, not the tag's
    declared = releases.of_image("nvcr.io/nim/nvidia/parakeet-0-6b-ctc-en-us:latest", "1.6.0")
    row, reason = gpu_requirements.driver_minimum(declared)
    assert row is not None and row.version == "1.6.0"
    row, reason = gpu_requirements.driver_minimum(releases.of_image("nvcr.io/nim/nvidia/x:1.4.0", "1.3.2"))
    assert row is not None and row.version == "1.3.2"
    assert all(r.source.startswith("https://docs.nvidia.com/") for r in gpu_requirements.DRIVER_MINIMUMS)


def test_driver_gate_on_captures():
    t4 = preflight.parse_gpus(T4_CSV)
    assert gpu_requirements.driver_major("535.183.01") == 535
    assert preflight.old_drivers(t4, 535) == []
    assert [g["driver_version"] for g in preflight.old_drivers(t4, 550)] == ["535.183.01"]
    # no driver number (a query without driver_version, or [N/A]) cannot show the minimum is met
    assert len(preflight.old_drivers(preflight.parse_gpus(A800_CSV), 535)) == 4


# `cat /proc/self/limits` on this project's CI machine (Debian 12; rows cut, open files lowered to 1024:524288 so
# soft and hard differ), and what a container without
# the NVIDIA toolkit answers to `nvidia-smi` (riva-lite's image here: the shell's "not found", exit 127; Docker's
# OCI error when the exec itself cannot start); NVIDIA's driver message when nvidia-smi is there but no driver is.
LIMITS = """Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max stack size            8388608              unlimited            bytes
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
Max realtime priority     0                    0
"""
NOT_FOUND = ('OCI runtime exec failed: exec failed: unable to start container process: exec: "nvidia-smi": '
             'executable file not found in $PATH: unknown')
NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the "
             "latest NVIDIA driver is installed and running.")


def test_open_files_limit_from_proc_limits():
    limits = preflight.parse_limits(LIMITS)
    assert limits["Max open files"] == (1024, 524288)
    assert limits["Max stack size"] == (8388608, None) and limits["Max realtime priority"] == (0, 0)
    assert "Limit" not in limits


class Exec:
    def __init__(self, rc, stdout="", stderr=""):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr


@pytest.mark.parametrize(("result", "why"), [
    (Exec(126, NOT_FOUND), "nvidia-smi exited 126: OCI runtime exec failed"),
    (Exec(127, "", "sh: 1: nvidia-smi: not found"), "nvidia-smi exited 127: sh: 1: nvidia-smi: not found"),
    (Exec(9, NO_DRIVER), "nvidia-smi exited 9: NVIDIA-SMI has failed because it couldn't communicate"),
])
def test_no_gpu_in_the_container_says_why(result, why):
    gpus, reason = preflight.visible_gpus(result)
    assert gpus is None and reason.startswith(why)


def test_gpus_in_the_container_parse_like_the_hosts():
    gpus, reason = preflight.visible_gpus(Exec(0, H100_NOUNITS))
    assert reason == "" and [g["index"] for g in gpus] == [0, 1]
    assert preflight.visible_gpus(Exec(0, "No devices were found\n")) == ([], "")


@pytest.mark.parametrize(("image", "gpus", "count", "refused"), [
    ("nvcr.io/nim/nvidia/parakeet-1-1b-ctc-en-us:1.3.0", "all", 2, True),
    ("nvcr.io/nim/nvidia/parakeet-1-1b-ctc-en-us:1.3.0", "auto", 2, True),  # auto passes --gpus all
    ("nvcr.io/nim/nvidia/parakeet-1-1b-ctc-en-us:1.3.0", "0", 2, False),
    ("nvcr.io/nim/nvidia/parakeet-1-1b-ctc-en-us:1.3.0", "all", 1, False),
    ("nvcr.io/nvidia/riva/riva-speech:2.19.0", "all", 2, False),  # riva-speech: riva_start.sh passes --gpus all
    ("riva-lite:latest", "all", 2, False),
])
def test_a_nim_with_two_gpus_is_not_given_all(image, gpus, count, refused):
    problem = gpu_requirements.gpu_selection_problem(image, gpus, count)
    assert (problem is not None) == refused
    if refused:
        assert "two or more GPUs" in problem and "RIVA__DOCKER_GPUS=0" in problem
