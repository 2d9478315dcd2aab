"""The syslog sender: real UDP and TCP collectors on loopback receive exactly what was sent."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rempart.errors import ConfigError
from rempart.ingestion import write_records
from rempart.soc import SyslogFormat, export_decisions
from rempart.soc.syslog import DeliveryError, SyslogSender, Transport

from .cases import SCENARIOS
from .specs import check_syslog

LOOPBACK = "127.0.0.1"


@pytest.fixture
def udp_collector() -> Iterator[socket.socket]:
    """A UDP socket bound to a free loopback port, as a collector."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((LOOPBACK, 0))
        server.settimeout(5)
        yield server


@pytest.fixture
def tcp_collector() -> Iterator[socket.socket]:
    """A TCP socket listening on a free loopback port, as a collector."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind((LOOPBACK, 0))
        server.listen(1)
        server.settimeout(5)
        yield server


def _received_stream(server: socket.socket) -> bytes:
    """Everything the sender's connection carried, once the sender closed it."""
    connection, _ = server.accept()
    with connection:
        connection.settimeout(5)
        chunks = []
        while chunk := connection.recv(65_536):
            chunks.append(chunk)
    return b"".join(chunks)


def _frames(stream: bytes) -> list[bytes]:
    """Split an octet-counted stream (RFC 6587 §3.4.1: ``MSG-LEN SP SYSLOG-MSG``) strictly."""
    messages = []
    while stream:
        length, space, rest = stream.partition(b" ")
        assert space, stream[:20]
        assert re.fullmatch(rb"[1-9][0-9]*", length), stream[:20]
        size = int(length)
        assert len(rest) >= size
        messages.append(rest[:size])
        stream = rest[size:]
    return messages


def _messages() -> list[bytes]:
    syslog = SyslogFormat(hostname="guard")
    return [syslog.message(*scenario()) for scenario in SCENARIOS.values()]


def test_udp_delivers_one_message_per_datagram(udp_collector: socket.socket) -> None:
    """Over UDP each message arrives alone in its datagram, byte for byte."""
    port = udp_collector.getsockname()[1]
    messages = _messages()
    with SyslogSender(LOOPBACK, port, transport=Transport.UDP) as sender:
        for message in messages:
            sender.send(message)
    received = [udp_collector.recv(65_536) for _ in messages]
    assert received == messages
    for message in received:
        check_syslog(message)


def test_tcp_frames_each_message_by_its_length(tcp_collector: socket.socket) -> None:
    """Over TCP the stream is the messages, each preceded by its length and a space."""
    port = tcp_collector.getsockname()[1]
    messages = _messages()
    with SyslogSender.from_url(f"tcp://{LOOPBACK}:{port}") as sender:
        for message in messages:
            sender.send(message)
    assert _frames(_received_stream(tcp_collector)) == messages


def test_an_export_reaches_a_tcp_collector(tmp_path: Path, tcp_collector: socket.socket) -> None:
    """`export_decisions` to a sender delivers one valid message per decision."""
    decisions = [scenario()[0] for scenario in SCENARIOS.values()]
    write_records(tmp_path / "decisions.jsonl", decisions)
    port = tcp_collector.getsockname()[1]
    with SyslogSender.from_url(f"tcp://{LOOPBACK}:{port}") as sender:
        summary = export_decisions(tmp_path / "decisions.jsonl", "syslog", sender)
    assert summary.records == 3
    received = _frames(_received_stream(tcp_collector))
    assert [check_syslog(message)["msgid"] for message in received] == [
        "challenge",
        "deny",
        "allow",
    ]


def test_an_export_reaches_a_udp_collector(tmp_path: Path, udp_collector: socket.socket) -> None:
    """`export_decisions` to a UDP sender delivers one datagram per decision."""
    decisions = [scenario()[0] for scenario in SCENARIOS.values()]
    write_records(tmp_path / "decisions.jsonl", decisions)
    port = udp_collector.getsockname()[1]
    with SyslogSender.from_url(f"udp://{LOOPBACK}:{port}") as sender:
        export_decisions(tmp_path / "decisions.jsonl", "syslog", sender)
    received = [udp_collector.recv(65_536) for _ in decisions]
    assert [check_syslog(message)["msgid"] for message in received] == [
        "challenge",
        "deny",
        "allow",
    ]


def test_a_collector_that_is_not_there_raises_delivery_error() -> None:
    """Connecting over TCP to a closed loopback port raises DeliveryError naming it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryError, match=f"tcp://{LOOPBACK}:{port}"):
        SyslogSender(LOOPBACK, port, transport=Transport.TCP, timeout=2)


@pytest.mark.parametrize(
    "url",
    [
        "syslog://127.0.0.1:514",
        "udp://127.0.0.1",
        "udp://:514",
        "tcp://127.0.0.1:99999",
        "tcp://127.0.0.1:port",
        "udp://127.0.0.1:514/path",
    ],
)
def test_urls_that_are_not_udp_or_tcp_host_port_are_refused(url: str) -> None:
    """A URL that is not ``udp://host:port`` or ``tcp://host:port`` raises ConfigError."""
    with pytest.raises(ConfigError, match=r"^syslog: expected"):
        SyslogSender.from_url(url)


def test_a_port_out_of_range_is_refused() -> None:
    """Port 0 is no collector's: ConfigError."""
    with pytest.raises(ConfigError, match=r"^port"):
        SyslogSender(LOOPBACK, 0)
