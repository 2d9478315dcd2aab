"""What attackers bring: hosting and VPN addresses, residential proxies, scripting tools.

Robot user agents come from the crawler-user-agents data set (the tooling
entries: python-requests, curl, Go's HTTP client, headless Chrome…), so that
a detector matching that list sees what it would see in real logs.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt
from crawleruseragents import CRAWLER_USER_AGENTS_DATA

from rempart.testbed.geography import NetworkKind, NetworkTable

__all__ = ["attacker_addresses", "residential_addresses", "robot_user_agents"]

_TOOLING = ("python-requests", "curl", "Go-http-client", "HeadlessChrome", "axios", "node-fetch")


@cache
def robot_user_agents() -> tuple[str, ...]:
    """User agents of scripting tools, from crawler-user-agents."""
    found: list[str] = []
    for entry in CRAWLER_USER_AGENTS_DATA:
        for instance in entry.get("instances", []):
            if any(tool.lower() in instance.lower() for tool in _TOOLING):
                found.append(instance)
    return tuple(sorted(set(found)))


def attacker_addresses(
    network: NetworkTable,
    rng: np.random.Generator,
    count: int,
    kinds: tuple[NetworkKind, ...] = (NetworkKind.HOSTING, NetworkKind.VPN),
) -> npt.NDArray[np.object_]:
    """``count`` addresses on rented servers or VPN exits, a few operators shared by all."""
    ranges = [r for kind in kinds for r in network.ranges_of(kind)]
    operators = rng.choice(len(ranges), size=min(3, len(ranges)), replace=False)
    picks = operators[rng.integers(0, len(operators), size=count)]
    return np.array([network.sample_address(rng, ranges[i]) for i in picks], dtype=object)


def residential_addresses(
    network: NetworkTable, rng: np.random.Generator, count: int
) -> npt.NDArray[np.object_]:
    """``count`` addresses of French home and mobile lines (residential proxies)."""
    ranges = [
        r
        for kind in (NetworkKind.FIXED, NetworkKind.MOBILE)
        for r in network.ranges_of(kind)
        if r.country == "FR"
    ]
    picks = rng.integers(0, len(ranges), size=count)
    return np.array([network.sample_address(rng, ranges[i]) for i in picks], dtype=object)
