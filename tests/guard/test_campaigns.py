"""Campaigns without hosting labels: a broad AS is not a network, a proxy pool's exits spread
over many operators, and a portal-wide surge tightens the accounts feeding it."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from rempart.guard import Guard, Knowledge, Policy, Verdict
from rempart.networks import BROAD_AS_ADDRESSES, NetworkRange, NetworkTable
from rempart.stores.memory import MemoryStore
from rempart.testing import pseudonym_for
from tests.guard.test_guard import FIREFOX_MAC, T0, Portal, _established, knowledge

CARRIER = 64_500  # a national carrier: a /11, two million addresses
REGIONAL = 64_501  # a regional ISP: a /16
OTHERS = (64_502, 64_503, 64_504)


def _table() -> NetworkTable:
    ranges = [
        NetworkRange(ipaddress.ip_network("90.0.0.0/11"), CARRIER, "Carrier", "FR"),
        NetworkRange(ipaddress.ip_network("100.64.0.0/16"), REGIONAL, "Regional", "FR"),
    ]
    ranges += [
        NetworkRange(ipaddress.ip_network(f"100.{70 + k}.0.0/16"), asn, f"Other {k}", "FR")
        for k, asn in enumerate(OTHERS)
    ]
    return NetworkTable(ranges)


def _portal() -> Portal:
    """A1 and A2 at one pharmacy, their usual line 90.12.34.56 on the national carrier."""
    world = knowledge()
    return Portal(
        Guard(Knowledge(world.accounts, world.sites, world.canaries, _table()), MemoryStore())
    )


def test_only_an_as_over_a_million_addresses_is_broad() -> None:
    """The table's broad ASes are those announcing more than a million IPv4 addresses."""
    table = _table()
    assert BROAD_AS_ADDRESSES < 2 * 1024 * 1024
    assert table.is_broad(CARRIER)
    assert not table.is_broad(REGIONAL)
    assert not table.is_broad(0)


def test_another_prefix_of_a_broad_as_is_a_new_network() -> None:
    """Having used a national carrier's line says nothing of another of its prefixes (a
    stranger's home line on the same carrier): with a new browser there, it is someone else's
    device. Another prefix of a regional ISP the account used is still its own network: only
    the browser is new, and the session reads at the plain budget."""
    portal = _portal()
    _established(portal)  # from 90.12.34.56, the carrier
    portal.login(session="r1", ip="100.64.1.1")
    portal.guard.decide(portal.read(session="r1", ip="100.64.1.1"))
    portal.now += timedelta(hours=3)
    portal.login(session="c1", ip="90.30.1.2", user_agent=FIREFOX_MAC)
    assert portal.reads_until_challenged("c1", ip="90.30.1.2", user_agent=FIREFOX_MAC) == 3
    portal.now += timedelta(hours=3)
    portal.login(session="r2", ip="100.64.200.3", user_agent=FIREFOX_MAC)
    assert portal.reads_until_challenged("r2", ip="100.64.200.3", user_agent=FIREFOX_MAC) == 10


def test_new_networks_in_many_address_blocks_in_a_day_tighten_those_sessions() -> None:
    """An account logging in, within a day, from networks new to it in three /16 blocks (a
    residential proxy pool's exits) has those sessions tightened, saying why; three new
    prefixes of one block (an owner on the move on one carrier) do not count."""
    policy = Policy.default().takeover
    assert policy.new_networks_day == 3
    hopping = _portal()
    _established(hopping)
    for k in range(len(OTHERS)):
        hopping.login(session=f"h{k}", ip=f"100.{70 + k}.5.5")
    decision = hopping.guard.decide(hopping.read(session="h2", ip="100.72.5.5"))
    assert decision.verdict is Verdict.ALLOW
    allowed = 1 + hopping.reads_until_challenged("h2", ip="100.72.5.5")
    challenged = hopping.guard.decide(hopping.read(session="h2", ip="100.72.5.5"))
    (reason,) = [r for r in challenged.reasons if r.code == "unexplained_budget"]
    assert "new networks in 3 address blocks" in reason.message

    moving = _portal()
    _established(moving)
    for k in range(3):
        moving.login(session=f"m{k}", ip=f"100.70.{k + 1}.5")
    same_operator = moving.reads_until_challenged("m2", ip="100.70.3.5")
    assert same_operator > allowed


def test_a_surge_tightens_only_the_accounts_feeding_it() -> None:
    """Once portal-wide unexplained reads in an hour cross the surge threshold, an account
    whose unexplained read another sign already tightened (someone else's device) gets a much
    tighter budget, for the hour that follows; a colleague reading from the usual line with
    nothing tightened does not."""
    policy = Policy.default().population
    portal = _portal()
    _established(portal)
    portal.now = T0 + timedelta(days=10)  # a week with no unexplained read: the floor rules
    portal.login(session="usual", account="A2", gap=1)
    portal.login(session="feed", ip="100.64.9.9", user_agent=FIREFOX_MAC, gap=1)
    for index in range(policy.surge_min_hour):
        portal.guard.decide(
            portal.event(
                gap=1,
                account=f"B{index}",
                session=f"b{index}",
                subject=pseudonym_for(80_000 + index),
                ip=f"100.71.{index}.1",
            )
        )
    stranger = {"ip": "100.64.9.9", "user_agent": FIREFOX_MAC, "gap": 1}
    feeding = portal.guard.decide(portal.read(session="feed", **stranger))
    assert feeding.verdict is Verdict.ALLOW  # a budget of 1: 10 x 0.375 x 0.2, strong floor
    assert portal.reads_until_challenged("feed", **stranger) == 0
    challenged = portal.guard.decide(portal.read(session="feed", **stranger))
    (reason,) = [r for r in challenged.reasons if r.code == "unexplained_budget"]
    assert "portal-wide surge of unexplained reads" in reason.message
    assert portal.reads_until_challenged("usual", account="A2", gap=1) == 10


def test_a_surge_leaves_an_owner_with_another_sign_alone() -> None:
    """During a surge, a professional whose budget another sign tightened (a password reset
    from their usual line and browser) keeps that budget: only sessions from someone else's
    device, or hopping across new networks, feed a surge (on incident-2022 a foreign or stale
    network label plus the surge had put dozens of professionals at a budget of 1)."""
    policy = Policy.default()
    portal = _portal()
    _established(portal)
    portal.now = T0 + timedelta(days=10)
    portal.decide(kind="password_reset", session=None, gap=1)
    portal.login(session="owner", gap=1)
    for index in range(policy.population.surge_min_hour):
        portal.guard.decide(
            portal.event(
                gap=1,
                account=f"B{index}",
                session=f"b{index}",
                subject=pseudonym_for(80_000 + index),
                ip=f"100.71.{index}.1",
            )
        )
    expected = int(policy.budget.hour * policy.takeover.credential_change)
    assert portal.reads_until_challenged("owner", gap=1) == expected
