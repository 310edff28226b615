"""The sockets a process tree listens on, read from /proc (Linux): which program, which
address, which port. Tests use it to check that servers stay on loopback."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import NamedTuple

PROC = Path("/proc")


class Listener(NamedTuple):
    program: str  # the process's comm, e.g. "gcs_server"
    protocol: str  # "tcp", "tcp6", "udp", "udp6"
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int

    @property
    def loopback(self) -> bool:
        mapped = getattr(self.address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
        return self.address.is_loopback or (mapped is not None and mapped.is_loopback)


def listeners(root: int) -> set[Listener]:
    """The TCP sockets in LISTEN state and the unconnected UDP sockets of ``root`` and of
    every process below it, now."""
    tree = _descendants(root) | {root}
    by_inode = _listening_inodes()
    found = set()
    for pid in tree:
        program = _read(PROC / str(pid) / "comm").strip()
        for inode in _socket_inodes(pid):
            if inode in by_inode:
                protocol, address, port = by_inode[inode]
                found.add(Listener(program, protocol, address, port))
    return found


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _read(entry / "stat")
            if stat:  # "pid (comm) state ppid ...": comm may hold spaces and parentheses
                children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(
                    int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _listening_inodes() -> dict[int, tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address,
                                           int]]:
    found = {}
    for protocol in ("tcp", "tcp6", "udp", "udp6"):
        for line in _read(PROC / "net" / protocol).splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            listening = state == "0A" if protocol.startswith("tcp") else set(
                remote.split(":")[0]) == {"0"}
            if listening:
                host, port = local.split(":")
                found[inode] = (protocol, _address(host), int(port, 16))
    return found


def _address(hex_host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net's addresses are 32-bit words in the host's byte order."""
    raw = bytes.fromhex(hex_host)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def _socket_inodes(pid: int) -> set[int]:
    found = set()
    try:
        fds = list((PROC / str(pid) / "fd").iterdir())
    except OSError:  # gone, or not ours
        return found
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[len("socket:["):-1]))
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:  # the process ended meanwhile
        return ""
