"""Decisions as RFC 5424 syslog messages, and a sender to a collector over UDP or TCP.

One message per decision::

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [rempart@32473 PARAMS] BOM MSG

- **PRI**: facility * 8 + severity. The facility is configurable and
  defaults to ``authpriv`` (10): these are security/authorization messages
  that name accounts and addresses, and the usual syslog configurations
  route ``authpriv`` to a file only root reads and keep it out of the
  general log (``*.info;authpriv.none /var/log/messages``). The severity
  comes from the `rempart.soc.alerts.Gravity`: a routine allow is
  informational (6), an allowed alert and a challenge are notices (5), a
  refusal a warning (4). Error (3) and above are left for Rempart's own
  faults, so that a collector's rule on ``err`` stays a rule on malfunctions.
- **TIMESTAMP**: the event's time in UTC with microseconds. **HOSTNAME**,
  **APP-NAME** (``rempart``), **PROCID**: configured, printable US-ASCII
  within the RFC's 255, 48 and 128 octets, ``-`` (NILVALUE) when unknown:
  the host that exports a replay is not the one that decided, so no host
  name is guessed. **MSGID**: the verdict (``allow``, ``challenge``, ``deny``).
- **STRUCTURED-DATA**: one element whose SD-ID is ``rempart@32473``. 32473
  is the private enterprise number RFC 5612 reserves for documentation:
  a deployment with its own IANA number passes it as ``enterprise``. Its
  parameters, in this order: ``event_id``, ``verdict``, ``alert``,
  ``kind``, ``account``, ``ip``, ``session``, ``subject`` (the pseudonym),
  ``outcome`` (the portal's), then one ``action`` (``kind:target``) per
  action, one ``detector`` and one ``reason`` (code) per reason (a
  parameter may repeat in an element: RFC 5424 §7.2.1 does so with the
  ``origin`` element's ``ip``), and last ``user_agent``. Values have
  ``"``, ``\\`` and ``]`` escaped (RFC 5424 §6.3.3).
- **MSG**: the UTF-8 byte order mark, then `rempart.soc.alerts.summary`,
  as RFC 5424 §6.4 asks of a UTF-8 MSG.

Lengths are bounded: each parameter value is cut to ``value_max`` octets
(default 256) and the whole message to ``max_length`` (default 2048, what RFC
5424 says a receiver should accept): parameters that no longer fit are left
out, in which case a last ``truncated="true"`` says so, and the MSG is cut to
the room left, or left out. Control characters (line ends included) are
written as ``\\uXXXX``, so a message is always one line whatever an attacker
put in a user agent.

`SyslogSender` delivers the messages to a collector: one datagram per
message over UDP (RFC 5426), or over TCP with octet-counting framing
(``LEN SP MSG``, RFC 6587 §3.4.1). No TLS (RFC 5425): use a local relay.

>>> from datetime import UTC, datetime
>>> from rempart.decision import Decision, Verdict
>>> decision = Decision(event_id="ev1", verdict=Verdict.DENY,
...                     time=datetime(2022, 3, 1, 9, 0, tzinfo=UTC))
>>> SyslogFormat(hostname="guard1").message(decision, None).decode()
'<84>1 2022-03-01T09:00:00.000000Z guard1 rempart - deny [rempart@32473 event_id="ev1" \
verdict="deny" alert="true"] \\ufeffdeny event ev1'
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from enum import IntEnum, StrEnum
from types import TracebackType
from typing import Final
from urllib.parse import urlsplit

from rempart.decision import Decision
from rempart.errors import ConfigError, RempartError
from rempart.events import Event
from rempart.soc.alerts import (
    Gravity,
    decision_time,
    detectors,
    gravity,
    is_alert,
    reason_codes,
    summary,
    utc_text,
)

__all__ = [
    "DOCUMENTATION_PEN",
    "DeliveryError",
    "Facility",
    "Severity",
    "SyslogFormat",
    "SyslogSender",
    "Transport",
]

DOCUMENTATION_PEN: Final = 32473
"""The private enterprise number RFC 5612 reserves for documentation and examples."""

NILVALUE: Final = "-"
BOM: Final = b"\xef\xbb\xbf"
MIN_LENGTH: Final = 480
"""The shortest message every receiver must accept (RFC 5426 §3.2), so the least ``max_length``."""
UDP_MAX: Final = 65_507
"""The largest UDP payload over IPv4."""


class Facility(IntEnum):
    """RFC 5424 facility codes."""

    KERN = 0
    USER = 1
    MAIL = 2
    DAEMON = 3
    AUTH = 4
    SYSLOG = 5
    LPR = 6
    NEWS = 7
    UUCP = 8
    CRON = 9
    AUTHPRIV = 10
    FTP = 11
    NTP = 12
    AUDIT = 13
    ALERT = 14
    CLOCK = 15
    LOCAL0 = 16
    LOCAL1 = 17
    LOCAL2 = 18
    LOCAL3 = 19
    LOCAL4 = 20
    LOCAL5 = 21
    LOCAL6 = 22
    LOCAL7 = 23


class Severity(IntEnum):
    """RFC 5424 severity codes."""

    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFORMATIONAL = 6
    DEBUG = 7


_SEVERITY_OF: Final = {
    Gravity.INFORMATIONAL: Severity.INFORMATIONAL,
    Gravity.LOW: Severity.NOTICE,
    Gravity.MEDIUM: Severity.NOTICE,
    Gravity.HIGH: Severity.WARNING,
}

_PRINTUSASCII: Final = re.compile(r"[\x21-\x7e]+")
_SD_NAME: Final = re.compile(r"[\x21-\x7e]{1,32}")
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: anything that
# could end a line for a reader of the file or the collector.
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPED: Final = re.compile(r'["\\\]]')
_TRUNCATED: Final = b' truncated="true"'
_LONGEST_MSGID: Final = len("challenge")
_TIMESTAMP_LENGTH: Final = len("2022-03-01T09:00:00.000000Z")


def _visible(text: str) -> str:
    """``text`` with every control character written as ``\\uXXXX``: one line, always."""
    return _CONTROL.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def _cut(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 fits in ``limit`` octets (no split character)."""
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return raw.decode("utf-8")
    return raw[:limit].decode("utf-8", "ignore")


def _header_field(key: str, value: str | None, limit: int) -> str:
    """A HOSTNAME, APP-NAME or PROCID: printable US-ASCII, at most ``limit`` octets, or ``-``."""
    if value is None or value == NILVALUE:
        return NILVALUE
    if len(value) > limit or not _PRINTUSASCII.fullmatch(value):
        raise ConfigError(key, f"1 to {limit} printable US-ASCII characters, or None", value)
    return value


def _sd_id(enterprise: int) -> str:
    sd_id = f"rempart@{enterprise}"
    if enterprise < 1 or not _SD_NAME.fullmatch(sd_id):
        raise ConfigError("enterprise", "an IANA private enterprise number", enterprise)
    return sd_id


class SyslogFormat:
    """The ``syslog`` export format: one RFC 5424 message per decision.

    ``facility`` (default ``authpriv``), ``hostname`` and ``procid`` (default
    ``-``), ``app_name`` (``rempart``), ``enterprise`` (the SD-ID's private
    enterprise number, default RFC 5612's `DOCUMENTATION_PEN`),
    ``max_length`` (octets of a whole message, at least `MIN_LENGTH`) and
    ``value_max`` (octets of one parameter value) are checked here, once:
    invalid ones raise `rempart.errors.ConfigError`.
    """

    __slots__ = ("_element", "_max_length", "_origin", "_value_max", "facility", "name")

    def __init__(
        self,
        *,
        facility: Facility = Facility.AUTHPRIV,
        hostname: str | None = None,
        app_name: str = "rempart",
        procid: str | None = None,
        enterprise: int = DOCUMENTATION_PEN,
        max_length: int = 2048,
        value_max: int = 256,
        name: str = "syslog",
    ) -> None:
        self.name = name
        self.facility = Facility(facility)
        host = _header_field("hostname", hostname, 255)
        app = _header_field("app_name", app_name, 48)
        process = _header_field("procid", procid, 128)
        self._origin = f"{host} {app} {process}"
        self._element = f"[{_sd_id(enterprise)}".encode("ascii")
        longest = (
            len(f"<191>1 {'T' * _TIMESTAMP_LENGTH} {self._origin} {'M' * _LONGEST_MSGID} ")
            + len(self._element)
            + len(_TRUNCATED)
            + 1
        )
        if max_length < max(MIN_LENGTH, longest + 64):
            raise ConfigError(
                "max_length",
                f"at least {max(MIN_LENGTH, longest + 64)} octets for this header",
                max_length,
            )
        if value_max < 16:
            raise ConfigError("value_max", "at least 16 octets", value_max)
        self._max_length = max_length
        self._value_max = value_max

    def __repr__(self) -> str:
        return f"SyslogFormat(facility={self.facility.name}, origin={self._origin!r})"

    def _parameters(self, decision: Decision, event: Event | None) -> Iterator[tuple[str, str]]:
        yield "event_id", decision.event_id
        yield "verdict", decision.verdict.value
        yield "alert", "true" if is_alert(decision) else "false"
        if event is not None:
            yield "kind", event.kind.value
            if event.account is not None:
                yield "account", event.account
            yield "ip", event.ip
            if event.session is not None:
                yield "session", event.session
            if event.subject is not None:
                yield "subject", event.subject
            yield "outcome", event.outcome.value
        for action in decision.actions:
            yield "action", f"{action.kind.value}:{action.target}"
        for detector in detectors(decision):
            yield "detector", detector
        for code in reason_codes(decision):
            yield "reason", code
        if event is not None and event.user_agent:
            yield "user_agent", event.user_agent

    def message(self, decision: Decision, event: Event | None = None) -> bytes:
        """``decision`` (and the ``event`` it decided) as one RFC 5424 message, without line end.

        ValueError when neither has a time.

        >>> from rempart.decision import Decision, Verdict
        >>> from rempart.testing import make_event
        >>> line = SyslogFormat().message(Decision(event_id="ev1", verdict=Verdict.ALLOW),
        ...                               make_event(event_id="ev1", user_agent='say "hi"]'))
        >>> line[:line.index(b"[")]
        b'<86>1 2022-03-01T09:00:00.000000Z - rempart - allow '
        >>> line[line.index(b"user_agent"):line.index(b"\\xef")]
        b'user_agent="say \\\\"hi\\\\"\\\\]"] '
        """
        priority = self.facility * 8 + _SEVERITY_OF[gravity(decision)]
        timestamp = utc_text(decision_time(decision, event))
        head = f"<{priority}>1 {timestamp} {self._origin} {decision.verdict.value} ".encode()
        budget = self._max_length - len(head) - len(self._element) - 1 - len(_TRUNCATED)
        pieces = [head, self._element]
        truncated = False
        for key, value in self._parameters(decision, event):
            text = _ESCAPED.sub(r"\\\g<0>", _cut(_visible(value), self._value_max))
            piece = f' {key}="{text}"'.encode()
            if len(piece) <= budget:
                pieces.append(piece)
                budget -= len(piece)
            else:
                truncated = True
        if truncated:
            pieces.append(_TRUNCATED)
        pieces.append(b"]")
        room = self._max_length - sum(map(len, pieces)) - 1 - len(BOM)
        text = _cut(_visible(summary(decision, event)), room) if room > 0 else ""
        if text:
            pieces += [b" ", BOM, text.encode()]
        return b"".join(pieces)

    def render(self, decision: Decision, event: Event | None) -> Iterator[bytes]:
        """The `message` of ``decision``.

        >>> from datetime import UTC, datetime
        >>> from rempart.decision import Decision, Verdict
        >>> decision = Decision(event_id="ev1", verdict=Verdict.ALLOW,
        ...                     time=datetime(2022, 3, 1, tzinfo=UTC))
        >>> local0 = SyslogFormat(facility=Facility.LOCAL0)
        >>> [message[:5] for message in local0.render(decision, None)]
        [b'<134>']
        """
        yield self.message(decision, event)


class DeliveryError(RempartError):
    """The syslog collector could not be reached, or a message could not be handed to it."""


class Transport(StrEnum):
    """How messages reach the collector."""

    UDP = "udp"
    """One datagram per message (RFC 5426): nothing says it arrived."""
    TCP = "tcp"
    """A stream, each message preceded by its length in octets and a space (RFC 6587)."""


class SyslogSender:
    """Sends syslog messages to a collector at ``host``:``port`` over ``transport``.

    The connection is opened here (a TCP connect, or a connected UDP socket)
    and used for every `send`; close it with `close` or a ``with`` block. A
    failure raises `DeliveryError`.
    """

    __slots__ = ("_socket", "address", "transport")

    def __init__(
        self,
        host: str,
        port: int,
        *,
        transport: Transport = Transport.UDP,
        timeout: float = 5.0,
    ) -> None:
        if not 0 < port < 65_536:
            raise ConfigError("port", "a port number from 1 to 65535", port)
        self.transport = Transport(transport)
        self.address = f"{self.transport.value}://{host}:{port}"
        try:
            if self.transport is Transport.TCP:
                self._socket = socket.create_connection((host, port), timeout=timeout)
            else:
                family, kind, protocol, _, target = socket.getaddrinfo(
                    host, port, type=socket.SOCK_DGRAM
                )[0]
                self._socket = socket.socket(family, kind, protocol)
                self._socket.settimeout(timeout)
                self._socket.connect(target)
        except OSError as error:
            raise DeliveryError(f"syslog collector {self.address}: {error}") from error

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 5.0) -> SyslogSender:
        """A sender to ``udp://host:port`` or ``tcp://host:port`` (``[::1]`` for IPv6).

        >>> SyslogSender.from_url("smtp://127.0.0.1:25")
        Traceback (most recent call last):
          ...
        rempart.errors.ConfigError: syslog: expected udp://host:port or tcp://host:port, \
got 'smtp://127.0.0.1:25'
        """
        parts = urlsplit(url)
        try:
            port = parts.port  # ValueError for a port that is not a number from 0 to 65535
        except ValueError:
            port = None
        if (
            parts.scheme not in {transport.value for transport in Transport}
            or parts.hostname is None
            or port is None
            or parts.path not in ("", "/")
            or parts.query
        ):
            raise ConfigError("syslog", "udp://host:port or tcp://host:port", url)
        return cls(parts.hostname, port, transport=Transport(parts.scheme), timeout=timeout)

    def send(self, message: bytes) -> None:
        """Deliver one message (framed by its length over TCP)."""
        try:
            if self.transport is Transport.TCP:
                self._socket.sendall(b"%d %s" % (len(message), message))
            elif len(message) > UDP_MAX:
                raise DeliveryError(
                    f"syslog collector {self.address}: a {len(message)}-octet message "
                    f"does not fit in a datagram"
                )
            else:
                self._socket.send(message)
        except OSError as error:
            raise DeliveryError(f"syslog collector {self.address}: {error}") from error

    def close(self) -> None:
        """Close the connection."""
        self._socket.close()

    def __enter__(self) -> SyslogSender:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
