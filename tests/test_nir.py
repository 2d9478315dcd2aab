"""NIR assembly and checks, against python-stdnum."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.fr import nir as stdnum_nir

from rempart.errors import NirError
from rempart.nir import make_nir, nir_agrees, parse_nir, validate_nir

places = st.one_of(
    st.builds(
        lambda d, c: f"{d:02d}{c:03d}",
        st.integers(1, 95).filter(lambda d: d != 20),
        st.integers(1, 999),
    ),
    st.builds(lambda d, c: f"{d}{c:03d}", st.sampled_from(["2A", "2B", "20"]), st.integers(1, 999)),
    st.builds(lambda d, c: f"{d}{c:02d}", st.integers(971, 976), st.integers(1, 99)),
    st.builds(lambda c: f"99{c:03d}", st.integers(100, 999)),
)


@given(
    sex=st.sampled_from([1, 2]),
    birth=st.dates(date(1900, 1, 1), date(2025, 12, 31)),
    place=places,
    serial=st.integers(1, 999),
)
def test_made_nirs_validate_and_agree(sex: int, birth: date, place: str, serial: int) -> None:
    """Every assembled NIR passes stdnum and encodes the sex, birth month and place given."""
    number = make_nir(sex, birth.year, birth.month, place, serial)
    assert stdnum_nir.is_valid(number)
    assert nir_agrees(number, sex=sex, birth_date=birth, birth_place=place)
    assert parse_nir(number).serial == serial


def test_stdnum_documented_example() -> None:
    """The assembler reproduces python-stdnum's documented Corsican example."""
    assert make_nir(2, 1953, 7, "2B073", 4) == "253072B07300470"


@given(st.from_regex(r"[0-9]{13,16}", fullmatch=True))
def test_invalid_numbers_never_echoed(text: str) -> None:
    """A failed validation raises NirError whose message never contains the input."""
    message = ""
    try:
        validate_nir(text)
    except NirError as error:
        message = str(error)
    assert text not in message


def test_wrong_check_digits_rejected() -> None:
    """A NIR with a wrong key is rejected."""
    with pytest.raises(NirError):
        validate_nir("253072B07300471")


def test_disagreement_detected() -> None:
    """nir_agrees is false when the sex or the month differs."""
    number = make_nir(1, 1980, 5, "75056", 12)
    assert not nir_agrees(number, sex=2, birth_date=date(1980, 5, 1), birth_place="75056")
    assert not nir_agrees(number, sex=1, birth_date=date(1980, 6, 1), birth_place="75056")
