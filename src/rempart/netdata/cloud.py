"""Cloud providers' published address ranges: every listed prefix is hosting.

=========  ============================================  =====================================
format     file                                          prefixes read
=========  ============================================  =====================================
``aws``    ``ip-ranges.json`` (ip-ranges.amazonaws.com)  ``prefixes[].ip_prefix``,
                                                         ``ipv6_prefixes[].ipv6_prefix``
``gcp``    ``cloud.json`` (gstatic.com/ipranges)         ``prefixes[].ipv4Prefix`` / ``ipv6Prefix``
``azure``  ``ServiceTags_Public_*.json``                 ``values[].properties.addressPrefixes[]``
=========  ============================================  =====================================

Providers without a published list (OVH, Scaleway, Hetzner…) go in a user
``hosting`` list (`rempart.netdata.lists`). The same prefix listed under
several services counts once.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rempart.errors import InputError, RecordError
from rempart.netdata.source import ImportLimits, Labels, Network
from rempart.networks import NetworkKind

__all__ = ["CLOUD_FORMATS", "CloudFormat"]

# (where in the document, the prefix text) for every listed prefix.
Prefixes = Iterator[tuple[str, object]]


class _ShapeError(Exception):
    """The document is JSON but not the provider's layout."""


def _items(document: object, key: str) -> list[object]:
    value = document.get(key) if isinstance(document, dict) else None
    if not isinstance(value, list):
        raise _ShapeError(f"no {key!r} list")
    return value


def aws_prefixes(document: object) -> Prefixes:
    """AWS ``ip-ranges.json``."""
    for key, field in (("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")):
        if key == "ipv6_prefixes" and isinstance(document, dict) and key not in document:
            continue
        for index, item in enumerate(_items(document, key)):
            if not isinstance(item, dict) or field not in item:
                raise _ShapeError(f"{key}[{index}] has no {field!r}")
            yield f"{key}[{index}].{field}", item[field]


def gcp_prefixes(document: object) -> Prefixes:
    """Google Cloud ``cloud.json`` (and Google's ``goog.json``, same layout)."""
    for index, item in enumerate(_items(document, "prefixes")):
        field = next(
            (f for f in ("ipv4Prefix", "ipv6Prefix") if isinstance(item, dict) and f in item), None
        )
        if field is None or not isinstance(item, dict):
            raise _ShapeError(f"prefixes[{index}] has neither 'ipv4Prefix' nor 'ipv6Prefix'")
        yield f"prefixes[{index}].{field}", item[field]


def azure_prefixes(document: object) -> Prefixes:
    """Azure Service Tags (``ServiceTags_Public_YYYYMMDD.json``)."""
    for index, tag in enumerate(_items(document, "values")):
        properties = tag.get("properties") if isinstance(tag, dict) else None
        if not isinstance(properties, dict):
            raise _ShapeError(f"values[{index}] has no 'properties'")
        for position, prefix in enumerate(_items(properties, "addressPrefixes")):
            yield f"values[{index}].properties.addressPrefixes[{position}]", prefix


@dataclass(frozen=True, slots=True)
class CloudFormat:
    """A provider's JSON range list; every prefix in it is ``hosting`` run by ``provider``."""

    name: str
    summary: str
    provider: str
    prefixes: Callable[[object], Prefixes]

    def read(self, path: Path, limits: ImportLimits) -> Iterator[tuple[Network, Labels]]:
        """Every listed prefix (see `SourceFormat.read`)."""
        try:
            with path.open("rb") as stream:
                data = stream.read(limits.max_json_bytes + 1)
        except OSError as error:
            raise InputError(f"{path}: cannot read ({error.strerror})") from None
        if len(data) > limits.max_json_bytes:
            raise InputError(f"{path}: larger than {limits.max_json_bytes} bytes")
        try:
            document = json.loads(data)
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise RecordError(str(path), error.lineno, None, f"not JSON: {error.msg}") from None
        except RecursionError:
            raise InputError(f"{path}: JSON nested too deeply") from None
        labels = Labels(operator=self.provider, kind=NetworkKind.HOSTING)
        try:
            for where, text in self.prefixes(document):
                if not isinstance(text, str):
                    raise InputError(f"{path}: $.{where}: not a prefix: {text!r}")
                try:
                    network = ipaddress.ip_network(text.strip())
                except ValueError as error:
                    raise InputError(f"{path}: $.{where}: {error}") from None
                yield network, labels
        except _ShapeError as error:
            raise InputError(f"{path}: not {self.summary.split(':')[0]}: {error}") from None


CLOUD_FORMATS: tuple[CloudFormat, ...] = (
    CloudFormat("aws", "an AWS ip-ranges.json: hosting (Amazon)", "Amazon AWS", aws_prefixes),
    CloudFormat(
        "gcp", "a Google Cloud cloud.json: hosting (Google Cloud)", "Google Cloud", gcp_prefixes
    ),
    CloudFormat(
        "azure",
        "an Azure Service Tags JSON: hosting (Microsoft Azure)",
        "Microsoft Azure",
        azure_prefixes,
    ),
)
