"""Host facts for preflight, read through a testinfra host (local://, ssh://, docker://)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rivaverify.gpu_requirements import driver_major
from rivaverify.procfs import parse_cmdline, read_on

GIB = 1024**3


def os_facts(host: Any) -> dict[str, Any]:
    info = host.system_info
    return {
        "os": info.type,
        "distribution": info.distribution,
        "release": info.release,
        "arch": info.arch,
        "kernel": host.check_output("uname -r"),
        "cpus": int(host.check_output("nproc")),
    }


def parse_meminfo(text: str) -> dict[str, float]:
    """GiB of MemTotal and MemAvailable from /proc/meminfo."""
    kib = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            kib[name] = int(rest.split()[0])
    if "MemTotal" not in kib or "MemAvailable" not in kib:
        raise ValueError("/proc/meminfo lacks MemTotal or MemAvailable")
    return {"total_gb": kib["MemTotal"] * 1024 / GIB, "available_gb": kib["MemAvailable"] * 1024 / GIB}


def memory(host: Any) -> dict[str, float]:
    return parse_meminfo(host.file("/proc/meminfo").content_string)


def parse_df(text: str) -> float:
    """GiB available from the last line of `df -Pk`."""
    fields = text.strip().splitlines()[-1].split()
    return int(fields[3]) * 1024 / GIB


def disk_free_gb(host: Any, path: str) -> tuple[str, float]:
    """Free GiB on the filesystem that holds `path` (or its nearest existing parent)."""
    probe = path
    while probe not in ("", "/") and not host.file(probe).exists:
        probe = probe.rsplit("/", 1)[0] or "/"
    return probe, parse_df(host.check_output("df -Pk %s", probe or "/"))


def listening(host: Any, port: int) -> bool:
    """Whether anything listens on TCP `port`, on any address."""
    return bool(host.check_output("ss -Hltn 'sport = :%s'", str(port)).strip())


def port_owner(host: Any, port: int) -> str:
    """Who listens on `port`, as `ss -ltnp` shows it ('' when unknown)."""
    out = host.run("ss -Hltnp 'sport = :%s'", str(port))
    m = re.search(r'users:\(\("([^"]+)",pid=(\d+)', out.stdout)
    return f"{m.group(1)} (pid {m.group(2)})" if m else out.stdout.strip()


# The programs that serve a Riva deployment's ports: Riva's API server, Triton, a container's published port.
RIVA_SERVERS = ("riva_server", "tritonserver", "docker-proxy")


def owner_argv(host: Any, owner: str) -> list[str]:
    """The command line of a port owner (as port_owner names it), read on `host` ([] when unknown)."""
    m = re.search(r"\(pid (\d+)\)", owner)
    return parse_cmdline(read_on(host, int(m.group(1)), "cmdline")) if m else []


def is_riva_process(owner: str, argv: list[str]) -> bool:
    """Whether a port owner (as port_owner names it, with its command line) is a Riva deployment's server:
    riva_server, tritonserver, docker-proxy, or riva-lite's API server (python -m rivalite.server, rivalite serve);
    any other Python program is not."""
    if owner.split(" (pid")[0] in RIVA_SERVERS:
        return True
    pairs = list(zip(argv, argv[1:], strict=False))
    return ("-m", "rivalite.server") in pairs or any(Path(a).name == "rivalite" and b == "serve" for a, b in pairs)


# memory.free last, so rows of the older five-field query still parse.
GPU_FIELDS = ("index", "name", "driver_version", "memory.total", "compute_cap", "memory.free")
GPU_QUERY = ",".join(GPU_FIELDS)
# "[Insufficient Permissions]": a container given one MIG slice cannot read the whole card's memory.
NO_VALUE = ("[N/A]", "N/A", "[Not Supported]", "Not Supported", "[Insufficient Permissions]", "")


def _value(text: str) -> str | None:
    """A CSV cell without its unit (' MiB' when nounits was not given); None for [N/A] / [Not Supported]."""
    text = text.strip()
    if text in NO_VALUE:
        return None
    return re.sub(r"\s*MiB$", "", text)


def _gib(cell: str | None) -> float | None:
    return round(float(cell) / 1024, 1) if cell is not None else None


def parse_gpus(csv_text: str) -> list[dict[str, Any]]:
    """Rows of `nvidia-smi --query-gpu=<fields> --format=csv[,noheader][,nounits]`, the fields GPU_QUERY's or the
    older five (no memory.free). A header line, when there, names the columns; `[N/A]` and `[Not Supported]` read as
    None (unified-memory GPUs such as GB10 report memory so); "No devices were found" is no GPU."""
    fields = list(GPU_FIELDS)
    gpus = []
    for line in csv_text.strip().splitlines():
        if not line.strip() or line.strip() == "No devices were found":
            continue
        parts = [p.strip() for p in line.split(",")]
        if parts[0].split(" [")[0] in GPU_FIELDS:  # the header of --format=csv: "memory.total [MiB]" and so on
            fields = [p.split(" [")[0] for p in parts]
            continue
        row = dict(zip(fields, (_value(p) for p in parts), strict=False))
        index = row.get("index", str(len(gpus)))
        if len(parts) not in (len(fields), len(fields) - 1) or not (index or "").isdigit():
            raise ValueError(f"unexpected nvidia-smi line: {line!r}")
        cc = row.get("compute_cap")
        gpu = {
            "index": int(index),
            "name": row.get("name") or "?",
            "driver_version": row.get("driver_version") or "?",
            "memory_gb": _gib(row.get("memory.total")),
            "compute_capability": float(cc) if cc is not None else None,
        }
        if "memory.free" in row:  # the older query has no memory.free
            gpu["memory_free_gb"] = _gib(row["memory.free"])
        gpus.append(gpu)
    return gpus


MIG_LINE = re.compile(r"^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-[^)]+)\)")


def parse_mig_devices(text: str) -> list[dict[str, Any]]:
    """MIG slices from `nvidia-smi -L`, each under its "GPU n:" line; a slice's memory is its profile's
    (3g.40gb: 40 GB), the size NVIDIA names it by."""
    slices, gpu = [], None
    for line in text.splitlines():
        if m := re.match(r"GPU (\d+): ", line):
            gpu = int(m.group(1))
        elif (m := MIG_LINE.match(line)) and gpu is not None:
            size = re.search(r"\.(\d+)gb", m.group(1))
            slices.append({"gpu": gpu, "profile": m.group(1), "device": int(m.group(2)), "uuid": m.group(3),
                           "memory_gb": float(size.group(1)) if size else None})
    return slices


def usable_memory_gb(gpu: dict[str, Any]) -> float | None:
    """The most memory one Riva process can have on this GPU: its largest MIG slice when MIG splits it."""
    sizes = [s["memory_gb"] for s in gpu.get("mig", []) if s["memory_gb"] is not None]
    return max(sizes) if sizes else gpu["memory_gb"]


def old_drivers(gpus: list[dict[str, Any]], min_major: int) -> list[dict[str, Any]]:
    """GPUs whose driver branch is below `min_major` (a driver nvidia-smi does not number counts as below)."""
    return [g for g in gpus if (driver_major(g["driver_version"]) or 0) < min_major]


def largest_memory_gb(gpus: list[dict[str, Any]]) -> float | None:
    """The most memory one Riva server can get on these GPUs (a MIG slice's where split); None when none says."""
    return max((m for m in map(usable_memory_gb, gpus) if m is not None), default=None)


def low_free_memory(gpus: list[dict[str, Any]], need_gb: float) -> list[dict[str, Any]]:
    """GPUs with less than `need_gb` GiB free; a GPU that reports no free memory ([N/A]: unified memory) is not
    counted, nor are rows of a query without memory.free, nor a GPU split by MIG (its slices hold the memory)."""
    return [g for g in gpus
            if g.get("memory_free_gb") is not None and "mig" not in g and g["memory_free_gb"] < need_gb]


def gpus(host: Any) -> list[dict[str, Any]] | None:
    """The host's GPUs, or None when nvidia-smi is not installed; a GPU split by MIG carries its slices (mig)."""
    if not host.exists("nvidia-smi"):
        return None
    out = host.run(f"nvidia-smi --query-gpu={GPU_QUERY} --format=csv,noheader,nounits")
    if out.rc != 0:
        raise RuntimeError(f"nvidia-smi failed (exit {out.rc}): {out.stderr.strip() or out.stdout.strip()}")
    found = parse_gpus(out.stdout)
    listing = host.run("nvidia-smi -L")
    for s in parse_mig_devices(listing.stdout if listing.rc == 0 else ""):
        for g in found:
            if g["index"] == s["gpu"]:
                g.setdefault("mig", []).append(s)
    return found


def parse_topology(text: str) -> dict[str, str]:
    """GPU pair -> link type from `nvidia-smi topo -m` (NV# is NVLink with # links). Recent drivers underline
    the header with terminal escapes, also into a pipe: they are removed first."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    rows = [line.split() for line in text.splitlines() if line.startswith("GPU")]
    if not rows:
        return {}
    header = [c for c in text.splitlines()[0].split() if c.startswith("GPU")]
    links = {}
    for row in rows:
        for j, other in enumerate(header):
            if row[0] < other and j + 1 < len(row):
                links[f"{row[0]}-{other}"] = row[j + 1]
    return links


def nvlink_topology(host: Any) -> dict[str, str]:
    return parse_topology(host.check_output("nvidia-smi topo -m"))


def docker_engine(client_factory: Any = None) -> dict[str, str]:
    """Server version of the Docker engine the docker runtime will use (DOCKER_HOST honoured, ssh:// too)."""
    from rivaverify.runtime.docker_engine import client as docker_client

    client = (client_factory or docker_client)()
    try:
        v = client.version()
    finally:
        client.close()
    return {"version": v.get("Version", "?"), "api_version": v.get("ApiVersion", "?"), "os": v.get("Os", "?")}


def process_rss_mb(host: Any, pids: list[int]) -> float:
    """Resident memory of these processes together, MiB (a process that is gone counts 0)."""
    total_kib = 0
    for pid in pids:
        for line in read_on(host, pid, "status").decode(errors="replace").splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def parse_limits(text: str) -> dict[str, tuple[int | None, int | None]]:
    """`/proc/PID/limits` as {limit name: (soft, hard)}; "unlimited" reads as None."""
    out = {}
    for line in text.splitlines()[1:]:  # the first line is the header: Limit, Soft Limit, Hard Limit, Units
        m = re.match(r"^(.+?)\s{2,}(\S+)\s+(\S+)", line)
        if m:
            out[m.group(1)] = tuple(None if v == "unlimited" else int(v) for v in m.group(2, 3))
    return out


def open_files_limit(host: Any, pid: int) -> tuple[int | None, int | None] | None:
    """(soft, hard) `Max open files` of a process, None when its limits cannot be read."""
    text = read_on(host, pid, "limits").decode(errors="replace")
    return parse_limits(text).get("Max open files") if text else None


def visible_gpus(exec_result: Any) -> tuple[list[dict[str, Any]] | None, str]:
    """The GPUs an `nvidia-smi --query-gpu=GPU_QUERY --format=csv,noheader,nounits` run inside a container saw,
    with why none: (None, reason) when nvidia-smi is not there or failed (the toolkit gives a container its
    nvidia-smi only with a GPU)."""
    out = (exec_result.stdout or "").strip()
    if exec_result.rc != 0:
        why = (exec_result.stderr or out).strip().splitlines()
        return None, f"nvidia-smi exited {exec_result.rc}: {why[-1] if why else 'no output'}"
    return parse_gpus(out), ""
