"""`rempart keys` and `rempart serve` at the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from rempart.cli import main
from rempart.service import ApiKeys


def test_keys_add_prints_the_key_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    """The clear key is printed, the file holds its SHA-256 digest and the portal's default
    scopes, and the key verifies."""
    path = tmp_path / "keys.json"
    result = CliRunner().invoke(main, ["keys", "add", "portal", "--keys", str(path)])
    assert result.exit_code == 0, result.output
    clear = result.output.strip().splitlines()[-1]
    stored = path.read_text()
    assert clear not in stored
    entry = json.loads(stored)["keys"][0]
    assert entry["hash"].startswith("sha256:")
    assert entry["scopes"] == ["decide", "evidence"]
    assert ApiKeys.load(path).verify(clear) is not None


def test_keys_add_with_scopes(tmp_path: Path) -> None:
    """``--scope`` gives a portal key exactly the scopes named; a bouncer key takes none."""
    path = tmp_path / "keys.json"
    result = CliRunner().invoke(
        main, ["keys", "add", "console", "--scope", "admin", "--scope", "read", "--keys", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["keys"][0]["scopes"] == ["read", "admin"]
    refused = CliRunner().invoke(
        main, ["keys", "add", "fw", "--role", "bouncer", "--scope", "admin", "--keys", str(path)]
    )
    assert refused.exit_code == 2


def test_keys_revoke_refuses_the_key_afterwards(tmp_path: Path) -> None:
    """A revoked key no longer verifies; revoking an unknown id exits 2."""
    path = tmp_path / "keys.json"
    added = CliRunner().invoke(main, ["keys", "add", "portal", "--keys", str(path)])
    clear = added.output.strip().splitlines()[-1]
    key_id = added.output.split()[1]
    revoked = CliRunner().invoke(main, ["keys", "revoke", key_id, "--keys", str(path)])
    assert revoked.exit_code == 0
    assert ApiKeys.load(path).verify(clear) is None
    unknown = CliRunner().invoke(main, ["keys", "revoke", "nope", "--keys", str(path)])
    assert unknown.exit_code == 2


def test_serve_needs_a_world_and_a_key_file() -> None:
    """`rempart serve` without its required options exits with a usage error."""
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 2
    assert "--world" in result.output


def test_keys_add_a_bouncer_key_for_the_decision_stream(tmp_path: Path) -> None:
    """``--role bouncer`` prints an ``rb_`` key stored as its SHA-256, opening the stream only."""
    path = tmp_path / "keys.json"
    result = CliRunner().invoke(
        main, ["keys", "add", "firewall", "--role", "bouncer", "--keys", str(path)]
    )
    assert result.exit_code == 0, result.output
    clear = result.output.strip().splitlines()[-1]
    assert clear.startswith("rb_")
    stored = json.loads(path.read_text())["keys"][0]
    assert (stored["role"], stored["hash"][:7]) == ("bouncer", "sha256:")
    keys = ApiKeys.load(path)
    assert keys.bouncer(clear) == stored["id"]
    assert keys.verify(clear) is None
