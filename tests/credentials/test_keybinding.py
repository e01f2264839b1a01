"""Key Binding JWTs (RFC 9901 §4.3, §7.3) and the KB-JWT cases of the OpenID conformance verifier plan: wrong
``aud``, wrong ``nonce``, bad signature, bad ``sd_hash``, ``iat`` in the future or too old, plus ``typ``, ``alg``,
missing claims, header keys and a missing Holder key."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conformance.vc import load
from credentials.errors import CredentialReason, InvalidKeyBinding
from credentials.sdjwt import HeldSdJwt, IssuerCheck, key_binding_jwt, verify_sd_jwt
from credentials.sdjwt.disclosure import digest
from keys.errors import Reason
from keys.jose.b64 import b64url_encode
from keys.service.jws import encode_jwt
from keys.service.signer import SoftwareSigner

from .conftest import AUDIENCE, NONCE, NOW, kb_policy, signer_jwk

SIMPLE = load("sd_jwt.json")["examples"][0]


@pytest.fixture
def sd_jwt() -> str:
    """The spec's simple SD-JWT, presenting given_name (its cnf is the spec's holder key)."""
    return HeldSdJwt.parse(SIMPLE["issued"]).present([("given_name",)])


def present(sd_jwt: str, holder: SoftwareSigner, **overrides: Any) -> str:
    values: dict[str, Any] = {"audience": AUDIENCE, "nonce": NONCE, "iat": NOW}
    values.update(overrides)
    return sd_jwt + key_binding_jwt(sd_jwt, signer=holder, **values)


def reason(presentation: str, check: IssuerCheck, **policy: Any) -> Any:
    with pytest.raises(InvalidKeyBinding) as info:
        verify_sd_jwt(presentation, issuer=check, key_binding=kb_policy(**policy), at=NOW)
    return info.value.reason


def test_valid_key_binding(sd_jwt: str, spec_holder: SoftwareSigner, spec_check: IssuerCheck) -> None:
    verified = verify_sd_jwt(present(sd_jwt, spec_holder), issuer=spec_check, key_binding=kb_policy(), at=NOW)
    assert verified.key_binding is not None
    assert verified.key_binding["sd_hash"] == digest(sd_jwt, "sha-256")
    assert verified.claims["given_name"] == "John"


def test_wrong_audience(sd_jwt: str, spec_holder: SoftwareSigner, spec_check: IssuerCheck) -> None:
    assert reason(present(sd_jwt, spec_holder, audience="https://evil.example"), spec_check) is Reason.WRONG_AUDIENCE


def test_wrong_nonce(sd_jwt: str, spec_holder: SoftwareSigner, spec_check: IssuerCheck) -> None:
    assert reason(present(sd_jwt, spec_holder, nonce="other"), spec_check) is Reason.NONCE_MISMATCH


def test_signed_by_another_key(sd_jwt: str, holder_signer: SoftwareSigner, spec_check: IssuerCheck) -> None:
    assert reason(present(sd_jwt, holder_signer), spec_check) is Reason.BAD_SIGNATURE


def test_bad_sd_hash(sd_jwt: str, spec_holder: SoftwareSigner, spec_check: IssuerCheck) -> None:
    """A KB-JWT for one set of Disclosures does not bind another (Disclosures added after signing)."""
    other = HeldSdJwt.parse(SIMPLE["issued"]).present([("given_name",), ("family_name",)])
    kb = key_binding_jwt(sd_jwt, signer=spec_holder, audience=AUDIENCE, nonce=NONCE, iat=NOW)
    assert reason(other + kb, spec_check) is CredentialReason.SD_HASH_MISMATCH


def test_dropping_a_disclosure_breaks_sd_hash(spec_holder: SoftwareSigner, spec_check: IssuerCheck) -> None:
    both = HeldSdJwt.parse(SIMPLE["issued"]).present([("given_name",), ("family_name",)])
    presentation = present(both, spec_holder)
    jwt, first, _second, kb = presentation.split("~")
    assert reason(f"{jwt}~{first}~{kb}", spec_check) is CredentialReason.SD_HASH_MISMATCH


def test_iat_in_the_future(sd_jwt: str, spec_holder: SoftwareSigner, spec_check: IssuerCheck) -> None:
    future = present(sd_jwt, spec_holder, iat=NOW + dt.timedelta(minutes=5))
    assert reason(future, spec_check) is Reason.TOKEN_ISSUED_IN_FUTURE
    within_leeway = present(sd_jwt, spec_holder, iat=NOW + dt.timedelta(seconds=20))
    verify_sd_jwt(within_leeway, issuer=spec_check, key_binding=kb_policy(), at=NOW)


def test_iat_too_old(sd_jwt: str, spec_holder: SoftwareSigner, spec_check: IssuerCheck) -> None:
    old = present(sd_jwt, spec_holder, iat=NOW - dt.timedelta(minutes=10))
    assert reason(old, spec_check) is Reason.TOKEN_EXPIRED
    assert verify_sd_jwt(old, issuer=spec_check, key_binding=kb_policy(max_age=dt.timedelta(minutes=15)), at=NOW)


def test_wrong_typ(sd_jwt: str, spec_holder: SoftwareSigner, spec_check: IssuerCheck) -> None:
    claims = {"iat": int(NOW.timestamp()), "aud": AUDIENCE, "nonce": NONCE, "sd_hash": digest(sd_jwt, "sha-256")}
    kb = encode_jwt(claims, spec_holder, typ="JWT", with_kid=False)
    assert reason(sd_jwt + kb, spec_check) is Reason.TYP_MISMATCH


def test_alg_none(sd_jwt: str, spec_check: IssuerCheck) -> None:
    header = b64url_encode(b'{"alg":"none","typ":"kb+jwt"}')
    claims = b64url_encode(
        f'{{"iat":{int(NOW.timestamp())},"aud":"{AUDIENCE}","nonce":"{NONCE}","sd_hash":"{digest(sd_jwt, "sha-256")}"}}'
        .encode()
    )
    assert reason(f"{sd_jwt}{header}.{claims}.", spec_check) is Reason.ALGORITHM_NOT_ALLOWED


@pytest.mark.parametrize("missing", ["iat", "aud", "nonce", "sd_hash"])
def test_missing_claims(missing: str, sd_jwt: str, spec_holder: SoftwareSigner, spec_check: IssuerCheck) -> None:
    claims = {"iat": int(NOW.timestamp()), "aud": AUDIENCE, "nonce": NONCE, "sd_hash": digest(sd_jwt, "sha-256")}
    del claims[missing]
    kb = encode_jwt(claims, spec_holder, typ="kb+jwt", with_kid=False)
    assert reason(sd_jwt + kb, spec_check) is Reason.MISSING_CLAIM


def test_header_key_is_never_used(sd_jwt: str, holder_signer: SoftwareSigner, spec_check: IssuerCheck) -> None:
    """A KB-JWT carrying its own key (jwk header) is refused: only cnf.jwk binds."""
    claims = {"iat": int(NOW.timestamp()), "aud": AUDIENCE, "nonce": NONCE, "sd_hash": digest(sd_jwt, "sha-256")}
    kb = encode_jwt(claims, holder_signer, typ="kb+jwt", with_kid=False, header={"jwk": signer_jwk(holder_signer)})
    assert reason(sd_jwt + kb, spec_check) is Reason.HEADER_KEY_REFUSED


def test_key_binding_required_but_absent(sd_jwt: str, spec_check: IssuerCheck) -> None:
    assert reason(sd_jwt, spec_check) is CredentialReason.KEY_BINDING_REQUIRED


def test_no_holder_key(issuer_signer: SoftwareSigner, holder_signer: SoftwareSigner) -> None:
    from credentials.sdjwt import SD, issue_sd_jwt
    from keys.jose.jwk import VerificationKey

    issued = issue_sd_jwt({"iss": "https://a.example", "x": SD(1)}, signer=issuer_signer, typ="example+sd-jwt")
    check = IssuerCheck(typ=("example+sd-jwt",), keys=(VerificationKey.from_jwk(signer_jwk(issuer_signer)),))
    assert reason(present(issued.compact, holder_signer), check) is CredentialReason.NO_HOLDER_KEY


def test_kb_algorithm_allow_list(sd_jwt: str, spec_holder: SoftwareSigner, spec_check: IssuerCheck) -> None:
    assert reason(present(sd_jwt, spec_holder), spec_check, algorithms=frozenset({"EdDSA"})) \
        is Reason.ALGORITHM_NOT_ALLOWED


def test_key_binding_needs_an_sd_jwt(spec_holder: SoftwareSigner) -> None:
    with pytest.raises(ValueError, match="ends with"):
        key_binding_jwt("a.b.c", signer=spec_holder, audience=AUDIENCE, nonce=NONCE, iat=NOW)
