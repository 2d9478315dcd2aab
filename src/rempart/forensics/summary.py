"""The investigation's short summary for the incident file, in English and in French.

>>> summary = {"accounts": ["A1"], "persons_exposed": 1204, "persons_undetermined": 3,
...            "attacker_sessions": 12, "owner_sessions": 40, "undetermined_sessions": 1,
...            "attacker_addresses": 4, "first_abusive_read": "2022-02-26T02:01:53+00:00",
...            "last_abusive_read": "2022-02-27T11:00:00+00:00",
...            "by_category": {"identity": 1204, "nir": 1200}, "by_department": {"93": 700}}
>>> print(render_summary(summary, "fr").splitlines()[0])
Compte compromis : A1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

__all__ = ["render_summary"]

_CATEGORY_FR: Final = {
    "identity": "identité (nom, prénoms)",
    "birth_date": "date de naissance",
    "sex": "sexe",
    "nir": "numéro de sécurité sociale (NIR)",
    "treating_doctor": "médecin traitant",
    "rights": "droits à l'assurance maladie",
    "care": "données de soins",
}


def _when(value: str | None, language: str) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(value)
    if language == "fr":
        return moment.strftime("%d/%m/%Y à %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _number(value: int, language: str) -> str:
    text = f"{value:,}"
    return text.replace(",", "\u202f") if language == "fr" else text


def render_summary(summary: dict[str, Any], language: str) -> str:
    """A few plain sentences stating the scope (``language``: ``en`` or ``fr``)."""
    accounts = ", ".join(summary["accounts"])
    exposed = _number(summary["persons_exposed"], language)
    undetermined = _number(summary["persons_undetermined"], language)
    first = _when(summary["first_abusive_read"], language)
    last = _when(summary["last_abusive_read"], language)
    categories = summary["by_category"]
    departments = list(summary["by_department"].items())[:5]
    if language == "fr":
        plural = "s" if len(summary["accounts"]) > 1 else ""
        lines = [
            f"Compte{plural} compromis : {accounts}.",
            f"Personnes dont les données ont été consultées par l'attaquant : {exposed}, "
            f"du {first} au {last}, depuis {summary['attacker_addresses']} adresse(s) IP "
            f"({summary['attacker_sessions']} sessions de l'attaquant, "
            f"{summary['owner_sessions']} du titulaire).",
            "Données exposées : "
            + " ; ".join(
                f"{_CATEGORY_FR.get(name, name)} ({_number(count, language)})"
                for name, count in categories.items()
            )
            + ".",
            "Départements de résidence les plus touchés : "
            + ", ".join(f"{code} ({_number(count, language)})" for code, count in departments)
            + ".",
            f"À examiner : {undetermined} personne(s) consultée(s) depuis un poste habituel du "
            "titulaire sans motif de soins connu (logiciel malveillant ou consultation "
            "indue possibles) ; elles ne sont pas comptées ci-dessus.",
        ]
        return "\n".join(lines)
    lines = [
        f"Compromised account{'s' if len(summary['accounts']) > 1 else ''}: {accounts}.",
        f"Persons whose data the attacker read: {exposed}, from {first} to {last}, from "
        f"{summary['attacker_addresses']} IP address(es) ({summary['attacker_sessions']} "
        f"attacker sessions, {summary['owner_sessions']} of the owner's).",
        "Data exposed: "
        + "; ".join(f"{name} ({_number(count, language)})" for name, count in categories.items())
        + ".",
        "Most affected departments of residence: "
        + ", ".join(f"{code} ({_number(count, language)})" for code, count in departments)
        + ".",
        f"To review: {undetermined} person(s) read from one of the owner's usual devices with "
        "no known care reason (malware or an insider's look-up are possible); not counted "
        "above.",
    ]
    return "\n".join(lines)
