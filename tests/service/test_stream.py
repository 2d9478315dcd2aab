"""The CrowdSec decision stream over HTTP: bouncer keys, startup and incremental polls, filters."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher

from rempart.stores.keys import GuardKeys

from .world import FAST_HASHER, T0, Client, Portal, Service

STREAM = "/v1/decisions/stream"
GUESSER = "51.75.3.7"  # an OVH server guessing passwords


class Clock:
    """The service's clock, moved by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class CountingHasher(PasswordHasher):
    """FAST_HASHER's costs, counting every argon2 verification."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verifications += 1
        return super().verify(hash, password)


class Bouncers:
    """A decision API with a hand-moved clock, a portal client and bouncer keys."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.service = Service(clock=self.clock)
        self.portal = Portal()
        self.client = self.service.client()

    def key(self, label: str = "firewall") -> str:
        """A new bouncer key's clear text."""
        _, clear = self.service.keys.generate(label, role="bouncer")
        return clear.reveal().decode()

    def poll(self, key: str, **query: Any) -> dict[str, Any]:
        """One bouncer poll with ``key``, as CrowdSec bouncers send it."""
        params = {name: str(value).lower() for name, value in query.items()}
        response = Client(self.service.app, {"X-Api-Key": key}).get(STREAM, params=params)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def guess_passwords(self, ip: str = GUESSER) -> dict[str, Any]:
        """Failed logins on three accounts from ``ip``: the guard bans it (returns the decision)."""
        decision: dict[str, Any] = {}
        for account in ("A1", "A2", "A3"):
            event = self.portal.event(
                kind="login_failure", account=account, ip=ip, outcome="failure"
            )
            decision = self.client.post("/v1/decide", json=event).json()
        assert decision["actions"][0]["kind"] == "ban_address", decision
        assert decision["actions"][0]["target"] == ip
        return decision


def _values(decisions: list[dict[str, Any]] | None) -> list[str]:
    return [decision["value"] for decision in decisions or []]


def test_startup_gives_every_ban_in_force_and_nothing_deleted() -> None:
    """A bouncer starting gets each ban the guard decided, in CrowdSec's decision form."""
    world = Bouncers()
    world.guess_passwords()
    world.guess_passwords("2001:db8::66")
    answer = world.poll(world.key(), startup=True)
    assert _values(answer["new"]) == [GUESSER, "2001:db8::66"]
    assert answer["deleted"] == []
    first = answer["new"][0]
    assert first["scope"] == "Ip"
    assert first["type"] == "ban"
    assert first["origin"] == "rempart"
    assert first["scenario"] == "rempart/address_guessing"
    # The ban runs 60 minutes from the third failure, three minutes after T0, the clock's time.
    assert first["duration"] == "1h3m0s"


def test_later_polls_give_only_what_changed_since_the_previous_one() -> None:
    """After startup a poll answers nothing until a new ban, then that ban alone, once."""
    world = Bouncers()
    world.guess_passwords()
    key = world.key()
    world.poll(key, startup=True)
    assert world.poll(key, startup=False) == {"new": [], "deleted": []}
    world.guess_passwords("90.80.70.60")
    assert _values(world.poll(key, startup=False)["new"]) == ["90.80.70.60"]
    assert world.poll(key, startup=False) == {"new": [], "deleted": []}


def test_a_ban_lifted_through_the_api_is_deleted_at_the_next_poll() -> None:
    """Lifting a ban moves it to ``deleted`` once, with its id; the ledger says which key lifted."""
    world = Bouncers()
    world.guess_passwords()
    key = world.key()
    banned = world.poll(key, startup=True)["new"]
    world.clock.now += timedelta(minutes=10)
    assert world.client.post(f"/v1/bans/{GUESSER}/lift").json()["banned"] is False
    answer = world.poll(key)
    assert answer["new"] == []
    assert [(d["id"], d["value"]) for d in answer["deleted"]] == [(banned[0]["id"], GUESSER)]
    assert world.poll(key) == {"new": [], "deleted": []}
    lift = world.service.app.state.service.ledger.history()[-1]
    assert (lift.trigger, lift.lifts) == (f"key:{world.service.key_id}", (banned[0]["id"],))


def test_an_expired_ban_is_deleted_too() -> None:
    """A ban that runs out between two polls comes as ``deleted``, so the bouncer drops it."""
    world = Bouncers()
    world.guess_passwords()
    key = world.key()
    assert _values(world.poll(key, startup=True)["new"]) == [GUESSER]
    world.clock.now += timedelta(minutes=62)
    assert world.poll(key) == {"new": [], "deleted": []}
    world.clock.now += timedelta(minutes=2)
    assert _values(world.poll(key)["deleted"]) == [GUESSER]
    assert world.poll(key) == {"new": [], "deleted": []}


def test_each_bouncer_key_has_its_own_cursor() -> None:
    """One bouncer's poll does not consume what another has yet to be told."""
    world = Bouncers()
    firewall, nginx = world.key("firewall"), world.key("nginx")
    world.poll(firewall, startup=True)
    world.poll(nginx, startup=True)
    world.guess_passwords()
    assert _values(world.poll(firewall)["new"]) == [GUESSER]
    world.client.post(f"/v1/bans/{GUESSER}/lift")
    assert _values(world.poll(firewall)["deleted"]) == [GUESSER]
    # nginx never saw the ban: it was banned and lifted between its polls, so nothing to do.
    assert world.poll(nginx) == {"new": [], "deleted": []}
    late = world.key("late")
    assert world.poll(late, startup=True) == {"new": [], "deleted": []}


def test_a_bouncer_never_answered_gets_the_lifted_bans_as_deleted() -> None:
    """A first poll without startup (Rempart restarted under a running bouncer) is told of
    every ban in force and every early lift, since it may hold any of them."""
    world = Bouncers()
    world.guess_passwords()
    world.guess_passwords("90.80.70.60")
    world.client.post("/v1/bans/90.80.70.60/lift")
    answer = world.poll(world.key(), startup=False)
    assert (_values(answer["new"]), _values(answer["deleted"])) == ([GUESSER], ["90.80.70.60"])


def test_head_checks_the_key_without_moving_the_cursor() -> None:
    """HEAD (as bouncers use it to test their key) answers 200 and leaves the next poll intact."""
    world = Bouncers()
    key = world.key()
    world.poll(key, startup=True)
    world.guess_passwords()
    assert Client(world.service.app, {"X-Api-Key": key}).request("HEAD", STREAM).status_code == 200
    assert _values(world.poll(key)["new"]) == [GUESSER]


@pytest.mark.parametrize(
    ("query", "sent"),
    [
        ({"scopes": "ip,range"}, True),
        ({"scopes": "Ip"}, True),
        ({"scopes": "range"}, False),
        ({"scopes": "country,as"}, False),
        ({"origins": "crowdsec,rempart"}, True),
        ({"origins": "crowdsec,cscli"}, False),
        ({"scenarios_containing": "ssh,guessing"}, True),
        ({"scenarios_containing": "ssh"}, False),
        ({"scenarios_not_containing": "GUESSING"}, False),
        ({"scenarios_not_containing": "http-probing"}, True),
        ({"community_pull": "false", "additional_pull": "false"}, True),  # newer bouncers' flags
    ],
)
def test_the_bouncers_filters_are_honoured(query: dict[str, str], sent: bool) -> None:
    """Scopes, origins and scenario words filter the stream as the Local API does; unknown
    parameters are accepted and ignored."""
    world = Bouncers()
    world.guess_passwords()
    answer = world.poll(world.key(), startup=True, **query)
    assert _values(answer["new"]) == ([GUESSER] if sent else [])


def test_a_filtered_out_ban_is_never_deleted_either() -> None:
    """A bouncer asking for ranges only is told neither of an address ban nor of its lift."""
    world = Bouncers()
    world.guess_passwords()
    key = world.key()
    assert world.poll(key, startup=True, scopes="range")["new"] == []
    world.client.post(f"/v1/bans/{GUESSER}/lift")
    assert world.poll(key, scopes="range") == {"new": [], "deleted": []}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Api-Key": ""},
        {"X-Api-Key": "rb_000000000000_" + "x" * 43},  # well formed, unknown id
        {"X-Api-Key": "not-a-key"},
        "portal key as X-Api-Key",
        "portal key as Bearer",
        "bouncer key with a wrong secret",
    ],
)
def test_the_stream_refuses_anything_but_a_bouncer_key(
    method: str, headers: dict[str, str] | str
) -> None:
    """A missing, wrong or portal key is a 403, as CrowdSec's Local API answers."""
    world = Bouncers()
    key = world.key()
    if headers == "portal key as X-Api-Key":
        headers = {"X-Api-Key": world.service.key}
    elif headers == "portal key as Bearer":
        headers = world.service.headers
    elif headers == "bouncer key with a wrong secret":
        headers = {"X-Api-Key": key[:-1] + ("A" if key[-1] != "A" else "B")}
    assert isinstance(headers, dict)
    response = Client(world.service.app).request(method, STREAM, headers=headers)
    assert response.status_code == 403
    if method == "GET":
        assert response.json()["error"] == "forbidden"


def test_a_wrong_bouncer_key_costs_no_argon2_verification() -> None:
    """Refusing a wrong, unknown or portal key on the stream never runs argon2."""
    world = Bouncers()
    hasher = CountingHasher()
    world.service.keys.hasher = hasher
    key = world.key()
    for presented in (
        key[:-1] + ("A" if key[-1] != "A" else "B"),
        "rb_000000000000_" + "x" * 43,
        world.service.key,
        "junk",
    ):
        response = Client(world.service.app, {"X-Api-Key": presented}).get(STREAM)
        assert response.status_code == 403
    assert hasher.verifications == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/decide"),
        ("POST", f"/v1/bans/{GUESSER}/lift"),
        ("GET", "/v1/accounts/A1"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
    ],
)
def test_a_bouncer_key_opens_nothing_but_the_stream(method: str, path: str) -> None:
    """Sent as a Bearer key, a bouncer key is a 403 elsewhere; sent as X-Api-Key, a 401."""
    world = Bouncers()
    world.guess_passwords()
    key = world.key()
    body = world.portal.login()
    as_bearer = Client(world.service.app, {"Authorization": f"Bearer {key}"})
    refused = as_bearer.request(method, path, json=body)
    assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    as_header = Client(world.service.app, {"X-Api-Key": key}).request(method, path, json=body)
    assert as_header.status_code == 401
    # The ban stands and no decision was taken for the bouncer.
    assert _values(world.poll(key, startup=True)["new"]) == [GUESSER]
    assert world.service.guard.store.get(GuardKeys.ban(GUESSER), T0.timestamp() + 300) is not None


def test_a_bouncer_key_is_stored_as_a_sha256_digest(tmp_path: Any) -> None:
    """The key file holds the bouncer key's role and digest, never the key, and loads back."""
    from rempart.service import ApiKeys

    keys = ApiKeys(hasher=FAST_HASHER)
    key_id, clear = keys.generate("firewall", role="bouncer")
    keys.save(tmp_path / "keys.json")
    text = (tmp_path / "keys.json").read_text()
    assert clear.reveal().decode() not in text
    assert '"role":"bouncer"' in text.replace(" ", "")
    assert '"hash":"sha256:' in text.replace(" ", "")
    loaded = ApiKeys.load(tmp_path / "keys.json")
    assert loaded.bouncer(clear.reveal().decode()) == key_id
    assert loaded.verify(clear.reveal().decode()) is None
