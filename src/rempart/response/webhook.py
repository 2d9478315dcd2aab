"""The portal webhook: session revocation and account locks, signed, carried out by the portal.

Each action is one ``POST`` of a JSON object::

    {"id": 7, "action": "lock_account", "target": "A00042",
     "until": null, "trigger": "guard:canary", "time": "2022-03-01T09:00:00Z"}

``action`` is the record's kind (``revoke_session``, ``lock_account``,
``ban_address``), or for a lift ``unlock_account`` / ``unban``. The header
``X-Rempart-Signature: sha256=<hex>`` is the HMAC-SHA256 of the exact body
bytes under the shared secret; the portal checks it with `verify_signature`
before acting. Any answer but 2xx, a timeout or a connection error raises
`EnforcementError`.

>>> from rempart.secret import Secret
>>> body = b'{"id":1}'
>>> verify_signature(Secret("k"), body, sign(Secret("k"), body))
True
>>> verify_signature(Secret("k"), body + b" ", sign(Secret("k"), body))
False
"""

from __future__ import annotations

import hashlib
import hmac
from types import TracebackType
from typing import Any, Final

import httpx
import msgspec

from rempart.errors import ConfigError
from rempart.guard.decision import ActionKind
from rempart.response.enforcers import EnforcementError
from rempart.response.record import ActionRecord
from rempart.secret import Secret

__all__ = ["SIGNATURE_HEADER", "WebhookEnforcer", "sign", "verify_signature"]

SIGNATURE_HEADER: Final = "X-Rempart-Signature"
_PREFIX: Final = "sha256="
_LIFT_ACTIONS: Final = {
    ActionKind.LOCK_ACCOUNT: "unlock_account",
    ActionKind.BAN_ADDRESS: "unban",
}


def sign(secret: Secret, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return _PREFIX + hmac.new(secret.reveal(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: Secret, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant time)."""
    if header is None or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body), header)


class WebhookEnforcer:
    """Posts signed actions to the portal, which revokes sessions and locks accounts.

    ``url``: the portal's endpoint (http or https). ``secret``: the HMAC key
    shared with the portal. ``client``: an `httpx.Client` to reuse (the
    caller closes it); else one is made and closed by `close`. ``kinds``:
    the action kinds sent (add ``ban_address`` when the portal also keeps a
    ban list). ``timeout``: seconds for the whole exchange.
    """

    def __init__(
        self,
        url: str,
        secret: Secret,
        client: httpx.Client | None = None,
        *,
        kinds: frozenset[ActionKind] = frozenset(
            {ActionKind.REVOKE_SESSION, ActionKind.LOCK_ACCOUNT}
        ),
        timeout: float = 5.0,
        name: str = "webhook",
    ) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ConfigError("webhook.url", "an http:// or https:// URL", url)
        if not isinstance(secret, Secret) or not secret.reveal():
            raise ConfigError("webhook.secret", "a non-empty Secret", "<empty or not a Secret>")
        if timeout <= 0:
            raise ConfigError("webhook.timeout", "a positive number of seconds", timeout)
        self.url = url
        self.name = name
        self.kinds = frozenset(kinds)
        self._secret = secret
        self._timeout = httpx.Timeout(timeout)
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=self._timeout)

    def payload(self, record: ActionRecord) -> dict[str, Any]:
        """The JSON object sent for ``record``."""
        if record.is_lift:
            action = _LIFT_ACTIONS.get(record.kind)
            if action is None:  # the ledger only lifts locks and bans
                raise EnforcementError(f"no lift message for {record.kind.value}")
        else:
            action = record.kind.value
        return {
            "id": record.id,
            "action": action,
            "target": record.target,
            "until": record.until,
            "trigger": record.trigger,
            "time": record.time,
        }

    def _send(self, record: ActionRecord) -> None:
        body = msgspec.json.encode(self.payload(record))
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self._secret, body)}
        try:
            response = self._client.post(
                self.url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as error:
            raise EnforcementError(f"{self.url}: {type(error).__name__}: {error}") from error
        if not response.is_success:
            raise EnforcementError(f"{self.url} answered {response.status_code}")

    def apply(self, record: ActionRecord) -> None:
        """Post ``record`` to the portal."""
        self._send(record)

    def lift(self, record: ActionRecord) -> None:
        """Post the lift ``record`` (``unlock_account`` or ``unban``) to the portal."""
        self._send(record)

    def close(self) -> None:
        """Close the HTTP client if this enforcer made it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> WebhookEnforcer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"WebhookEnforcer({self.url!r}, {self._secret!r})"
