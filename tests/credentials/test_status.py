"""Token Status List (draft-ietf-oauth-status-list): the list's bit layout and encoding (against the draft's
vectors), bounded decoding, random index allocation without reuse, the Status List Token and the relying-party
checker with ttl caching."""

from __future__ import annotations

import datetime as dt
import random
import zlib
from typing import Any

import pytest

from conformance.vc import load
from credentials.errors import (
    CredentialLimitExceeded,
    CredentialReason,
    CredentialRevoked,
    MalformedCredential,
    StatusListFull,
    StatusUnavailable,
)
from credentials.limits import CredentialLimits
from credentials.status import (
    IndexAllocator,
    StatusChecker,
    StatusList,
    StatusReference,
    StatusType,
    status_list_token,
    verify_status_list_token,
)
from keys.errors import Reason
from keys.jose.b64 import b64url_encode
from keys.jose.jwk import VerificationKey
from keys.service.signer import SoftwareSigner

from .conftest import NOW, signer_jwk

DATA = load("status_list.json")
URI = "https://id.example.jp/status/1"


@pytest.mark.parametrize("vector", DATA["encodings"], ids=[v["section"] for v in DATA["encodings"]])
def test_draft_vectors(vector: dict[str, Any]) -> None:
    decoded = StatusList.from_json({"bits": vector["bits"], "lst": vector["lst"]})
    statuses = {int(i): s for i, s in vector["statuses"].items()}
    assert {i: decoded[i] for i in statuses} == statuses
    ours = StatusList(vector["size"], vector["bits"])
    for i, s in statuses.items():
        ours[i] = s
    assert ours.to_json()["lst"] == vector["lst"]
    if "bytes" in vector:
        assert zlib.decompress(ours.compressed()).hex() == vector["bytes"]


def test_bit_layout_is_lsb_first() -> None:
    """§4.1: index 0 is the least significant bit(s) of byte 0."""
    statuses = StatusList(8, 2)
    statuses[0], statuses[3], statuses[4] = 1, 3, 2
    assert zlib.decompress(statuses.compressed()) == bytes([0b11000001, 0b00000010])
    assert [statuses[i] for i in range(8)] == [1, 0, 0, 3, 2, 0, 0, 0]


def test_values_must_fit() -> None:
    statuses = StatusList(4, 1)
    with pytest.raises(ValueError, match="fit"):
        statuses[0] = 2
    with pytest.raises(IndexError):
        statuses[4] = 1
    with pytest.raises(ValueError, match="bits"):
        StatusList(4, 3)


def lst(raw: bytes) -> str:
    return b64url_encode(raw)


@pytest.mark.parametrize(
    ("value", "error", "reason"),
    [
        ({"bits": 3, "lst": lst(zlib.compress(b"\0"))}, MalformedCredential, Reason.MALFORMED),
        ({"bits": True, "lst": lst(zlib.compress(b"\0"))}, MalformedCredential, Reason.MALFORMED),
        ({"bits": 1, "lst": "not base64!"}, MalformedCredential, Reason.MALFORMED),
        ({"bits": 1, "lst": lst(b"plain bytes")}, MalformedCredential, Reason.MALFORMED),
        ({"bits": 1, "lst": lst(zlib.compress(b"\1") + b"junk")}, MalformedCredential, Reason.MALFORMED),
        ({"bits": 1, "lst": lst(zlib.compress(b"\1" * 64)[:-4])}, MalformedCredential, Reason.MALFORMED),
        ({"bits": 1, "lst": lst(zlib.compress(b""))}, MalformedCredential, Reason.MALFORMED),
        ({"bits": 1, "lst": lst(zlib.compress(b"\0" * 5000, 9))}, CredentialLimitExceeded, Reason.TOO_LARGE),
        ([], MalformedCredential, Reason.MALFORMED),
    ],
    ids=["bits 3", "bits true", "not base64url", "not zlib", "trailing data", "truncated", "empty", "bomb",
         "not an object"],
)
def test_bounded_strict_decoding(value: Any, error: type[Exception], reason: Any) -> None:
    with pytest.raises(error) as info:
        StatusList.from_json(value, limits=CredentialLimits(status_list_bytes=4096))
    assert info.value.reason is reason  # type: ignore[attr-defined]


def test_allocator_hands_out_each_index_once() -> None:
    allocator = IndexAllocator(1000, rng=random.Random(7))
    drawn = [allocator.allocate() for _ in range(1000)]
    assert sorted(drawn) == list(range(1000))
    assert drawn != sorted(drawn)  # random order
    with pytest.raises(StatusListFull) as info:
        allocator.allocate()
    assert info.value.reason is CredentialReason.STATUS_LIST_FULL


def test_allocator_restores_state() -> None:
    allocator = IndexAllocator(16, allocated=range(15))
    assert allocator.free == 1
    assert allocator.allocate() == 15
    with pytest.raises(ValueError, match="twice"):
        IndexAllocator(16, allocated=[3, 3])
    with pytest.raises(ValueError, match="entries"):
        IndexAllocator(0)


def test_allocator_default_rng_is_the_csprng() -> None:
    import secrets

    assert isinstance(IndexAllocator(8)._rng, secrets.SystemRandom)


def token(signer: SoftwareSigner, statuses: StatusList, **overrides: Any) -> str:
    values: dict[str, Any] = {"uri": URI, "iat": NOW, "exp": NOW + dt.timedelta(days=1),
                              "ttl": dt.timedelta(hours=1)}
    values.update(overrides)
    return status_list_token(statuses, signer=signer, **values)


def test_token_round_trip(issuer_signer: SoftwareSigner) -> None:
    statuses = StatusList(64, 2)
    statuses[5] = StatusType.SUSPENDED
    key = VerificationKey.from_jwk(signer_jwk(issuer_signer))
    verified = verify_status_list_token(token(issuer_signer, statuses), uri=URI, at=NOW, keys=(key,))
    assert verified.status_list[5] == StatusType.SUSPENDED
    assert verified.ttl == dt.timedelta(hours=1)
    assert verified.claims["sub"] == URI


@pytest.mark.parametrize(
    ("overrides", "at", "reason"),
    [
        ({}, NOW + dt.timedelta(days=2), Reason.TOKEN_EXPIRED),
        ({"uri": "https://other.example/status"}, NOW, CredentialReason.STATUS_LIST_MISMATCH),
        ({"iat": NOW + dt.timedelta(hours=1)}, NOW, Reason.TOKEN_ISSUED_IN_FUTURE),
    ],
    ids=["expired", "sub is not the uri", "iat in the future"],
)
def test_token_checks(overrides: dict[str, Any], at: dt.datetime, reason: Any, issuer_signer: SoftwareSigner) -> None:
    key = VerificationKey.from_jwk(signer_jwk(issuer_signer))
    with pytest.raises(StatusUnavailable) as info:
        verify_status_list_token(token(issuer_signer, StatusList(8), **overrides), uri=URI, at=at, keys=(key,))
    assert info.value.reason is reason


def test_spec_status_list_token() -> None:
    spec = DATA["status_list_token"]
    key = VerificationKey.from_jwk(DATA["status_list_key"])
    at = dt.datetime.fromtimestamp(spec["claims"]["iat"] + 1, dt.UTC)
    verified = verify_status_list_token(spec["token"], uri=spec["claims"]["sub"], at=at, keys=(key,))
    assert [verified.status_list[i] for i in range(16)] == [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    with pytest.raises(StatusUnavailable) as info:  # fetched from another URI than its sub
        verify_status_list_token(spec["token"], uri="https://example.com/statuslists/2", at=at, keys=(key,))
    assert info.value.reason is CredentialReason.STATUS_LIST_MISMATCH


class Fetcher:
    """Serves one token per URI and counts fetches."""

    def __init__(self, text: str) -> None:
        self.text, self.count = text, 0

    def __call__(self, uri: str) -> str:
        self.count += 1
        return self.text


def checker_for(signer: SoftwareSigner, statuses: StatusList, **overrides: Any) -> tuple[StatusChecker, Fetcher]:
    fetch = Fetcher(token(signer, statuses, **overrides))
    return StatusChecker(fetch=fetch, keys=(VerificationKey.from_jwk(signer_jwk(signer)),)), fetch


def test_checker_statuses(issuer_signer: SoftwareSigner) -> None:
    """OIDF verifier plan: a credential whose status is INVALID or SUSPENDED is rejected."""
    statuses = StatusList(16, 2)
    statuses[1], statuses[2], statuses[3] = StatusType.INVALID, StatusType.SUSPENDED, 3
    checker, _ = checker_for(issuer_signer, statuses)
    checker.check(StatusReference(0, URI), NOW)
    for idx, reason in ((1, CredentialReason.STATUS_INVALID), (2, CredentialReason.STATUS_SUSPENDED),
                        (3, CredentialReason.STATUS_NOT_VALID)):
        with pytest.raises(CredentialRevoked) as info:
            checker.check(StatusReference(idx, URI), NOW)
        assert info.value.reason is reason
    with pytest.raises(StatusUnavailable) as out_of_range:
        checker.check(StatusReference(16 * 2 * 4, URI), NOW)
    assert out_of_range.value.reason is CredentialReason.STATUS_INDEX_OUT_OF_RANGE


def test_checker_caches_by_ttl(issuer_signer: SoftwareSigner) -> None:
    checker, fetch = checker_for(issuer_signer, StatusList(8))
    reference = StatusReference(0, URI)
    checker.check(reference, NOW)
    checker.check(reference, NOW + dt.timedelta(minutes=59))
    assert fetch.count == 1
    checker.check(reference, NOW + dt.timedelta(minutes=61))
    assert fetch.count == 2


def test_cache_never_outlives_exp_or_the_maximum(issuer_signer: SoftwareSigner) -> None:
    checker, fetch = checker_for(issuer_signer, StatusList(8), exp=NOW + dt.timedelta(minutes=10), ttl=None)
    checker.check(StatusReference(0, URI), NOW)
    checker.max_cache_age = dt.timedelta(minutes=5)
    checker.check(StatusReference(0, URI), NOW + dt.timedelta(minutes=4))
    assert fetch.count == 1
    checker.check(StatusReference(0, URI), NOW + dt.timedelta(minutes=6))
    assert fetch.count == 2
    with pytest.raises(StatusUnavailable) as info:  # past exp the same token is expired: fail closed
        checker.check(StatusReference(0, URI), NOW + dt.timedelta(minutes=11))
    assert info.value.reason is Reason.TOKEN_EXPIRED


def test_fetch_failure_fails_closed(issuer_signer: SoftwareSigner) -> None:
    def broken(uri: str) -> str:
        raise OSError("connection refused")

    checker = StatusChecker(fetch=broken, keys=(VerificationKey.from_jwk(signer_jwk(issuer_signer)),))
    with pytest.raises(StatusUnavailable) as info:
        checker.check(StatusReference(0, URI), NOW)
    assert info.value.reason is CredentialReason.STATUS_UNAVAILABLE


def test_token_signed_by_another_key_fails_closed(issuer_signer: SoftwareSigner, holder_signer: SoftwareSigner) -> None:
    fetch = Fetcher(token(holder_signer, StatusList(8)))
    checker = StatusChecker(fetch=fetch, keys=(VerificationKey.from_jwk(signer_jwk(issuer_signer)),))
    with pytest.raises(StatusUnavailable) as info:
        checker.check(StatusReference(0, URI), NOW)
    assert info.value.reason in (Reason.BAD_SIGNATURE, Reason.UNKNOWN_KEY)


@pytest.mark.parametrize(
    "claim",
    [None, {}, {"status_list": {"idx": "1", "uri": URI}}, {"status_list": {"idx": True, "uri": URI}},
     {"status_list": {"idx": 1}}, {"status_list": {"idx": 1, "uri": ""}}],
)
def test_status_reference_shape(claim: Any) -> None:
    with pytest.raises(MalformedCredential):
        StatusReference.from_claim(claim)


def test_status_reference_round_trip() -> None:
    reference = StatusReference(7, URI)
    assert StatusReference.from_claim(reference.to_claim()) == reference


def test_list_size_is_bounded() -> None:
    with pytest.raises(ValueError, match="at most"):
        StatusList(8 * 1024 + 1, 1, max_bytes=1024)
    assert len(StatusList(8 * 1024, 1, max_bytes=1024)) == 8 * 1024
