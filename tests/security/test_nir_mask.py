"""Issue #9, NIR log mask bypass: a NIR in any field, in any digits and separators, is masked."""

from __future__ import annotations

import io
import json
import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rempart.nir import make_nir
from rempart.service.logs import make_logger, mask_nir
from tests.test_nir import places

NIR = "253072B07300470"

# Ways of writing one digit: ASCII, full-width, mathematical bold and monospace (NFKC
# gives ASCII back), Arabic-Indic and Devanagari (decimal digits of other scripts).
_DIGIT_FORMS = (0x30, 0xFF10, 0x1D7CE, 0x1D7F6, 0x0660, 0x0966)
_SEPARATORS = (
    " ",
    "  ",
    "_",
    "/",
    ".",
    "-",
    "\t",
    "\u00a0",  # no-break space
    "\u2009",  # thin space
    "\u202f",  # narrow no-break space
    "\u3000",  # ideographic space
    "\u2013",  # en dash
    "\u2212",  # minus sign
    "\u2215",  # division slash
    "\u00b7",  # middle dot
    "\uff0f",  # full-width solidus
    "\u200b",  # zero-width space
    "\u00ad",  # soft hyphen
)

nirs = st.builds(
    lambda sex, birth, place, serial: make_nir(sex, birth.year, birth.month, place, serial),
    st.sampled_from([1, 2]),
    st.dates(date(1900, 1, 1), date(2025, 12, 31)),
    places,
    st.integers(1, 999),
)


@st.composite
def written(draw: st.DrawFn, nir: str) -> str:
    """``nir`` as a person or a program might write it: any digit forms, separators anywhere."""
    pieces = []
    for index, char in enumerate(nir):
        if char.isdigit():
            char = chr(draw(st.sampled_from(_DIGIT_FORMS)) + int(char))
        elif draw(st.booleans()):
            char = char.lower() if draw(st.booleans()) else chr(ord(char) + 0xFEE0)  # full-width
        pieces.append(char)
        if index < len(nir) - 1 and draw(st.integers(0, 3)) == 0:
            pieces.append(draw(st.sampled_from(_SEPARATORS)))
    return "".join(pieces)


def _masked(text: str) -> str:
    """``text`` as the log processor leaves it."""
    value: str = mask_nir(None, "info", {"value": text})["value"]
    return value


def _clear_digits(text: str) -> str:
    """``text`` as digits and letters only, every digit in ASCII: what a reader would see."""
    kept = []
    for char in unicodedata.normalize("NFKC", text):
        digit = unicodedata.decimal(char, None)
        if digit is not None:
            kept.append(str(digit))
        elif char.isalnum():
            kept.append(char.upper())
    return "".join(kept)


@given(data=st.data(), nir=nirs, before=st.text(max_size=20), after=st.text(max_size=20))
def test_a_nir_written_any_way_never_reaches_a_log_line(
    data: st.DataObject, nir: str, before: str, after: str
) -> None:
    """Whatever its digit forms and separators, and whatever surrounds it, a valid NIR logged
    in ``event_id`` or ``kind`` is masked: its digits never appear in the line."""
    text = before + data.draw(written(nir)) + after
    stream = io.StringIO()
    make_logger(stream).info("decision", event_id=text, kind=f"x{text}")
    line = json.loads(stream.getvalue())
    for field in ("event_id", "kind"):
        assert nir[:13] not in _clear_digits(line[field])
        assert "[NIR]" in line[field]


@pytest.mark.parametrize(
    "text",
    [
        "2_53_07_2B_073_004_70",
        "2/53/07/2B/073/004/70",
        "2 53 07 2B 073 004 70",
        "2\u00a053\u00a007\u00a02B\u00a0073\u00a0004\u00a070",
        "2  53  07  2B  073  004  70",
        "２５３０７２Ｂ０７３００４７０",  # full-width digits
        "ev-1646123456" + NIR,  # glued to a longer number
    ],
)
def test_the_reported_bypasses_are_masked(text: str) -> None:
    """Underscores, slashes, non-breaking or double spaces and full-width digits all mask."""
    assert NIR[:13] not in _clear_digits(_masked(text))


@pytest.mark.parametrize(
    "text",
    [
        "2022-03-01T09:00:00.123456Z",
        "2022-03-01 09:00:00.123456+00:00",
        "account locked since 2022-02-21 08:13 UTC (failed step-up)",
        "90.12.34.56",
        "2001:db8::1",
        "ev000001",
        "A000001",
        "latency 1234567 us",
        "01 23 45 67 89",
        "réf. ５１２ (×３)",  # a short full-width number
    ],
)
def test_ordinary_values_are_left_alone(text: str) -> None:
    """Times, addresses, ids, counts and phone numbers are not NIR-shaped: they stay as is."""
    assert _masked(text) == text
