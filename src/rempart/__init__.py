"""Rempart: stop stolen professional accounts from bulk-extracting patient data.

The package's planes: the event model (`rempart.events`, `rempart.evidence`,
`rempart.directory`, `rempart.schema`), ingestion (`rempart.ingestion`), and
the testbed (`rempart.testbed`). The guard, response and console planes
build on the same event model.
"""

from rempart.directory import Account, OpeningInterval, Profession, Site, SiteKind
from rempart.errors import ConfigError, InputError, NirError, RecordError, RempartError
from rempart.events import DataCategory, Event, EventKind, Lookup, Outcome
from rempart.evidence import CareEvidence, EvidenceKind
from rempart.schema import SCHEMA_VERSION

__version__ = "0.1.0"

__all__ = [
    "SCHEMA_VERSION",
    "Account",
    "CareEvidence",
    "ConfigError",
    "DataCategory",
    "Event",
    "EventKind",
    "EvidenceKind",
    "InputError",
    "Lookup",
    "NirError",
    "OpeningInterval",
    "Outcome",
    "Profession",
    "RecordError",
    "RempartError",
    "Site",
    "SiteKind",
    "__version__",
]
