"""Host facts for preflight, read through a testinfra host (local://, ssh://, docker://)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rivaverify.procfs import parse_cmdline

GIB = 1024**3
GPU_QUERY = "index,name,driver_version,memory.total,compute_cap"


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
    return parse_cmdline(host.file(f"/proc/{m.group(1)}/cmdline").content) if m else []


def is_riva_process(owner: str, argv: list[str]) -> bool:
    """Whether a port owner (as port_owner names it, with its command line) is a Riva deployment's server:
    riva_server, tritonserver, docker-proxy, or riva-lite's API server (python -m rivalite.server, rivalite serve);
    any other Python program is not."""
    if owner.split(" (pid")[0] in RIVA_SERVERS:
        return True
    pairs = list(zip(argv, argv[1:], strict=False))
    return ("-m", "rivalite.server") in pairs or any(Path(a).name == "rivalite" and b == "serve" for a, b in pairs)


def parse_gpus(csv_text: str) -> list[dict[str, Any]]:
    """Rows of `nvidia-smi --query-gpu=<GPU_QUERY> --format=csv,noheader,nounits`."""
    gpus = []
    for line in csv_text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 5:
            raise ValueError(f"unexpected nvidia-smi line: {line!r}")
        index, name, driver, mem_mib, cc = parts
        gpus.append({
            "index": int(index),
            "name": name,
            "driver_version": driver,
            "memory_gb": round(float(mem_mib) / 1024, 1),
            "compute_capability": float(cc) if cc not in ("[N/A]", "N/A") else None,
        })
    return gpus


def gpus(host: Any) -> list[dict[str, Any]] | None:
    """The host's GPUs, or None when nvidia-smi is not installed."""
    if not host.exists("nvidia-smi"):
        return None
    out = host.run(f"nvidia-smi --query-gpu={GPU_QUERY} --format=csv,noheader,nounits")
    if out.rc != 0:
        raise RuntimeError(f"nvidia-smi failed (exit {out.rc}): {out.stderr.strip() or out.stdout.strip()}")
    return parse_gpus(out.stdout)


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
    from rivaverify.runtime.docker import client as docker_client

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
        f = host.file(f"/proc/{pid}/status")
        if not f.exists:
            continue
        for line in f.content_string.splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024
