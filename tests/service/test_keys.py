"""API keys: shown once, stored as a SHA-256 digest (legacy argon2id still read), verified by
id, scoped, and read again from their file when it changes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from rempart.errors import ConfigError
from rempart.service.keys import ApiKey, ApiKeys

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
    """The file holds digests and labels, readable by its owner only, never the key."""
    path = tmp_path / "keys.json"
    keys = ApiKeys(hasher=FAST_HASHER)
    key_id, secret = keys.generate("portal")
    keys.save(path)
    text = path.read_text()
    assert secret.reveal().decode() not in text
    assert '"sha256:' in text
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


def test_a_legacy_argon2_key_still_opens_and_is_checked_slowly_once() -> None:
    """A key file from before digests (argon2id, no scopes) still works: the quick check
    sends it to argon2 once, then remembers it; it has the portal's default scopes."""
    clear = "rk_0123456789ab_" + "k" * 43
    legacy = ApiKey(id="0123456789ab", hash=FAST_HASHER.hash(clear), label="old")
    keys = ApiKeys([legacy], hasher=FAST_HASHER)
    assert keys.check(clear) == (None, True)
    assert keys.verify_slowly(clear) == legacy
    assert keys.check(clear) == (legacy, False)
    assert keys.verify_slowly(clear[:-1] + "j") is None
    assert legacy.granted == {"decide", "evidence"}
    # An unknown id never needs argon2: refused by the quick check alone.
    assert keys.check("rk_ffffffffffff_" + "k" * 43) == (None, False)


def test_scopes_are_kept_and_checked_on_generation(tmp_path: Path) -> None:
    """A key's scopes survive the file; an unknown scope or a scoped bouncer key is refused."""
    keys = ApiKeys()
    key_id, _ = keys.generate("console", scopes=["read", "admin"])
    keys.save(tmp_path / "keys.json")
    loaded = ApiKeys.load(tmp_path / "keys.json").get(key_id)
    assert loaded is not None
    assert loaded.granted == {"read", "admin"}
    with pytest.raises(ConfigError, match="scopes"):
        keys.generate("x", scopes=["root"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="scopes"):
        keys.generate("x", role="bouncer", scopes=["admin"])


def test_a_changed_key_file_is_read_again(tmp_path: Path) -> None:
    """A key revoked or added in the file, by another process, counts at the next look."""
    path = tmp_path / "keys.json"
    writer = ApiKeys()
    key_id, secret = writer.generate("portal")
    writer.save(path)
    now = [0.0]
    reader = ApiKeys.load(path, clock=lambda: now[0])
    clear = secret.reveal().decode()
    assert reader.verify(clear) == key_id
    writer.revoke(key_id)
    added_id, added = writer.generate("new")
    writer.save(path)
    assert reader.verify(clear) == key_id  # not looked again within the interval
    now[0] = 1.0
    assert reader.verify(clear) is None
    assert reader.verify(added.reveal().decode()) == added_id
    path.write_text("{not json")
    now[0] = 2.0
    assert reader.verify(added.reveal().decode()) == added_id  # a bad file keeps the keys
    assert reader.reload_error is not None
