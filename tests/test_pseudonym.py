"""Keyed pseudonyms of the NIR."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rempart.errors import ConfigError
from rempart.nir import make_nir
from rempart.pseudonym import Pseudonymizer, is_pseudonym
from rempart.secret import Secret

KEY = Secret(b"k" * 32)


@given(st.integers(1, 999), st.integers(1, 12))
def test_pseudonym_form_and_stability(serial: int, month: int) -> None:
    """A pseudonym has the published form, never contains the NIR, and is stable."""
    nir = make_nir(1, 1990, month, "69123", serial)
    value = Pseudonymizer(KEY).pseudonym(nir)
    assert is_pseudonym(value)
    assert nir not in value
    assert Pseudonymizer(KEY).pseudonym(nir) == value


def test_key_changes_pseudonym() -> None:
    """Two keys give unrelated pseudonyms for the same NIR."""
    nir = make_nir(2, 1971, 3, "33063", 45)
    assert Pseudonymizer(KEY).pseudonym(nir) != Pseudonymizer(Secret(b"q" * 32)).pseudonym(nir)


def test_short_key_refused() -> None:
    """A key shorter than 16 bytes is a configuration error naming the key."""
    with pytest.raises(ConfigError, match="pseudonym_key"):
        Pseudonymizer(Secret(b"short"))


def test_clear_nir_is_not_a_pseudonym() -> None:
    """The pseudonym pattern rejects a clear NIR."""
    assert not is_pseudonym(make_nir(2, 1953, 7, "2B073", 4))


def test_secret_repr_hides_value() -> None:
    """A Secret never shows its value in repr or str."""
    secret = Secret(b"super-secret-key-material")
    assert "super" not in repr(secret)
    assert "super" not in str(secret)


@given(st.lists(st.tuples(st.integers(1, 999), st.integers(1, 12)), min_size=1, max_size=30))
def test_bulk_equals_one_by_one(parts: list[tuple[int, int]]) -> None:
    """The vectorised bulk pseudonyms equal the one-by-one ones, in order."""
    nirs = [make_nir(2, 1985, month, "13055", serial) for serial, month in parts]
    pseudonymizer = Pseudonymizer(KEY)
    bulk = list(pseudonymizer.pseudonyms_of_valid(nirs))
    assert bulk == [pseudonymizer.pseudonym_of_valid(nir) for nir in nirs]
