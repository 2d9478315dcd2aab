"""The breach-scope queries: plain SQL, the same text on DuckDB and on Spark.

Every statement below reads four tables that an engine's prelude provides
(`rempart.forensics.engine` for DuckDB; docs/forensics.md for Spark):

``events``
    the archive (`rempart.ingestion.archive`), one row per portal event;
``read_persons``
    one row per person whose data a successful read or search returned:
    ``event_id, person, via`` (``read`` or ``search``) — the only place a
    list column is flattened, which each engine writes its own way;
``evidence``
    care evidence: ``subject, account, site, time``;
``directory``
    the accounts: ``account, site``;
``compromised``
    the accounts under investigation: ``account``.

How the attacker's sessions are told from the owner's, who went on working
on the same account (each session gets a ``side`` and the evidence for it):

- The owner's *devices* are the (address, user agent) pairs of the
  account's sessions that read a patient's card: a card is read at the
  counter, with the patient there, so those sessions are the owner's.
- A read is *explained* when care evidence ties its person to the account
  or its site from a year before the read to `HINDSIGHT_DAYS` after it (a
  claim is billed days after the visit: forensics has the hindsight the
  online guard lacks).
- A session from none of the owner's devices whose reads are mostly
  unexplained (fewer than half) is the **attacker**'s; a session from none
  of them that reads nothing is the attacker's too (a login, a reset).
- A session from one of the owner's devices that read patients, none of
  them explained, is **undetermined**: malware on the owner's computer, or
  an insider, reads exactly like this, and so does the owner looking up a
  patient with no care record yet. Its persons are listed apart, for the
  data-protection officer to decide; they are not in the scope.
- Every other session is the **owner**'s.

Only standard SQL is used (joins, ``CASE``, ``GROUP BY``, ``INTERVAL``
literals, ``COALESCE``), so the text runs unchanged on Spark SQL.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "HINDSIGHT_DAYS",
    "SCOPE_BY_CATEGORY",
    "SCOPE_BY_DEPARTMENT",
    "SESSIONS",
    "STATEMENTS",
    "UNDETERMINED",
]

HINDSIGHT_DAYS: Final = 60
"""Days after a read within which care evidence still explains it (a claim billed later)."""

# One row per event of a compromised account, keyed by session (an event without a
# session, such as a failed login, is a session of its own).
_ACCOUNT_EVENTS: Final = """
CREATE OR REPLACE TEMPORARY VIEW account_events AS
SELECT e.event_id, e.time, e.kind, e.account, COALESCE(e.session, e.event_id) AS session_key,
       e.ip, e.user_agent, e.subject, e.lookup, e.outcome, e.subject_department
FROM events e JOIN compromised c ON e.account = c.account
"""

_READS: Final = f"""
CREATE OR REPLACE TEMPORARY VIEW account_reads AS
SELECT a.event_id, a.account, a.session_key, a.time, a.lookup, a.subject_department,
       p.person, p.via,
       MAX(CASE WHEN v.subject IS NULL THEN 0 ELSE 1 END) AS explained
FROM account_events a
JOIN read_persons p ON p.event_id = a.event_id
LEFT JOIN directory d ON d.account = a.account
LEFT JOIN evidence v
  ON v.subject = p.person AND (v.account = a.account OR v.site = d.site)
 AND v.time <= a.time + INTERVAL '{HINDSIGHT_DAYS}' DAY
 AND v.time >= a.time - INTERVAL '400' DAY
GROUP BY a.event_id, a.account, a.session_key, a.time, a.lookup, a.subject_department,
         p.person, p.via
"""

_OWNER_DEVICES: Final = """
CREATE OR REPLACE TEMPORARY VIEW owner_devices AS
SELECT DISTINCT a.account, a.ip, a.user_agent
FROM account_events a
JOIN (SELECT DISTINCT account, session_key FROM account_reads WHERE lookup = 'card') c
  ON c.account = a.account AND c.session_key = a.session_key
"""

SESSIONS: Final = """
CREATE OR REPLACE TEMPORARY VIEW sessions AS
WITH per_session AS (
    SELECT a.account, a.session_key,
           MIN(a.time) AS first_time, MAX(a.time) AS last_time, COUNT(*) AS events,
           MIN(a.ip) AS ip, COUNT(DISTINCT a.ip) AS addresses,
           MIN(a.user_agent) AS user_agent,
           SUM(CASE WHEN o.account IS NULL THEN 0 ELSE 1 END) AS events_on_owner_device
    FROM account_events a
    LEFT JOIN owner_devices o
      ON o.account = a.account AND o.ip = a.ip AND o.user_agent = a.user_agent
    GROUP BY a.account, a.session_key
),
per_session_reads AS (
    SELECT account, session_key, COUNT(*) AS persons_read, SUM(explained) AS explained,
           SUM(CASE WHEN lookup = 'card' THEN 1 ELSE 0 END) AS card_reads,
           MIN(time) AS first_read, MAX(time) AS last_read
    FROM account_reads GROUP BY account, session_key
)
SELECT s.account, s.session_key, s.first_time, s.last_time, s.events, s.ip, s.addresses,
       s.user_agent,
       COALESCE(r.persons_read, 0) AS persons_read, COALESCE(r.explained, 0) AS explained,
       COALESCE(r.card_reads, 0) AS card_reads, r.first_read, r.last_read,
       CASE WHEN s.events_on_owner_device > 0 THEN 1 ELSE 0 END AS owner_device,
       CASE
         WHEN s.events_on_owner_device = 0 AND COALESCE(r.persons_read, 0) = 0 THEN 'attacker'
         WHEN s.events_on_owner_device = 0 AND 2 * r.explained < r.persons_read THEN 'attacker'
         WHEN s.events_on_owner_device > 0 AND r.persons_read > 0 AND r.explained = 0
              AND r.card_reads = 0 THEN 'undetermined'
         ELSE 'owner'
       END AS side
FROM per_session s
LEFT JOIN per_session_reads r ON r.account = s.account AND r.session_key = s.session_key
"""

_SCOPE: Final = """
CREATE OR REPLACE TEMPORARY VIEW scope AS
SELECT r.person, MIN(r.time) AS first_exposed, MAX(r.time) AS last_exposed,
       COUNT(*) AS exposures, COUNT(DISTINCT r.account) AS accounts,
       MIN(r.account) AS first_account,
       MAX(CASE WHEN r.via = 'read' THEN 1 ELSE 0 END) AS record_read,
       MAX(CASE WHEN r.via = 'search' THEN 1 ELSE 0 END) AS listed_by_search,
       MIN(CASE WHEN r.via = 'read' THEN r.subject_department END) AS department
FROM account_reads r
JOIN sessions s ON s.account = r.account AND s.session_key = r.session_key
WHERE s.side = 'attacker'
GROUP BY r.person
"""

UNDETERMINED: Final = """
CREATE OR REPLACE TEMPORARY VIEW undetermined AS
SELECT r.person, MIN(r.time) AS first_read, COUNT(DISTINCT r.account) AS accounts
FROM account_reads r
JOIN sessions s ON s.account = r.account AND s.session_key = r.session_key
WHERE s.side = 'undetermined'
  AND r.person NOT IN (SELECT person FROM scope)
GROUP BY r.person
"""

_SCOPE_CATEGORIES: Final = """
CREATE OR REPLACE TEMPORARY VIEW scope_categories AS
SELECT DISTINCT r.person, c.category
FROM account_reads r
JOIN sessions s ON s.account = r.account AND s.session_key = r.session_key
JOIN read_categories c ON c.event_id = r.event_id
WHERE s.side = 'attacker'
"""

SCOPE_BY_CATEGORY: Final = """
SELECT category, COUNT(*) AS persons FROM scope_categories
GROUP BY category ORDER BY persons DESC, category
"""

SCOPE_BY_DEPARTMENT: Final = """
SELECT COALESCE(department, 'unknown') AS department, COUNT(*) AS persons
FROM scope GROUP BY COALESCE(department, 'unknown')
ORDER BY persons DESC, department
"""

STATEMENTS: Final = (
    _ACCOUNT_EVENTS,
    _READS,
    _OWNER_DEVICES,
    SESSIONS,
    _SCOPE,
    _SCOPE_CATEGORIES,
    UNDETERMINED,
)
"""The views, in order; each engine runs them after its prelude."""
