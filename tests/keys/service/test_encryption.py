"""Private keys at rest under the KEK list: first encrypts, all decrypt, ciphertexts bound to their row."""

from __future__ import annotations

import base64

import pytest

from keys.service.encryption import KEK_OCTETS, KeyEncryptionKeys, WrappedKey, kek_id
from keys.service.errors import KeyFault, KeyServiceError

OLD, NEW = KeyEncryptionKeys.generate(), KeyEncryptionKeys.generate()
AAD = b"row-1"


def test_round_trip_and_identifier() -> None:
    keks = KeyEncryptionKeys.parse(OLD)
    wrapped = keks.wrap(b"private key", AAD)
    assert wrapped.kek_id == keks.primary_id == kek_id(base64.urlsafe_b64decode(OLD + "="))
    assert b"private key" not in wrapped.blob
    assert keks.unwrap(wrapped, AAD) == b"private key"


def test_nonces_are_fresh() -> None:
    keks = KeyEncryptionKeys.parse(OLD)
    assert keks.wrap(b"same", AAD).blob != keks.wrap(b"same", AAD).blob


def test_first_encrypts_all_decrypt_and_rewrap_moves_to_the_first() -> None:
    before = KeyEncryptionKeys.parse(OLD)
    wrapped = before.wrap(b"secret", AAD)
    rotated = KeyEncryptionKeys.parse(f"# new first\n{NEW}\n{OLD}  # old, until rewrapped\n")
    assert rotated.ids == (kek_id(base64.urlsafe_b64decode(NEW + "=")), before.primary_id)
    assert rotated.unwrap(wrapped, AAD) == b"secret"
    moved = rotated.rewrap(wrapped, AAD)
    assert moved is not None
    assert moved.kek_id == rotated.primary_id
    assert rotated.rewrap(moved, AAD) is None
    after = KeyEncryptionKeys.parse(NEW)  # the old KEK dropped
    assert after.unwrap(moved, AAD) == b"secret"
    with pytest.raises(KeyServiceError) as caught:
        after.unwrap(wrapped, AAD)
    assert caught.value.fault is KeyFault.UNKNOWN_KEK


def test_ciphertext_is_bound_to_its_row_and_integrity_protected() -> None:
    keks = KeyEncryptionKeys.parse(OLD)
    wrapped = keks.wrap(b"secret", AAD)
    with pytest.raises(KeyServiceError) as caught:
        keks.unwrap(wrapped, b"row-2")
    assert caught.value.fault is KeyFault.UNWRAP_FAILED
    flipped = bytearray(wrapped.blob)
    flipped[-1] ^= 1
    with pytest.raises(KeyServiceError):
        keks.unwrap(WrappedKey(wrapped.kek_id, bytes(flipped)), AAD)


@pytest.mark.parametrize("text", ["", "# only a comment", "not*base64", base64.urlsafe_b64encode(b"short").decode(),
                                  f"{OLD},{OLD}"])
def test_bad_kek_lists_are_refused(text: str) -> None:
    with pytest.raises(KeyServiceError) as caught:
        KeyEncryptionKeys.parse(text)
    assert caught.value.fault is KeyFault.BAD_KEK
    assert OLD not in str(caught.value)


def test_reprs_hide_material() -> None:
    keks = KeyEncryptionKeys.parse(OLD)
    wrapped = keks.wrap(b"secret", AAD)
    assert OLD not in repr(keks)
    assert repr(wrapped).endswith(f"blob=<{len(wrapped.blob)} octets>)")
    assert len(base64.urlsafe_b64decode(KeyEncryptionKeys.generate() + "=")) == KEK_OCTETS
