"""Users' fal keys are sealed for their owner under the deployment secret, open after a rotation while the old secret
is still listed, and the key page's links are the deployment's own and expire."""

from __future__ import annotations

import dataclasses

import pytest

from happyhorse_mcp.auth.key_vault import PAGE_LINK_SECONDS, KeyVault, SealedKeyUnreadable

OLD, NEW = "o" * 32, "n" * 32
KEY = "key-id:key-secret-0123456789"


def test_a_sealed_key_opens_for_its_owner_and_never_shows_the_key() -> None:
    vault = KeyVault((OLD,))
    sealed = vault.seal("alice", KEY)
    assert KEY.encode() not in sealed.blob
    assert KEY not in repr(sealed)
    assert vault.open("alice", sealed) == KEY
    assert vault.seal("alice", KEY).blob != sealed.blob, "a fresh nonce each time"


def test_a_sealed_key_moved_to_another_user_or_altered_does_not_open() -> None:
    vault = KeyVault((OLD,))
    sealed = vault.seal("alice", KEY)
    with pytest.raises(SealedKeyUnreadable):
        vault.open("bob", sealed)
    with pytest.raises(SealedKeyUnreadable):
        vault.open("alice", dataclasses.replace(sealed, blob=sealed.blob[:-1] + bytes([sealed.blob[-1] ^ 1])))


def test_after_a_rotation_old_keys_open_while_the_old_secret_is_listed_and_new_ones_use_the_new_secret() -> None:
    sealed_before = KeyVault((OLD,)).seal("alice", KEY)
    rotated = KeyVault((NEW, OLD))
    assert rotated.open("alice", sealed_before) == KEY
    assert rotated.seal("alice", KEY).key_id != sealed_before.key_id
    with pytest.raises(SealedKeyUnreadable, match="no longer lists"):
        KeyVault((NEW,)).open("alice", sealed_before)


def test_a_page_link_names_its_owner_until_it_expires_and_only_this_deployment_makes_one() -> None:
    vault = KeyVault((OLD,))
    token = vault.page_token("alice", "none", now=1000.0)
    assert vault.page_owner(token, now=1000.0 + PAGE_LINK_SECONDS - 1) == ("alice", "none")
    assert vault.page_owner(token, now=1000.0 + PAGE_LINK_SECONDS + 1) is None
    assert KeyVault((NEW,)).page_owner(token, now=1000.0) is None
    assert vault.page_owner("garbage", now=1000.0) is None
    assert vault.page_owner(token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1], now=1000.0) is None


def test_a_form_token_is_bound_to_its_link_and_to_the_browser_that_loaded_the_page() -> None:
    vault = KeyVault((OLD,))
    token = vault.form_token("link-1", "browser-1")
    assert token == vault.form_token("link-1", "browser-1")
    assert token != vault.form_token("link-2", "browser-1")
    assert token != vault.form_token("link-1", "browser-2")
    assert token != KeyVault((NEW,)).form_token("link-1", "browser-1")
