"""Forensics: who the attacker was on a compromised account, and exactly whom they read.

`investigate` runs the plain SQL of `rempart.forensics.queries` over the
event archive on DuckDB; the same statements run on Spark (docs/forensics.md).
"""

from rempart.forensics.engine import (
    Investigation,
    SessionFinding,
    accounts_from_addresses,
    accounts_from_alerts,
    investigate,
)
from rempart.forensics.queries import HINDSIGHT_DAYS

__all__ = [
    "HINDSIGHT_DAYS",
    "Investigation",
    "SessionFinding",
    "accounts_from_addresses",
    "accounts_from_alerts",
    "investigate",
]
