"""The NIR (French social-security number): building and checking it with python-stdnum.

A NIR is ``S YY MM PPPPP OOO KK``: sex (1 male, 2 female), two digits of the
birth year, the birth month, the birth place (department and commune code,
``99`` and a country code for people born abroad), a serial number within the
place and month, and a check key (97 minus the number modulo 97; Corsica's
``2A``/``2B`` count as 19/18). Check digits always come from
`stdnum.fr.nir`; this module only assembles the parts.

The clear NIR belongs to the notice plane. The detection path only ever sees
`rempart.pseudonym.Pseudonymizer` output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

from stdnum import exceptions as stdnum_errors
from stdnum.fr import nir as stdnum_nir

from rempart.errors import NirError

__all__ = [
    "NirParts",
    "holds_nir",
    "make_nir",
    "nir_agrees",
    "parse_nir",
    "redact_nirs",
    "validate_nir",
]


@dataclass(frozen=True, slots=True)
class NirParts:
    """The fields encoded in a NIR."""

    sex: int
    birth_year_2: int
    birth_month: int
    birth_place: str
    serial: int


def make_nir(sex: int, birth_year: int, birth_month: int, birth_place: str, serial: int) -> str:
    """Assemble a valid 15-character NIR; check digits from python-stdnum.

    ``birth_place`` is the five-character INSEE code of the birth commune
    (``75056``, ``2A004``, ``97105``) or ``99`` plus the country code for
    people born abroad (``99350`` is Morocco).

    >>> make_nir(2, 1953, 7, "2B073", 4)
    '253072B07300470'
    """
    if sex not in (1, 2):
        raise NirError("sex must be 1 or 2")
    if not 1 <= birth_month <= 12:
        raise NirError("birth month must be within 1..12")
    if len(birth_place) != 5:
        raise NirError("birth place must be a five-character INSEE code")
    if not 1 <= serial <= 999:
        raise NirError("serial must be within 1..999")
    body = f"{sex}{birth_year % 100:02d}{birth_month:02d}{birth_place}{serial:03d}"
    return body + stdnum_nir.calc_check_digits(body)


def validate_nir(number: str) -> str:
    """Return the compact NIR, or raise `NirError` without echoing the number."""
    try:
        return str(stdnum_nir.validate(number))
    except stdnum_errors.ValidationError as error:
        raise NirError(f"invalid NIR ({type(error).__name__})") from None


def parse_nir(number: str) -> NirParts:
    """Split a valid NIR into its parts."""
    compact = validate_nir(number)
    return NirParts(
        sex=int(compact[0]),
        birth_year_2=int(compact[1:3]),
        birth_month=int(compact[3:5]),
        birth_place=compact[5:10],
        serial=int(compact[10:13]),
    )


def nir_agrees(number: str, *, sex: int, birth_date: date, birth_place: str) -> bool:
    """Whether a valid NIR encodes this sex, birth year and month, and birth place."""
    try:
        parts = parse_nir(number)
    except NirError:
        return False
    return (
        parts.sex == sex
        and parts.birth_year_2 == birth_date.year % 100
        and parts.birth_month == birth_date.month
        and parts.birth_place == birth_place
    )


# A run of digits (2A/2B allowed) and separators long enough to hold a NIR.
_NIR_RUN: Final = re.compile(r"[0-9ABab .+\-]{15,}")
_NIR_SEPARATOR: Final = re.compile(r"[ .+\-]")


def holds_nir(text: str) -> bool:
    """Whether ``text`` holds a valid NIR anywhere, with or without separators.

    For the fields of a raw log that must never store one (an account column
    filled with patients' numbers is a mapping mistake, not an identifier).

    >>> holds_nir("patient 2 53 07 2B 073 004 70 seen"), holds_nir("2530722B07300471")
    (True, False)
    """
    return any(_run_holds_nir(run) for run in _NIR_RUN.findall(text))


def _run_holds_nir(run: str) -> bool:
    compact = _NIR_SEPARATOR.sub("", run)
    for start in range(len(compact) - 14):
        try:
            validate_nir(compact[start : start + 15])
        except NirError:
            continue
        return True
    return False


def redact_nirs(text: str) -> str:
    """``text`` with every run of digits and separators that holds a valid NIR blanked.

    The same runs as `holds_nir` looks at, so that ``holds_nir(redact_nirs(t))`` is false.

    >>> redact_nirs("bot/1.0 (2 53 07 2B 073 004 70)")
    'bot/1.0 (<redacted>)'
    """
    return _NIR_RUN.sub(
        lambda run: "<redacted>" if _run_holds_nir(run.group()) else run.group(), text
    )
