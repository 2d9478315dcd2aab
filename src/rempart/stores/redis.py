"""The shared state store: Redis, so that many guard instances see the same state.

`RedisStore` answers exactly like `MemoryStore` (the contract suite in
``tests/stores/contract.py`` runs on both) and, like it, never reads a clock:
every expiry is *event* time, stored inside Redis next to the data, and an
entry whose expiry is at or before the caller's ``now`` is absent (lazy expiry;
writes and queries delete what they find expired).

Two differences show only off the contract's path. `add_member` also drops the
set's expired members (to bound sets that are only ever probed with
`has_member`), so an event arriving out of order, before one of those expiries,
no longer sees them; MemoryStore drops them in `member_count` only. And totals
are sums of the live buckets, where MemoryStore keeps a running total, so
fractional amounts may differ in the last digit (integer amounts never do).

Layout, for a store with prefix ``P`` and a logical key ``K``:

- ``P c:K`` — counters: a hash. Field ``x`` is the key's event-time expiry;
  every other field ``"<period>|<resolution>|<bucket start>"`` holds the amount
  counted in that bucket of that window (the buckets of `RollingCount`).
- ``P s:K`` — an expiring set: a sorted set, each member scored by its
  event-time expiry.
- ``P v:K`` — a value: a hash with ``x`` (event-time expiry) and ``v``
  (the msgpack-encoded value).

Each kind has its own namespace, so the same logical key can never hit a
Redis type error. Every method is one round trip: a Lua script (atomic, so
concurrent guard instances never lose an addition) or a single command;
`snapshot` and `restore` are bulk operations, one round trip per batch of keys.

Every key also carries a Redis (wall-clock) ``EXPIRE``, as a memory bound only:
the time left in event time, rounded up, plus `WALL_CLOCK_MARGIN`. In live
traffic event time follows the wall clock, so the bound never fires before the
event-time expiry; a replay runs faster than the wall clock, so it is never cut
short either. Only a store left idle beyond its entries' lifetimes plus the
margin is emptied by Redis itself, which is the point.

Calls are bounded in time. A client made by `bounded_client` (what the
store makes from a URL) gives up after ``timeout`` seconds on connecting and
on every read, and never retries by itself: redis-py's default client retries
three times with exponential back-off, so that one call to a hung server
(SIGSTOP) took eight seconds. Wrapped in a `ResilientStore`, a failed call
opens the circuit at once and the service answers by its outage mode.

The store holds no lock and the client's connection pool is thread-safe, so
many threads may call one store at once (``concurrent`` is True): a
decision waiting on Redis never holds another one up.

Usage (needs a Redis server)::

    store = RedisStore(url="redis://127.0.0.1:6379/0", prefix="rempart:")
    store.add_counts("unexplained:A1", event.time, (Window(3600, 60),))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final, cast

import msgspec
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from rempart.errors import ConfigError
from rempart.stores.base import Window, Write

__all__ = ["DEFAULT_TIMEOUT", "WALL_CLOCK_MARGIN", "RedisStore", "bounded_client"]

DEFAULT_TIMEOUT: Final = 0.1
"""Seconds a call to Redis may take (connecting, then each read) before it counts as failed.

A loopback or LAN round trip takes well under a millisecond; a hundred times
that leaves room for a busy server without letting a hung one hold a decision up."""

WALL_CLOCK_MARGIN = 86_400
"""Seconds added to every key's Redis ``EXPIRE`` beyond its event-time lifetime."""

_SNAPSHOT_FORMAT = "rempart.redis/1"
_BATCH = 500

# Shared by every script: Python's float % (fmod with the sign of the divisor), the
# bucket arithmetic of RollingCount, and numbers as strings that round-trip exactly
# (Lua's tostring keeps 14 digits; a Lua number returned to Redis becomes an integer).
_LUA_COMMON = """
local function fmt(x) return string.format('%.17g', x) end
local function pymod(a, b)
  local r = math.fmod(a, b)
  if r ~= 0 and (r < 0) ~= (b < 0) then r = r + b end
  return r
end
local function wall_ttl(seconds, margin)
  local ttl = math.ceil(seconds) + margin
  if ttl < 1 then ttl = 1 end
  return ttl
end
-- Reads the counter hash: its event-time expiry and {field -> amount}. An expired hash
-- is deleted and reads as empty, as MemoryStore forgets an expired key.
local function load_counters(key, now)
  local raw = redis.call('HGETALL', key)
  local expiry = nil
  local buckets = {}
  for i = 1, #raw, 2 do
    if raw[i] == 'x' then expiry = tonumber(raw[i + 1])
    else buckets[raw[i]] = tonumber(raw[i + 1]) end
  end
  if expiry ~= nil and expiry <= now then
    redis.call('DEL', key)
    return nil, {}
  end
  return expiry, buckets
end
-- The window's tag and its live buckets' starts, oldest first; drops the buckets
-- that left the window (start + resolution <= now - period), as RollingCount does.
local function window_buckets(key, buckets, period, resolution, now)
  local tag = fmt(period) .. '|' .. fmt(resolution) .. '|'
  local starts = {}
  local horizon = now - period
  for field, _ in pairs(buckets) do
    if string.sub(field, 1, #tag) == tag then
      local start = tonumber(string.sub(field, #tag + 1))
      if start + resolution <= horizon then
        redis.call('HDEL', key, field)
        buckets[field] = nil
      else
        table.insert(starts, start)
      end
    end
  end
  table.sort(starts)
  return tag, starts
end
local function total(buckets, tag, starts)
  local sum = 0.0
  for _, start in ipairs(starts) do sum = sum + buckets[tag .. fmt(start)] end
  return fmt(sum)
end
"""

# KEYS[1] counter hash; ARGV: now, amount, margin, then period and resolution per window.
_ADD_COUNTS = (
    _LUA_COMMON
    + """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
local _, buckets = load_counters(key, now)
local totals = {}
local span = nil
for i = 4, #ARGV, 2 do
  local period, resolution = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local start = now - pymod(now, resolution)
  local tag = fmt(period) .. '|' .. fmt(resolution) .. '|'
  -- RollingCount adds to its newest bucket when time steps back within it or before it.
  local newest = nil
  for field, _ in pairs(buckets) do
    if string.sub(field, 1, #tag) == tag then
      local s = tonumber(string.sub(field, #tag + 1))
      if newest == nil or s > newest then newest = s end
    end
  end
  if newest ~= nil and newest >= start then start = newest end
  local field = tag .. fmt(start)
  local amount_now = (buckets[field] or 0) + amount
  buckets[field] = amount_now
  redis.call('HSET', key, field, fmt(amount_now))
  local _, starts = window_buckets(key, buckets, period, resolution, now)
  table.insert(totals, total(buckets, tag, starts))
  if span == nil or period + resolution > span then span = period + resolution end
end
-- The newest bucket counts until a period plus a resolution after its start.
redis.call('HSET', key, 'x', fmt(now + span))
redis.call('EXPIRE', key, wall_ttl(span, margin))
return totals
"""
)

# KEYS[1] counter hash; ARGV: now, then period and resolution per window.
_COUNTS = (
    _LUA_COMMON
    + """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local _, buckets = load_counters(key, now)
local totals = {}
for i = 2, #ARGV, 2 do
  local period, resolution = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local tag, starts = window_buckets(key, buckets, period, resolution, now)
  table.insert(totals, total(buckets, tag, starts))
end
return totals
"""
)

# KEYS[1] sorted set; ARGV: now, ttl, member, margin. Returns 1 when the member was absent.
_ADD_MEMBER = (
    _LUA_COMMON
    + """
local key = KEYS[1]
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
local was_live = redis.call('ZSCORE', key, ARGV[3])
-- A re-added member's expiry restarts from now, even when that shortens it (MemoryStore).
redis.call('ZADD', key, fmt(now + tonumber(ARGV[2])), ARGV[3])
local longest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('EXPIRE', key, wall_ttl(tonumber(longest[2]) - now, tonumber(ARGV[4])))
if was_live then return 0 end
return 1
"""
)

# KEYS[1] sorted set; ARGV: now, member. Returns 1 when the member was there, unexpired.
# The key keeps its wall-clock bound: an emptied sorted set is deleted by Redis itself.
_REMOVE_MEMBER = """
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not expiry then return 0 end
redis.call('ZREM', KEYS[1], ARGV[2])
if tonumber(expiry) > tonumber(ARGV[1]) then return 1 end
return 0
"""

# KEYS[1] sorted set; ARGV: now.
_MEMBER_COUNT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1])
"""

# KEYS[1] value hash; ARGV: now. Returns the encoded value, or nil when absent or expired.
_GET = """
local entry = redis.call('HMGET', KEYS[1], 'x', 'v')
if not entry[1] then return false end
if tonumber(entry[1]) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return false
end
return entry[2]
"""

# KEYS[1] value hash; ARGV: now, ttl, encoded value, margin.
_PUT = (
    _LUA_COMMON
    + """
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'x', fmt(now + ttl), 'v', ARGV[3])
redis.call('EXPIRE', KEYS[1], wall_ttl(ttl, tonumber(ARGV[4])))
"""
)


def bounded_client(url: str, timeout: float = DEFAULT_TIMEOUT) -> redis.Redis:
    """A client of ``url`` whose every call fails within about ``timeout`` seconds.

    Connecting and each read give up after ``timeout``; nothing is retried
    (the caller's circuit breaker decides what to do next).
    """
    if not timeout > 0:
        raise ConfigError("timeout", "a positive number of seconds", timeout)
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
    )


def _window_args(windows: tuple[Window, ...]) -> list[float]:
    return [number for window in windows for number in (window.period, window.resolution)]


def _glob_escape(text: str) -> str:
    """``text`` matched literally by SCAN's glob pattern."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


class RedisStore:
    """A `StateStore` in Redis, shared by every guard instance that uses the same prefix.

    Parameters:
        client: a ``redis.Redis`` client (it must not decode responses); when None,
            one is made from ``url``.
        url: the Redis URL used when no client is given.
        prefix: the start of every key this store writes; stores with different
            prefixes share a database without seeing each other.
        timeout: seconds each call may take, for the client made from ``url``
            (`bounded_client`); a given client keeps its own settings.
    """

    concurrent: Final = True
    """Safe to call from many threads at once (the client's pool is)."""

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "rempart:",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if client is None:
            client = bounded_client(url, timeout)
        elif client.get_connection_kwargs().get("decode_responses"):
            # Values are msgpack bytes: decoding them as text would corrupt them.
            raise ConfigError("client", "a Redis client with decode_responses=False", client)
        self.client = client
        self.prefix = prefix
        self._add_counts = client.register_script(_ADD_COUNTS)
        self._counts = client.register_script(_COUNTS)
        self._add_member = client.register_script(_ADD_MEMBER)
        self._remove_member = client.register_script(_REMOVE_MEMBER)
        self._member_count = client.register_script(_MEMBER_COUNT)
        self._get = client.register_script(_GET)
        self._put = client.register_script(_PUT)

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r}, client={self.client!r})"

    def add_counts(
        self, key: str, now: float, windows: tuple[Window, ...], amount: float = 1.0
    ) -> tuple[float, ...]:
        totals = self._add_counts(
            keys=[f"{self.prefix}c:{key}"],
            args=[now, amount, WALL_CLOCK_MARGIN, *_window_args(windows)],
        )
        return tuple(float(total) for total in totals)

    def counts(self, key: str, now: float, windows: tuple[Window, ...]) -> tuple[float, ...]:
        totals = self._counts(keys=[f"{self.prefix}c:{key}"], args=[now, *_window_args(windows)])
        return tuple(float(total) for total in totals)

    def add_member(self, key: str, member: str, now: float, ttl: float) -> bool:
        added = self._add_member(
            keys=[f"{self.prefix}s:{key}"], args=[now, ttl, member, WALL_CLOCK_MARGIN]
        )
        return bool(added)

    def remove_member(self, key: str, member: str, now: float) -> bool:
        removed = self._remove_member(keys=[f"{self.prefix}s:{key}"], args=[now, member])
        return bool(removed)

    def has_member(self, key: str, member: str, now: float) -> bool:
        expiry = cast("float | None", self.client.zscore(f"{self.prefix}s:{key}", member))
        return expiry is not None and expiry > now

    def member_count(self, key: str, now: float) -> int:
        return int(self._member_count(keys=[f"{self.prefix}s:{key}"], args=[now]))

    def get(self, key: str, now: float) -> Any:
        encoded = self._get(keys=[f"{self.prefix}v:{key}"], args=[now])
        return None if encoded is None else msgspec.msgpack.decode(encoded)

    def put(self, key: str, value: Any, now: float, ttl: float) -> None:
        encoded = msgspec.msgpack.encode(value)
        self._put(keys=[f"{self.prefix}v:{key}"], args=[now, ttl, encoded, WALL_CLOCK_MARGIN])

    def apply(self, writes: Sequence[Write]) -> None:
        """Every update of a decision in one MULTI/EXEC pipeline: atomic, one round trip."""
        if not writes:
            return
        pipe = self.client.pipeline(transaction=True)
        for write in writes:
            if write.method == "add_counts":
                key, now, windows, *rest = write.args
                amount = rest[0] if rest else 1.0
                self._add_counts(
                    keys=[f"{self.prefix}c:{key}"],
                    args=[now, amount, WALL_CLOCK_MARGIN, *_window_args(windows)],
                    client=pipe,
                )
            elif write.method == "add_member":
                key, member, now, ttl = write.args
                self._add_member(
                    keys=[f"{self.prefix}s:{key}"],
                    args=[now, ttl, member, WALL_CLOCK_MARGIN],
                    client=pipe,
                )
            elif write.method == "remove_member":
                key, member, now = write.args
                self._remove_member(keys=[f"{self.prefix}s:{key}"], args=[now, member], client=pipe)
            else:
                key, value, now, ttl = write.args
                self._put(
                    keys=[f"{self.prefix}v:{key}"],
                    args=[now, ttl, msgspec.msgpack.encode(value), WALL_CLOCK_MARGIN],
                    client=pipe,
                )
        pipe.execute()

    def _keys(self) -> Iterator[list[str]]:
        """Every key under the prefix, in batches (SCAN: never blocks the server)."""
        cursor = 0
        pattern = _glob_escape(self.prefix) + "*"
        while True:
            reply = cast("tuple[int, list[bytes]]", self.client.scan(cursor, pattern, _BATCH))
            cursor, keys = reply
            if keys:
                yield [key.decode() for key in keys]
            if cursor == 0:
                return

    def snapshot(self) -> bytes:
        """Every key under the prefix with its content and its remaining wall-clock bound.

        Each key is read atomically; while other clients write, keys are read at
        slightly different moments, as from any live database.
        """
        start = len(self.prefix)
        entries: list[list[Any]] = []
        for keys in self._keys():
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                # Names start with the kind: "c:", "s:" or "v:".
                if key.startswith("s:", start):
                    pipe.zrange(key, 0, -1, withscores=True)
                else:
                    pipe.hgetall(key)
                pipe.pttl(key)
            replies = pipe.execute()
            for key, content, pttl in zip(keys, replies[::2], replies[1::2], strict=True):
                if not content:  # expired or deleted since the scan
                    continue
                if isinstance(content, dict):
                    content = list(content.items())
                entries.append([key[start:], [list(item) for item in content], pttl])
        return msgspec.msgpack.encode({"format": _SNAPSHOT_FORMAT, "entries": entries})

    def restore(self, data: bytes) -> None:
        """Delete every key under the prefix, then write the snapshot's keys.

        Keys keep the wall-clock bound they had when the snapshot was taken.
        """
        decoded = msgspec.msgpack.decode(data)
        if not isinstance(decoded, dict) or decoded.get("format") != _SNAPSHOT_FORMAT:
            raise ConfigError("data", f"a {_SNAPSHOT_FORMAT} snapshot", type(decoded).__name__)
        for keys in list(self._keys()):
            self.client.unlink(*keys)
        entries = decoded["entries"]
        for first in range(0, len(entries), _BATCH):
            pipe = self.client.pipeline(transaction=False)
            for name, content, pttl in entries[first : first + _BATCH]:
                key = self.prefix + name
                if name.startswith("s:"):
                    pipe.zadd(key, dict(content))
                else:
                    pipe.hset(key, mapping=dict(content))
                if pttl > 0:
                    pipe.pexpire(key, pttl)
            pipe.execute()
