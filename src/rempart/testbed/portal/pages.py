"""The portal's HTML pages: sign-in, step-up, home, a patient record, refusals.

French first (the portal's users), a line of English under each heading.
Every value that reaches a page goes through `html.escape` (quotes
included), and every page is sent with headers that keep it out of caches,
frames and other sites' ``Referer`` (a page's URL may hold a typed NIR).
Nothing here loads a script, an image or a font.

>>> "&lt;script&gt;" in login_page(csrf="t", next_path="/x", account="<script>").body.decode()
True
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any, Final

from starlette.responses import HTMLResponse

__all__ = [
    "home_page",
    "login_page",
    "record_page",
    "refused_page",
    "step_up_failed_page",
    "step_up_page",
]

_HEADERS: Final = {
    "cache-control": "no-store",
    "referrer-policy": "same-origin",  # no-referrer would make browsers post Origin: null
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

_STYLE: Final = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#eef2f7;
color:#1b2a3a;margin:0}
header{background:#0b4f8a;color:#fff;padding:.8rem 1.5rem;font-weight:600;letter-spacing:.02em}
main{max-width:28rem;margin:3rem auto;background:#fff;border-radius:8px;padding:2rem 2.2rem;
box-shadow:0 2px 10px rgba(20,40,70,.12)}
main.wide{max-width:40rem}
h1{font-size:1.35rem;margin:0 0 .2rem}
.en{color:#5b6b7c;font-size:.9rem;margin:0 0 1.2rem}
label{display:block;font-weight:600;margin:1rem 0 .3rem}
label span{font-weight:400;color:#5b6b7c}
input[type=text],input[type=password],input[type=date]{width:100%;box-sizing:border-box;
padding:.6rem;font-size:1rem;border:1px solid #9aa9b8;border-radius:4px}
input.code{font-size:1.6rem;letter-spacing:.4em;text-align:center;font-family:monospace}
button{margin-top:1.4rem;width:100%;padding:.7rem;font-size:1rem;font-weight:600;color:#fff;
background:#0b4f8a;border:0;border-radius:4px;cursor:pointer}
.error{background:#fdecea;border-left:4px solid #c0392b;padding:.7rem 1rem;margin:1rem 0;
color:#7b1f16}
.note{color:#5b6b7c;font-size:.9rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.45rem .3rem;border-bottom:1px solid #dde3ea}
th{width:40%;color:#5b6b7c;font-weight:600}
"""


def _page(title: str, body: str, *, status: int = 200, wide: bool = False) -> HTMLResponse:
    width = ' class="wide"' if wide else ""
    html = (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · Portail professionnel</title><style>{_STYLE}</style></head>"
        "<body><header>Portail professionnel · Professional portal</header>"
        f"<main{width}>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _heading(french: str, english: str) -> str:
    return f'<h1>{escape(french)}</h1><p class="en" lang="en">{escape(english)}</p>'


def _error(message: str | None) -> str:
    return f'<p class="error" role="alert">{escape(message)}</p>' if message else ""


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def login_page(
    *, csrf: str, next_path: str, account: str = "", error: str | None = None, status: int = 200
) -> HTMLResponse:
    """The sign-in form (account and password), posting back to ``/login``."""
    body = (
        _heading("Connexion", "Sign in")
        + _error(error)
        + '<form method="post" action="/login">'
        + _hidden("csrf", csrf)
        + _hidden("next", next_path)
        + '<label for="account">Identifiant <span lang="en">(account)</span></label>'
        + '<input type="text" id="account" name="account" required maxlength="128"'
        + f' autocomplete="username" value="{escape(account)}">'
        + '<label for="password">Mot de passe <span lang="en">(password)</span></label>'
        + '<input type="password" id="password" name="password" required maxlength="256"'
        + ' autocomplete="current-password">'
        + '<button type="submit">Se connecter · Sign in</button></form>'
    )
    return _page("Connexion", body, status=status)


def step_up_page(
    *, account: str, csrf: str, next_path: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    """The step-up form: the 6-digit code of the account's authenticator app."""
    body = (
        _heading("Vérification de sécurité", "Security check")
        + f"<p>Compte <strong>{escape(account)}</strong> : pour continuer, saisissez le code à "
        "6 chiffres affiché par votre application d'authentification.</p>"
        + '<p class="note" lang="en">To continue, enter the 6-digit code shown by your '
        "authenticator app.</p>"
        + _error(error)
        + '<form method="post" action="/step-up">'
        + _hidden("csrf", csrf)
        + _hidden("next", next_path)
        + '<label for="code">Code de vérification <span lang="en">(verification code)</span>'
        + "</label>"
        + '<input type="text" id="code" name="code" class="code" required autofocus'
        + ' inputmode="numeric" pattern="[0-9 ]{6,7}" maxlength="7" autocomplete="one-time-code">'
        + '<button type="submit">Valider · Verify</button></form>'
        + '<p class="note">Un code erroné ferme la session et verrouille le compte.<br>'
        '<span lang="en">A wrong code ends the session and locks the account.</span></p>'
    )
    return _page("Vérification de sécurité", body, status=status)


def step_up_failed_page(*, locked: bool) -> HTMLResponse:
    """The answer to a wrong code: the session is closed (and the account locked, by policy)."""
    if locked:
        french = (
            "Code incorrect. Par sécurité, la session est fermée et le compte verrouillé : "
            "contactez le support pour le réactiver."
        )
        english = "Wrong code. The session is closed and the account locked: contact support."
    else:
        french = "Code incorrect. Par sécurité, la session est fermée : reconnectez-vous."
        english = "Wrong code. The session is closed: sign in again."
    body = (
        _heading("Vérification de sécurité", "Security check")
        + _error(french)
        + f'<p class="note" lang="en">{escape(english)}</p>'
        + '<p><a href="/login">Connexion · Sign in</a></p>'
    )
    return _page("Vérification échouée", body, status=403)


def refused_page(french: str, english: str, *, status: int = 403) -> HTMLResponse:
    """A refusal (a cross-site post, a locked account) in both languages."""
    body = (
        _heading("Accès refusé", "Access refused")
        + _error(french)
        + f'<p class="note" lang="en">{escape(english)}</p>'
    )
    return _page("Accès refusé", body, status=status)


def home_page(*, account: str) -> HTMLResponse:
    """The signed-in home: look a patient up by NIR and birth date."""
    body = (
        _heading("Rechercher un patient", "Find a patient")
        + f'<p class="note">Connecté : <strong>{escape(account)}</strong></p>'
        + '<form method="get" action="/patients">'
        + '<label for="nir">NIR <span lang="en">(social security number)</span></label>'
        + '<input type="text" id="nir" name="nir" required maxlength="21" autocomplete="off">'
        + '<label for="birth_date">Date de naissance <span lang="en">(birth date)</span></label>'
        + '<input type="date" id="birth_date" name="birth_date" required>'
        + '<button type="submit">Rechercher · Search</button></form>'
    )
    return _page("Accueil", body)


_RECORD_ROWS: Final = (
    ("surname", "Nom", "Surname"),
    ("first_names", "Prénoms", "First names"),
    ("birth_date", "Date de naissance", "Birth date"),
    ("sex", "Sexe", "Sex"),
    ("nir", "NIR", "NIR"),
    ("treating_doctor", "Médecin traitant", "Treating doctor"),
)


def _yes_no(value: object) -> str:
    return "oui · yes" if value else "non · no"


def record_page(record: Mapping[str, Any] | None) -> HTMLResponse:
    """A patient's record, or the not-found page (404) for None."""
    if record is None:
        body = _heading("Patient introuvable", "No such patient") + (
            "<p>Aucun patient ne correspond à ce NIR et cette date de naissance.</p>"
            '<p><a href="/">Nouvelle recherche · New search</a></p>'
        )
        return _page("Patient introuvable", body, status=404)
    rows = "".join(
        f'<tr><th>{escape(french)} <span lang="en">· {escape(english)}</span></th>'
        f"<td>{escape(str(record.get(key) if record.get(key) is not None else '—'))}</td></tr>"
        for key, french, english in _RECORD_ROWS
    )
    rights = record.get("rights") or {}
    rows += (
        f"<tr><th>ALD</th><td>{_yes_no(rights.get('ald'))}</td></tr>"
        f"<tr><th>C2S</th><td>{_yes_no(rights.get('c2s'))}</td></tr>"
    )
    body = (
        _heading("Dossier patient", "Patient record")
        + f"<table>{rows}</table>"
        + '<p><a href="/">Nouvelle recherche · New search</a></p>'
    )
    return _page("Dossier patient", body, wide=True)
