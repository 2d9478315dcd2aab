"""Attack scenarios: seeded, parameterised generators of labelled attacker traffic.

A scenario is registered in a `ScenarioRegistry` with its parameter class;
built-in scenarios register through `default_registry`, the same way a third
party would add one. A generator writes attacker events (label = scenario
name, ``attacker`` = one id per attacking identity) into the context's event
buffer; it never writes care evidence, since an attacker has none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

import numpy as np
import pyarrow as pa

from rempart.directory import Account, Profession
from rempart.errors import ConfigError
from rempart.testbed.columns import EventBuffer
from rempart.testbed.seeds import stream
from rempart.testbed.world import World

__all__ = ["AttackContext", "Scenario", "ScenarioRegistry", "default_registry"]

P = TypeVar("P")


@dataclass
class AttackContext:
    """What a scenario generator gets: the world, the event buffer, and unused victims.

    ``identities`` is the clear side of the world (``nir`` and ``subject`` columns
    among others): only scenarios that type NIRs (enumeration) may look at it.
    """

    world: World
    events: EventBuffer
    identities: pa.Table
    _taken: set[str] = field(default_factory=set)

    def rng(self, scenario: str) -> np.random.Generator:
        """The scenario's own random stream."""
        return stream(self.world.seed, "attack", scenario)

    def take_victims(
        self,
        rng: np.random.Generator,
        count: int,
        professions: tuple[Profession, ...] | None = None,
    ) -> list[Account]:
        """``count`` individual accounts active all period, never handed to another scenario."""
        plan = self.world.hard_cases
        special = set(plan.locums) | {r for r, _, _ in plan.locums.values()} | set(plan.travel)
        pool = [
            a
            for a in self.world.accounts
            if not a.shared
            and a.account not in self._taken
            and a.account not in special
            and a.site not in plan.new_sites
            and (professions is None or a.profession in professions)
        ]
        if len(pool) < count:
            raise ConfigError("attack victims", f"at least {count} free accounts", len(pool))
        picks = [pool[i] for i in sorted(rng.choice(len(pool), size=count, replace=False))]
        self._taken.update(a.account for a in picks)
        return picks


@dataclass(frozen=True)
class Scenario(Generic[P]):
    """A named generator and the dataclass of its parameters."""

    name: str
    params: type[P]
    generate: Callable[[AttackContext, P], None]

    def build_params(self, overrides: dict[str, Any]) -> P:
        """Parameters from the defaults and ``overrides``; unknown keys are a `ConfigError`."""
        known = {f.name for f in fields(self.params)}  # type: ignore[arg-type]
        for key in overrides:
            if key not in known:
                raise ConfigError(f"{self.name}.{key}", "one of " + ", ".join(sorted(known)), key)
        return self.params(**overrides)


class ScenarioRegistry:
    """Scenarios by name; construct one and register into it."""

    def __init__(self) -> None:
        self._scenarios: dict[str, Scenario[Any]] = {}

    def register(self, scenario: Scenario[Any]) -> None:
        """Add a scenario; a second one with the same name is a `ConfigError`."""
        if scenario.name in self._scenarios:
            raise ConfigError("scenario", "a new name", scenario.name)
        self._scenarios[scenario.name] = scenario

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._scenarios)

    def get(self, name: str) -> Scenario[Any]:
        """The scenario called ``name``."""
        try:
            return self._scenarios[name]
        except KeyError:
            raise ConfigError("scenario", "one of " + ", ".join(self._scenarios), name) from None

    def run(self, name: str, context: AttackContext, overrides: dict[str, Any]) -> None:
        """Generate scenario ``name`` with its parameters."""
        scenario = self.get(name)
        scenario.generate(context, scenario.build_params(overrides))


def default_registry() -> ScenarioRegistry:
    """A registry holding the built-in scenarios."""
    from rempart.testbed.attacks import (
        credential_stuffing,
        distributed,
        enumeration,
        incident_2022,
        insider_curiosity,
        owner_pc_malware,
        phished,
        residential_proxies,
        search_harvest,
        session_hijack,
        slow_drip,
    )

    registry = ScenarioRegistry()
    for module in (
        incident_2022,
        slow_drip,
        distributed,
        credential_stuffing,
        session_hijack,
        enumeration,
        insider_curiosity,
        phished,
        residential_proxies,
        owner_pc_malware,
        search_harvest,
    ):
        registry.register(module.SCENARIO)
    return registry
