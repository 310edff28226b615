"""tests/listening.py, which the Ray loopback test relies on: it finds this process's own
listening sockets with the right address, port and loopback verdict."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest
from listening import listeners

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(),
                                reason="reads sockets from /proc")


def test_listening_sockets_of_this_process_and_their_addresses():
    with socket.socket() as local, socket.socket() as everywhere, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as idle:
        local.bind(("127.0.0.1", 0))
        local.listen()
        everywhere.bind(("0.0.0.0", 0))
        everywhere.listen()
        udp.bind(("127.0.0.1", 0))
        idle.bind(("127.0.0.1", 0))  # bound, not listening: not a listener
        found = {(x.protocol, str(x.address), x.port): x.loopback
                 for x in listeners(os.getpid())}
        assert found[("tcp", "127.0.0.1", local.getsockname()[1])] is True
        assert found[("tcp", "0.0.0.0", everywhere.getsockname()[1])] is False
        assert found[("udp", "127.0.0.1", udp.getsockname()[1])] is True
        assert ("tcp", "127.0.0.1", idle.getsockname()[1]) not in found


def test_ipv6_listeners_are_decoded():
    try:
        six = socket.socket(socket.AF_INET6)
        six.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with six:
        six.listen()
        found = {(x.protocol, x.address, x.port): x.loopback for x in listeners(os.getpid())}
        assert found[("tcp6", ipaddress.ip_address("::1"), six.getsockname()[1])] is True


def test_ipv6_wildcard_is_not_loopback_and_mapped_loopback_is():
    from listening import Listener

    assert not Listener("x", "tcp6", ipaddress.ip_address("::"), 1).loopback
    assert Listener("x", "tcp6", ipaddress.ip_address("::ffff:127.0.0.1"), 1).loopback
    assert Listener("x", "tcp6", ipaddress.ip_address("::1"), 1).loopback
    assert not Listener("x", "tcp", ipaddress.ip_address("192.0.2.2"), 1).loopback
