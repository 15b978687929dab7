"""One reader of Linux's /proc for processes on this host: state, argv, environment, children, memory.

Every function answers for a process that is gone (or unreadable) with an empty value, never an exception."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Stat:
    """The fields of /proc/PID/stat that we use (times in clock ticks)."""

    pid: int
    comm: str
    state: str  # R, S, D, Z, T, ...
    ppid: int
    pgrp: int
    session: int
    utime: int
    stime: int

    @property
    def cpu_s(self) -> float:
        return (self.utime + self.stime) / os.sysconf("SC_CLK_TCK")


def parse_stat(text: str) -> Stat:
    """One /proc/PID/stat line; the command may hold spaces and parentheses."""
    pid, _, rest = text.partition(" (")
    comm, _, tail = rest.rpartition(") ")
    f = tail.split()
    return Stat(int(pid), comm, f[0], int(f[1]), int(f[2]), int(f[3]), int(f[11]), int(f[12]))


def stat(pid: int) -> Stat | None:
    """The process' stat, or None when it is gone."""
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int) -> bool:
    """Running: neither gone nor a zombie."""
    st = stat(pid)
    return st is not None and st.state != "Z"


def parse_cmdline(raw: bytes) -> list[str]:
    """The argv held in /proc/<pid>/cmdline (NUL-terminated arguments); empty arguments are kept."""
    if not raw:
        return []
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    return [os.fsdecode(part) for part in raw.split(b"\0")]


def read_on(host: Any, pid: int, name: str) -> bytes:
    """/proc/PID/NAME through a testinfra host (local://, ssh://, docker://); b"" for a process that is gone or
    unreadable, so one that exits between a listing and this read is no error."""
    out = host.run("cat -- /proc/%s/%s", str(pid), name)
    return out.stdout_bytes if out.rc == 0 else b""


def cmdline(pid: int) -> list[str]:
    try:
        return parse_cmdline(Path(f"/proc/{pid}/cmdline").read_bytes())
    except OSError:
        return []


def environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (os.fsdecode(entry).partition("=") for entry in raw.split(b"\0") if b"=" in entry)
    return {k: v for k, _, v in pairs}


def status(pid: int) -> dict[str, str]:
    """/proc/PID/status as name -> value ('VmRSS': '1234 kB')."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def rss_kb(pid: int) -> int:
    """Resident memory in KiB (0 when gone)."""
    return int(status(pid).get("VmRSS", "0 kB").split()[0])


def pids() -> list[int]:
    return sorted(int(e) for e in os.listdir("/proc") if e.isdigit())


def all_stats() -> dict[int, Stat]:
    """Every live process (zombies left out)."""
    out = {}
    for pid in pids():
        st = stat(pid)
        if st is not None and st.state != "Z":
            out[pid] = st
    return out


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def family(root: int) -> list[int]:
    """`root`, its descendants (also those that started sessions of their own) and its session's members."""
    procs = all_stats()
    keep = {pid for pid, st in procs.items() if st.session == root}
    if root in procs:
        keep.add(root)
    grew = True
    while grew:
        new = {pid for pid, st in procs.items() if st.ppid in keep and pid not in keep}
        keep |= new
        grew = bool(new)
    return sorted(keep)


def with_env(key: str, value: str) -> list[int]:
    """PIDs whose environment holds key=value (this user's processes only; not this one)."""
    me = os.getpid()
    return [pid for pid in pids() if pid != me and environ(pid).get(key) == value]


def in_group(pgid: int) -> list[int]:
    """Live members of a process group."""
    return sorted(pid for pid, st in all_stats().items() if st.pgrp == pgid)


def fd_target(pid: int, fd: int) -> str:
    """What the process' file descriptor points at ('' when gone)."""
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return ""
