"""The testbed's reference portal (not part of the guard), protected by `GuardMiddleware`.

See `rempart.testbed.portal.app` for its endpoints.
"""

from rempart.testbed.portal.app import SESSION_COOKIE, Portal, create_portal
from rempart.testbed.portal.credentials import (
    Credentials,
    account_email,
    testbed_password,
    testbed_totp_secret,
)
from rempart.testbed.portal.patients import PatientRegister

__all__ = [
    "SESSION_COOKIE",
    "Credentials",
    "PatientRegister",
    "Portal",
    "account_email",
    "create_portal",
    "testbed_password",
    "testbed_totp_secret",
]
