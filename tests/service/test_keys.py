"""API keys: shown once, hashed at rest with argon2id, verified by id."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from rempart.errors import ConfigError
from rempart.service.keys import ApiKeys

from .world import FAST_HASHER


def test_a_generated_key_verifies_to_its_id_and_nothing_else_does() -> None:
    """The clear key opens its id; a changed secret, an unknown id or junk open nothing."""
    keys = ApiKeys(hasher=FAST_HASHER)
    key_id, secret = keys.generate("portal")
    clear = secret.reveal().decode()
    assert clear.startswith(f"rk_{key_id}_")
    assert repr(secret) == "Secret('**********')"
    assert keys.verify(clear) == key_id
    assert keys.verify(clear) == key_id  # the remembered path agrees
    assert keys.verify(clear[:-1] + ("A" if clear[-1] != "A" else "B")) is None
    assert keys.verify(clear.replace(key_id, "0" * 12)) is None
    for junk in ("", "rk_", clear + "x", " " + clear, "Bearer " + clear):
        assert keys.verify(junk) is None


def test_keys_are_saved_hashed_privately_and_load_back(tmp_path: Path) -> None:
    """The file holds argon2id hashes and labels, readable by its owner only, never the key."""
    path = tmp_path / "keys.json"
    keys = ApiKeys(hasher=FAST_HASHER)
    key_id, secret = keys.generate("portal")
    keys.save(path)
    text = path.read_text()
    assert secret.reveal().decode() not in text
    assert "$argon2id$" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = ApiKeys.load(path)
    assert loaded.verify(secret.reveal().decode()) == key_id
    assert [(key.id, key.label) for key in loaded] == [(key_id, "portal")]


def test_a_revoked_key_stops_working_even_once_verified() -> None:
    """Revocation wins over the memory of a past verification."""
    keys = ApiKeys(hasher=FAST_HASHER)
    key_id, secret = keys.generate()
    assert keys.verify(secret.reveal().decode()) == key_id
    assert keys.revoke(key_id)
    assert keys.verify(secret.reveal().decode()) is None
    assert not keys.revoke(key_id)


def test_a_missing_file_is_an_empty_set_and_a_bad_one_a_config_error(tmp_path: Path) -> None:
    """Loading a missing file gives no key; a malformed one names the problem."""
    assert len(ApiKeys.load(tmp_path / "absent.json")) == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"keys": [{"id": "zz"}]}')
    with pytest.raises(ConfigError, match="keys"):
        ApiKeys.load(bad)
