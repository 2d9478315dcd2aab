"""The layout of the guard's state: every store key is built here, and nowhere else.

Each owner of state (a detector, the guard, the decision service) has its
own namespace, one small class below, and each kind of key in it a fixed
name. A key is one of two shapes:

- ``<owner>.<kind>:<value>``: one account's, address's, session's, site's
  or autonomous system's state (``login.failures:A00001``);
- ``<owner>.<kind>``: a portal-wide key (``login.portal_failures``).

Owners and kinds are lower-case words with no colon, so the text before a
key's first colon names exactly one kind of key and everything after it is
the value, whatever the value holds (colons, dots, nothing at all). Two keys
are therefore equal only when they are the same kind of key for the same
value, and a portal-wide key, having no colon, is never produced by any
value: an account named ``portal`` counts its failures under
``login.failures:portal``, apart from the portal's ``login.portal_failures``.
Values are not escaped and building a key is one string concatenation.

The layout lives in the stores package, below the detectors and the guard,
because all of them and the service read it (the service reads the guard's
locks and the budget's counts); ``tests/stores/test_keys.py`` proves keys of
different kinds never collide.

Changing a key here changes what a shared store (Redis) or a snapshot holds:
state written under another layout is not read.

>>> LoginKeys.account_failures("portal"), LoginKeys.PORTAL_FAILURES
('login.failures:portal', 'login.portal_failures')
>>> GuardKeys.account_evidence("A1:x") != GuardKeys.site_evidence("x")
True
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "NAMESPACES",
    "AutomationKeys",
    "BudgetKeys",
    "ChallengeKeys",
    "EnumerationKeys",
    "GuardKeys",
    "LoginKeys",
    "PopulationKeys",
    "ServiceKeys",
    "TakeoverKeys",
    "VolumeKeys",
    "session_identity",
    "vouch_identity",
]


class LoginKeys:
    """Owner ``login``: `rempart.detectors.login_attacks.LoginAttacks`."""

    __slots__ = ()

    PORTAL_FAILURES: Final = "login.portal_failures"
    """Failed logins portal-wide (a stuffing wave), counted in rolling windows."""

    @staticmethod
    def account_failures(account: str) -> str:
        """Failed logins on ``account``, counted in rolling windows."""
        return "login.failures:" + account

    @staticmethod
    def address_failures(address: str) -> str:
        """Failed logins from ``address``, counted in rolling windows."""
        return "login.address_failures:" + address

    @staticmethod
    def address_accounts(address: str) -> str:
        """The set of accounts ``address`` failed on (outside their own networks)."""
        return "login.address_accounts:" + address


class TakeoverKeys:
    """Owner ``takeover``: `rempart.detectors.takeover.TakeoverContext`."""

    __slots__ = ()

    @staticmethod
    def networks(account: str) -> str:
        """The set of /24 (or /48) prefixes ``account`` has used."""
        return "takeover.networks:" + account

    @staticmethod
    def autonomous_systems(account: str) -> str:
        """The set of autonomous systems ``account`` has used."""
        return "takeover.autonomous_systems:" + account

    @staticmethod
    def browsers(account: str) -> str:
        """The set of browsers (`rempart.useragent.browser_key`) ``account`` has used."""
        return "takeover.browsers:" + account

    @staticmethod
    def active_days(account: str) -> str:
        """The set of days ``account`` was active on, towards being established."""
        return "takeover.active_days:" + account

    @staticmethod
    def established(account: str) -> str:
        """Set once ``account`` has been active on enough distinct days."""
        return "takeover.established:" + account

    @staticmethod
    def new_networks(account: str) -> str:
        """The /16 (or /32) blocks of networks new to ``account`` it logged in from today."""
        return "takeover.new_networks:" + account

    @staticmethod
    def credential_change(account: str) -> str:
        """The time and kind of ``account``'s last password, e-mail or MFA change."""
        return "takeover.credential_change:" + account

    @staticmethod
    def session(session: str) -> str:
        """The account, prefix and autonomous system ``session`` logged in with."""
        return "takeover.session:" + session


class AutomationKeys:
    """Owner ``automation``: `rempart.detectors.automation.Automation`."""

    __slots__ = ()

    @staticmethod
    def reads(account: str) -> str:
        """``account``'s look-ups, counted over ten minutes."""
        return "automation.reads:" + account

    @staticmethod
    def pace(account: str) -> str:
        """``account``'s last read time and latest gaps between reads."""
        return "automation.pace:" + account


class EnumerationKeys:
    """Owner ``enumeration``: `rempart.detectors.enumeration.Enumeration`."""

    __slots__ = ()

    @staticmethod
    def typed_lookups(account: str) -> str:
        """``account``'s look-ups by typed NIR, counted over an hour."""
        return "enumeration.typed_lookups:" + account

    @staticmethod
    def not_found(account: str) -> str:
        """``account``'s typed look-ups that found nobody, counted over an hour."""
        return "enumeration.not_found:" + account

    @staticmethod
    def mismatches(account: str) -> str:
        """``account``'s typed look-ups with a wrong birth date, counted over an hour."""
        return "enumeration.mismatches:" + account

    @staticmethod
    def far_departments(account: str) -> str:
        """The set of distant departments ``account`` read unexplained patients from."""
        return "enumeration.far_departments:" + account


class VolumeKeys:
    """Owner ``volume``: `rempart.detectors.volume.PeerVolume`."""

    __slots__ = ()

    @staticmethod
    def reads(account: str) -> str:
        """``account``'s reads, counted over 24 hours."""
        return "volume.reads:" + account

    @staticmethod
    def day(account: str) -> str:
        """``account``'s current day and its reads so far that day."""
        return "volume.day:" + account

    @staticmethod
    def peers(profession: str) -> str:
        """The histogram of daily reads per account of ``profession``."""
        return "volume.peers:" + profession


class PopulationKeys:
    """Owner ``population``: `rempart.detectors.population.SharedInfrastructure`."""

    __slots__ = ()

    PORTAL_UNEXPLAINED: Final = "population.portal_unexplained"
    """Unexplained reads portal-wide, counted over the last hour."""
    SURGE_ALERTED: Final = "population.surge_alerted"
    """Set for an hour once the portal-wide surge alert was raised: the surge is on."""

    @staticmethod
    def portal_unexplained_at(hour: int) -> str:
        """Unexplained reads portal-wide in UTC hour ``hour`` of each day, over a week."""
        return "population.portal_unexplained_at:" + str(hour)

    @staticmethod
    def hosting_sites(asn: int) -> str:
        """The set of sites whose accounts used hosting network ``asn`` today."""
        return "population.hosting_sites:" + str(asn)

    @staticmethod
    def new_prefix_sites(prefix: str) -> str:
        """The set of sites whose accounts came through ``prefix`` as a network new to them."""
        return "population.new_prefix_sites:" + prefix


class BudgetKeys:
    """Owner ``budget``: `rempart.detectors.budget.UnexplainedBudget`."""

    __slots__ = ()

    @staticmethod
    def unexplained(account: str) -> str:
        """``account``'s unexplained reads, counted over an hour, a day and a week."""
        return "budget.unexplained:" + account

    @staticmethod
    def vouched_unexplained(vouch: str) -> str:
        """Unexplained reads of one session since it passed step-up (`vouch_identity`)."""
        return "budget.vouched_unexplained:" + vouch


class ChallengeKeys:
    """Owner ``challenges``: `rempart.detectors.challenges.UnansweredChallenges`."""

    __slots__ = ()

    @staticmethod
    def outstanding(account: str) -> str:
        """When ``account`` was last challenged with no step-up answering it since."""
        return "challenges.outstanding:" + account

    @staticmethod
    def unanswered(account: str) -> str:
        """``account``'s challenges left unanswered (read again without a step-up), counted."""
        return "challenges.unanswered:" + account

    @staticmethod
    def held(account: str) -> str:
        """Since when ``account`` has left a challenge unanswered (then held to step-up)."""
        return "challenges.held:" + account


def session_identity(account: str, session: str) -> str:
    """One account's session as one key value, unambiguously: the account's length first.

    >>> session_identity("A1", "s:9")
    '2.A1s:9'
    """
    return str(len(account)) + "." + account + session


def vouch_identity(account: str, session: str, since: float) -> str:
    """One passed step-up of a session: the session's identity and when it passed."""
    return session_identity(account, session) + "@" + repr(since)


class GuardKeys:
    """Owner ``guard``: `rempart.guard.Guard` itself (evidence, seen patients, enforcement)."""

    __slots__ = ()

    @staticmethod
    def account_evidence(account: str) -> str:
        """The set of patients dated care evidence (a claim, a card read…) ties to ``account``."""
        return "guard.account_evidence:" + account

    @staticmethod
    def site_evidence(site: str) -> str:
        """The set of patients dated care evidence ties to ``site``."""
        return "guard.site_evidence:" + site

    @staticmethod
    def account_standing(account: str) -> str:
        """The set of patients a standing relationship ties to ``account``, until it ends."""
        return "guard.account_standing:" + account

    @staticmethod
    def site_standing(site: str) -> str:
        """The set of patients a standing relationship ties to ``site``, until it ends."""
        return "guard.site_standing:" + site

    @staticmethod
    def seen(account: str) -> str:
        """The set of patients ``account`` has read with the guard's leave."""
        return "guard.seen:" + account

    @staticmethod
    def vouched(session: str) -> str:
        """When one account's session (`session_identity`) last passed step-up."""
        return "guard.vouched:" + session

    @staticmethod
    def lock(account: str) -> str:
        """``account``'s lock: since when and why."""
        return "guard.lock:" + account

    @staticmethod
    def ban(address: str) -> str:
        """``address``'s ban: until when and why."""
        return "guard.ban:" + address


class ServiceKeys:
    """Owner ``service``: `rempart.service.decisions.DecisionService`."""

    __slots__ = ()

    READY: Final = "service.ready"
    """Read (never written) to check that the store answers."""


NAMESPACES: Final = (
    LoginKeys,
    TakeoverKeys,
    AutomationKeys,
    EnumerationKeys,
    VolumeKeys,
    PopulationKeys,
    BudgetKeys,
    ChallengeKeys,
    GuardKeys,
    ServiceKeys,
)
"""Every namespace, for tests and tools that walk the layout."""
