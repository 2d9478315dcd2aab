"""The store key layout: one namespace per owner, and no two kinds of key ever collide."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rempart.stores import keys
from rempart.stores.keys import NAMESPACES, LoginKeys

SRC = Path(keys.__file__).resolve().parents[1]
STORE_METHODS = {
    "add_counts",
    "counts",
    "add_member",
    "remove_member",
    "has_member",
    "member_count",
    "get",
    "put",
}


def _builders() -> dict[str, Callable[[Any], str]]:
    """Every key-building function of the layout, by ``Namespace.function``."""
    found: dict[str, Callable[[Any], str]] = {}
    for namespace in NAMESPACES:
        for name, member in vars(namespace).items():
            if isinstance(member, staticmethod):
                found[f"{namespace.__name__}.{name}"] = member.__func__
    return found


def _constants() -> dict[str, str]:
    """Every portal-wide key of the layout, by ``Namespace.NAME``."""
    return {
        f"{namespace.__name__}.{name}": value
        for namespace in NAMESPACES
        for name, value in vars(namespace).items()
        if name.isupper() and isinstance(value, str)
    }


BUILDERS = _builders()
CONSTANTS = _constants()


def _takes_int(build: Callable[[Any], str]) -> bool:
    """Whether ``build`` takes an autonomous system number rather than a string."""
    (parameter,) = inspect.signature(build).parameters.values()
    return parameter.annotation in ("int", int)


def _value(build: Callable[[Any], str], text: str, number: int) -> Any:
    return number if _takes_int(build) else text


def _prefix(build: Callable[[Any], str]) -> str:
    """What ``build`` puts before the value."""
    return build(0)[:-1] if _takes_int(build) else build("")


def _parse(key: str) -> tuple[str, str]:
    """The builder name and the value a valued key was built from (the layout's own rule)."""
    kind, colon, value = key.partition(":")
    assert colon, key
    (name,) = [name for name, build in BUILDERS.items() if _prefix(build) == kind + ":"]
    return name, value


# Values that look like keys or parts of keys: the way a collision would be built.
FRAGMENTS = sorted(
    {_prefix(build) for build in BUILDERS.values()}
    | set(CONSTANTS.values())
    | {"portal", ":", ".", "login", "a:", "s:", "u", "lf:"}
)
VALUES = st.one_of(
    st.text(),
    st.sampled_from(FRAGMENTS),
    st.builds(lambda fragment, text: fragment + text, st.sampled_from(FRAGMENTS), st.text()),
)
NUMBERS = st.integers(min_value=0, max_value=2**32)


def test_every_owner_has_its_namespace_and_every_kind_its_own_prefix() -> None:
    """Keys are ``<owner>.<kind>:<value>`` or ``<owner>.<kind>``, one owner per class."""
    prefixes = [_prefix(build) for build in BUILDERS.values()]
    assert len(set(prefixes)) == len(prefixes)
    fixed = {name: _prefix(build)[:-1] for name, build in BUILDERS.items()} | CONSTANTS
    owners: dict[str, set[str]] = {}
    for name, kind in fixed.items():
        owner, dot, rest = kind.partition(".")
        assert dot, name
        assert owner.isidentifier(), name
        assert rest.isidentifier(), name
        owners.setdefault(name.split(".")[0], set()).add(owner)
    assert all(len(names) == 1 for names in owners.values())
    assert len(set.union(*owners.values())) == len(NAMESPACES)


def test_portal_wide_keys_have_no_colon_and_are_distinct() -> None:
    """A portal-wide key holds no colon (so no value can produce it) and names its owner."""
    values = list(CONSTANTS.values())
    assert len(set(values)) == len(values)
    assert all(":" not in value and "." in value for value in values)
    assert LoginKeys.account_failures("portal") != LoginKeys.PORTAL_FAILURES


@given(name=st.sampled_from(sorted(BUILDERS)), text=VALUES, number=NUMBERS)
def test_a_key_names_exactly_one_kind_and_one_value(name: str, text: str, number: int) -> None:
    """Any key splits back into the one kind and the one value it was built from."""
    build = BUILDERS[name]
    value = _value(build, text, number)
    key = build(value)
    assert _parse(key) == (name, str(value))
    assert key not in CONSTANTS.values()


@given(
    first=st.sampled_from(sorted(BUILDERS)),
    second=st.sampled_from(sorted(BUILDERS)),
    text=VALUES,
    other_text=VALUES,
    number=NUMBERS,
    other_number=NUMBERS,
)
def test_keys_of_different_kinds_or_values_never_collide(
    first: str, second: str, text: str, other_text: str, number: int, other_number: int
) -> None:
    """Two keys are equal only when they are the same kind of key for the same value."""
    one, two = BUILDERS[first], BUILDERS[second]
    value, other_value = _value(one, text, number), _value(two, other_text, other_number)
    if one(value) == two(other_value):
        assert first == second
        assert value == other_value


def test_guard_detectors_and_service_build_no_key_by_hand() -> None:
    """No store call in the guard, the detectors or the service spells a key as a literal."""
    offenders: list[str] = []
    for folder in ("guard", "detectors", "service"):
        for path in sorted((SRC / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in STORE_METHODS
                    and "store" in ast.unparse(node.func.value)
                    and node.args
                    and isinstance(node.args[0], ast.Constant | ast.JoinedStr | ast.BinOp)
                ):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []
