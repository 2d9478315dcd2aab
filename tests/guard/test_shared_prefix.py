"""Shared infrastructure with no network labels: one /24 new to the accounts of several sites
within a day."""

from __future__ import annotations

from datetime import timedelta

from rempart.directory import Account, Profession, Site, SiteKind
from rempart.guard import Guard, Knowledge, Verdict
from rempart.networks import NetworkTable
from rempart.stores.memory import MemoryStore
from rempart.testing import pseudonym_for

from .test_guard import HOURS, T0, Portal, codes

SITES = ("S1", "S2", "S3")
CAMPAIGN = "82.64.9."  # one /24, of no known kind: the table is empty
THIEF = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


def _knowledge() -> Knowledge:
    """Three pharmacies, one pharmacist each, and no network data at all."""
    sites = {
        name: Site(
            site=name,
            kind=SiteKind.PHARMACY,
            department="75",
            commune="75056",
            timezone="Europe/Paris",
            hours=HOURS,
        )
        for name in SITES
    }
    accounts = {
        f"A{n}": Account(account=f"A{n}", profession=Profession.PHARMACIST, site=name)
        for n, name in enumerate(SITES, start=1)
    }
    return Knowledge(accounts=accounts, sites=sites, networks=NetworkTable(()))


def _established(portal: Portal, account: str, home: str) -> None:
    """Three days of logins and explained reads from the account's own line."""
    for day in range(3):
        portal.now = T0 + timedelta(days=day, minutes=10 * int(account[1:]))
        session = f"{account}-d{day}"
        portal.login(session=session, account=account, ip=home)
        subject = pseudonym_for(80_000 + 10 * day + int(account[1:]))
        portal.evidence(subject, site=f"S{account[1:]}")
        portal.guard.decide(portal.read(session=session, subject=subject, account=account, ip=home))


def _portal() -> Portal:
    portal = Portal(Guard(_knowledge(), MemoryStore()))
    for n in (1, 2, 3):
        _established(portal, f"A{n}", f"90.{n}.1.1")
    portal.now = T0 + timedelta(days=3)
    return portal


def test_the_third_site_through_one_new_prefix_is_tightened_and_alerted() -> None:
    """Accounts of three sites logging in through one /24 new to each, with a browser new to
    each: the third login is tightened and raises an alert naming the prefix, with no network
    label at all."""
    portal = _portal()
    first = portal.login(session="c1", account="A1", ip=CAMPAIGN + "10", user_agent=THIEF)
    second = portal.login(session="c2", account="A2", ip=CAMPAIGN + "11", user_agent=THIEF)
    third = portal.login(session="c3", account="A3", ip=CAMPAIGN + "12", user_agent=THIEF)
    assert "shared_new_network" not in codes(first) + codes(second)
    assert third.verdict is Verdict.ALLOW
    assert "shared_new_network" in codes(third)
    assert any(action.target == "82.64.9.0/24" for action in third.actions)


def test_a_prefix_already_known_to_an_account_does_not_count() -> None:
    """A site whose account already used the prefix is no sign: two sites new to it are not
    three, although three sites logged in through it."""
    portal = _portal()
    portal.now -= timedelta(days=2)
    portal.login(session="own", account="A3", ip=CAMPAIGN + "50")  # A3's own, known line
    portal.now += timedelta(days=2)
    portal.login(session="c1", account="A1", ip=CAMPAIGN + "10", user_agent=THIEF)
    portal.login(session="c2", account="A2", ip=CAMPAIGN + "11", user_agent=THIEF)
    known = portal.login(session="c3", account="A3", ip=CAMPAIGN + "12", user_agent=THIEF)
    assert "shared_new_network" not in codes(known)


def test_professionals_with_their_own_phones_on_one_new_prefix_do_not_add_up() -> None:
    """Pharmacists of three sites whose phones land on the same unlabelled carrier NAT /24
    bring the browsers their accounts know: the prefix is new to each, but not the device, so
    no site counts (the `none` level's false alarms on incident-2022 came from this)."""
    portal = _portal()
    for n in (1, 2, 3):  # each account has used its phone before, from its own line
        portal.login(session=f"p{n}", account=f"A{n}", ip=f"90.{n}.1.1", user_agent=PHONE)
    own = [
        portal.login(session=f"m{n}", account=f"A{n}", ip=CAMPAIGN + str(n), user_agent=PHONE)
        for n in (1, 2, 3)
    ]
    assert all("shared_new_network" not in codes(decision) for decision in own)
