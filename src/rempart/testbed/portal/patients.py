"""The portal's patient register: clear identities (the portal is the data holder) and look-ups.

A patient is found by Vitale card number, by typed NIR and birth date, by
surname and birth date (a search that returns links), or by such a link.
Card numbers and link references are derived from the NIR under the portal's
secret, so they are stable for a world and reveal nothing.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import pyarrow.parquet as pq

from rempart.errors import NirError
from rempart.events import DataCategory
from rempart.middleware import Subject
from rempart.nir import validate_nir
from rempart.secret import Secret

__all__ = ["RECORD_CATEGORIES", "SEARCH_CATEGORIES", "PatientRegister"]

RECORD_CATEGORIES: Final = (
    DataCategory.IDENTITY,
    DataCategory.BIRTH_DATE,
    DataCategory.SEX,
    DataCategory.NIR,
    DataCategory.TREATING_DOCTOR,
    DataCategory.RIGHTS,
)
"""What a patient record returns: the data categories the 2022 robot extracted."""
SEARCH_CATEGORIES: Final = (DataCategory.IDENTITY, DataCategory.BIRTH_DATE)


def _token(secret: bytes, purpose: bytes, nir: str) -> str:
    return hmac.digest(secret, purpose + nir.encode("ascii"), "sha256")[:8].hex()


@dataclass(frozen=True, slots=True)
class _Patient:
    nir: str
    surname: str
    first_names: str
    birth_date: date
    sex: int
    department: str
    treating_doctor: str | None
    ald: bool
    c2s: bool
    card: str
    link: str


class PatientRegister:
    """Every patient of the world with the portal's look-up indexes."""

    def __init__(self, world_dir: Path, secret: Secret) -> None:
        identities = pq.read_table(
            world_dir / "identities" / "identities.parquet",
            columns=["subject", "nir", "sex", "surname", "first_names", "birth_date", "department"],
        ).to_pydict()
        subjects = pq.read_table(
            world_dir / "world" / "subjects.parquet",
            columns=["subject", "treating_doctor", "ald", "c2s"],
        ).to_pydict()
        care = {
            subject: (doctor, ald, c2s)
            for subject, doctor, ald, c2s in zip(
                subjects["subject"],
                subjects["treating_doctor"],
                subjects["ald"],
                subjects["c2s"],
                strict=True,
            )
        }
        key = secret.reveal()
        self._by_nir: dict[str, _Patient] = {}
        self._by_card: dict[str, _Patient] = {}
        self._by_link: dict[str, _Patient] = {}
        self._by_name: dict[tuple[str, date], list[_Patient]] = {}
        for subject, nir, sex, surname, first_names, birth_date, department in zip(
            identities["subject"],
            identities["nir"],
            identities["sex"],
            identities["surname"],
            identities["first_names"],
            identities["birth_date"],
            identities["department"],
            strict=True,
        ):
            doctor, ald, c2s = care.get(subject, (None, False, False))
            patient = _Patient(
                nir=nir,
                surname=surname,
                first_names=first_names,
                birth_date=birth_date,
                sex=sex,
                department=department,
                treating_doctor=doctor,
                ald=bool(ald),
                c2s=bool(c2s),
                card=_token(key, b"card:", nir),
                link="p" + _token(key, b"link:", nir),
            )
            self._by_nir[nir] = patient
            self._by_card[patient.card] = patient
            self._by_link[patient.link] = patient
            self._by_name.setdefault((surname.casefold(), birth_date), []).append(patient)

    def __len__(self) -> int:
        return len(self._by_nir)

    # -- what the guard is told before the handler runs -----------------------------------

    def typed(self, nir: str | None, birth_date: str | None) -> Subject:
        """The patient a typed NIR and birth date designate (``found`` only if both agree)."""
        if not nir:
            return Subject(nir=None, found=False)
        try:
            compact = validate_nir(nir)
        except NirError:
            return Subject(nir=None, found=False)
        patient = self._by_nir.get(compact)
        if patient is None:
            return Subject(nir=compact, found=False)
        match = birth_date == patient.birth_date.isoformat()
        return Subject(
            nir=compact, found=match, birth_date_match=match, department=patient.department
        )

    def by_card_subject(self, card: str) -> Subject:
        """The patient of a card number, for the guard."""
        return self._subject(self._by_card.get(card))

    def by_link_subject(self, link: str) -> Subject:
        """The patient of a link reference, for the guard."""
        return self._subject(self._by_link.get(link))

    @staticmethod
    def _subject(patient: _Patient | None) -> Subject:
        if patient is None:
            return Subject(nir=None, found=False)
        return Subject(nir=patient.nir, department=patient.department)

    # -- what the handlers return ---------------------------------------------------------

    def record_by_typed(self, nir: str, birth_date: str) -> dict[str, Any] | None:
        """The record for a typed NIR whose birth date matches, else None."""
        subject = self.typed(nir, birth_date)
        if not subject.found or subject.nir is None:
            return None
        return self._record(self._by_nir[subject.nir])

    def record_by_card(self, card: str) -> dict[str, Any] | None:
        """The record of a card number, else None."""
        patient = self._by_card.get(card)
        return self._record(patient) if patient is not None else None

    def record_by_link(self, link: str) -> dict[str, Any] | None:
        """The record of a link reference, else None."""
        patient = self._by_link.get(link)
        return self._record(patient) if patient is not None else None

    def search(self, surname: str, birth_date: str) -> list[dict[str, Any]]:
        """Patients with this surname (any case) and birth date: names, birth date, link."""
        try:
            born = date.fromisoformat(birth_date)
        except ValueError:
            return []
        return [
            {
                "surname": patient.surname,
                "first_names": patient.first_names,
                "birth_date": patient.birth_date.isoformat(),
                "link": f"/patients/by-link/{patient.link}",
            }
            for patient in self._by_name.get((surname.casefold(), born), [])
        ]

    def card_of(self, nir: str) -> str | None:
        """The card number of a NIR (for the simulated counter and tests)."""
        patient = self._by_nir.get(nir)
        return patient.card if patient is not None else None

    @staticmethod
    def _record(patient: _Patient) -> dict[str, Any]:
        return {
            "surname": patient.surname,
            "first_names": patient.first_names,
            "birth_date": patient.birth_date.isoformat(),
            "sex": patient.sex,
            "nir": patient.nir,
            "treating_doctor": patient.treating_doctor,
            "rights": {"ald": patient.ald, "c2s": patient.c2s},
            "categories": [category.value for category in RECORD_CATEGORIES],
        }
