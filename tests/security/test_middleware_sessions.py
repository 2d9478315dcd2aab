"""Issue #9, a challenge does not stop the session (middleware): nothing served until step-up."""

from __future__ import annotations

from rempart.nir import make_nir
from rempart.testing import make_event
from tests.middleware.test_middleware import T0, Harness

PATIENTS = [make_nir(1, 1980, 5, "75056", serial) for serial in range(1, 60)]


def test_a_challenged_session_gets_nothing_the_guard_would_allow() -> None:
    """Once challenged, a session is refused even a read the guard allows (a patient it has
    already read), without the app running, until the portal's step-up takes it out."""
    harness = Harness()
    harness.login("s1")
    served = []
    for nir in PATIENTS:
        answer = harness.get(f"/patients?nir={nir}")
        if answer.status_code == 401:
            break
        assert answer.status_code == 200
        served.append(nir)
    else:
        raise AssertionError("the guard never challenged")
    calls = len(harness.portal.calls)
    for nir in served:
        again = harness.get(f"/patients?nir={nir}")
        assert again.status_code == 401
        assert again.json() == {"error": "step_up_required", "step_up": "/step-up"}
    assert len(harness.portal.calls) == calls  # the app never ran
    assert {event.outcome.value for event in harness.audit[-len(served) :]} == {"refused"}
    pending = harness.app.challenges.pop("s1")  # what the portal's step-up answers
    assert pending is not None
    assert pending.session == "s1"


def test_the_book_holds_a_session_until_step_up_or_its_end() -> None:
    """A `ChallengeBook` holds a session until it is popped (step-up) or discarded (ended)."""
    from rempart.middleware import ChallengeBook  # new in #9

    book = ChallengeBook()
    book.hold(make_event(session="s9", time=T0))
    assert "s9" in book
    assert len(book) == 1
    book.discard("s9")
    assert "s9" not in book
    assert book.pop("s9") is None
