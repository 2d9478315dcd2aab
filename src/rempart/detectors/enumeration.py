"""Enumeration and sweeps, seen without the clear NIR.

The guard never sees the typed number, but it sees what the portal answered:
many typed look-ups that found nobody, birth dates that do not match, a
canary record (a patient no real care ever touches), and unexplained patients
spread over departments far from the site's own. A canary read is refused and
the account locked at once; a high not-found share or many mismatches are
challenged; a wide spread tightens the budget; a single unexplained read of a
far-away patient raises an alert for review.
"""

from __future__ import annotations

from rempart.decision import Action, ActionKind, Reason, Verdict
from rempart.detectors.base import Finding
from rempart.detectors.context import EventContext
from rempart.events import EventKind
from rempart.geography import departments, neighbourhood
from rempart.policy import Policy
from rempart.stores.base import StateStore, Window
from rempart.stores.keys import EnumerationKeys

__all__ = ["Enumeration"]

_HOUR = (Window(3_600, 60),)


class Enumeration:
    """Canary reads, not-found and mismatch bursts, and far-flung unexplained patients."""

    name = "enumeration"

    def __init__(self, store: StateStore, policy: Policy, canaries: frozenset[str]) -> None:
        self.store = store
        self.policy = policy.enumeration
        self.canaries = canaries
        # Read the departments table now: a broken one stops the guard at start-up,
        # rather than making every patient look far away.
        self._near = {record.code: neighbourhood(record.code) for record in departments()}

    def _near_site(self, department: str) -> frozenset[str]:
        near = self._near.get(department)
        if near is None:  # a department the table does not list: its own only neighbour
            near = self._near[department] = neighbourhood(department)
        return near

    def score_one(self, context: EventContext) -> Finding | None:
        event = context.event
        if event.kind is not EventKind.RECORD_VIEW or event.account is None:
            return None
        account = event.account
        if event.subject is not None and event.subject in self.canaries:
            return Finding(
                detector=self.name,
                verdict=Verdict.DENY,
                reason=Reason(
                    detector=self.name,
                    code="canary",
                    message=(
                        f"a canary record was looked up (one of {len(self.canaries):,} planted; "
                        "no real care ever reads them)"
                    ),
                    figures={"canaries": float(len(self.canaries))},
                ),
                actions=(
                    Action(kind=ActionKind.LOCK_ACCOUNT, target=account),
                    Action(kind=ActionKind.ALERT, target=account),
                ),
            )
        policy, store, now = self.policy, self.store, context.t
        if context.typed_lookup:
            (lookups,) = store.counts(EnumerationKeys.typed_lookups(account), now, _HOUR)
            (missing,) = store.counts(EnumerationKeys.not_found(account), now, _HOUR)
            (mismatched,) = store.counts(EnumerationKeys.mismatches(account), now, _HOUR)
            lookups += 1
            missing += context.not_found
            mismatched += event.birth_date_match is False
            if lookups >= policy.min_lookups and missing >= policy.not_found_share * lookups:
                return Finding.challenge(
                    self.name,
                    "not_found_share",
                    f"{int(missing)} of {int(lookups)} typed NIRs found nobody in an hour",
                    {"lookups": lookups, "not_found": missing},
                )
            if mismatched >= policy.birth_date_mismatches:
                return Finding.challenge(
                    self.name,
                    "birth_date_mismatch",
                    f"{int(mismatched)} typed NIRs with a wrong birth date in an hour",
                    {"mismatches": mismatched},
                )
        far = (
            context.is_read
            and not context.explained
            and context.site is not None
            and event.subject_department is not None
            and event.subject_department not in self._near_site(context.site.department)
        )
        if not far:
            return None
        far_key = EnumerationKeys.far_departments(account)
        spread = store.member_count(far_key, now)
        if event.subject_department is not None and not store.has_member(
            far_key, event.subject_department, now
        ):
            spread += 1
        if spread >= policy.far_departments:
            return Finding(
                detector=self.name,
                tighten=policy.spread,
                context=f"unexplained patients from {spread} distant departments in a day",
            )
        return Finding(
            detector=self.name,
            actions=(Action(kind=ActionKind.ALERT, target=account),),
            reason=Reason(
                detector=self.name,
                code="far_patient",
                message=(
                    f"unexplained read of a patient from department {event.subject_department}, "
                    f"far from the site's {context.site.department if context.site else '?'}"
                ),
            ),
        )

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        event = context.event
        if event.kind is not EventKind.RECORD_VIEW or event.account is None:
            return
        account, now = event.account, context.t
        if context.typed_lookup:
            self.store.add_counts(EnumerationKeys.typed_lookups(account), now, _HOUR)
            if context.not_found:
                self.store.add_counts(EnumerationKeys.not_found(account), now, _HOUR)
            if event.birth_date_match is False:
                self.store.add_counts(EnumerationKeys.mismatches(account), now, _HOUR)
        if (
            context.is_read
            and not context.explained
            and context.site is not None
            and event.subject_department is not None
            and event.subject_department not in self._near_site(context.site.department)
        ):
            self.store.add_member(
                EnumerationKeys.far_departments(account), event.subject_department, now, 86_400
            )
