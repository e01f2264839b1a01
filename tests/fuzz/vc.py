"""Fuzz targets of the credentials package: SD-JWT (compact form, Disclosures, the holder's unverified
processing, full verification with key binding), DCQL queries, Status Lists and Status List Tokens.

Errors let through: :class:`credentials.errors.CredentialError` and subclasses (``MalformedCredential``,
``CredentialLimitExceeded``, ``UntrustedIssuer``, ``InvalidCredential``, ``InvalidKeyBinding``,
``StatusUnavailable``, ``InvalidQuery``); :class:`keys.errors.VerificationError` where the input is first read by
:mod:`keys` (strict JSON)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from contextlib import suppress
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import strategies as st

from conformance.vc import load
from credentials.dcql import DcqlQuery, match_dcql
from credentials.errors import CredentialError
from credentials.limits import DEFAULT_CREDENTIAL_LIMITS
from credentials.sdjwt import HeldSdJwt, IssuerCheck, KeyBindingPolicy, verify_sd_jwt
from credentials.sdjwt.disclosure import Disclosure
from credentials.status import StatusList, StatusReference, verify_status_list_token
from keys.errors import VerificationError
from keys.jose.b64 import b64url_decode, b64url_encode
from keys.jose.json import loads_object
from keys.jose.jwk import VerificationKey
from keys.service.jws import compact_jws, json_bytes
from keys.service.signer import SoftwareSigner
from tests.fuzz.harness import json_values, target
from tests.fuzz.jose import text

AT = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
LIMITS = DEFAULT_CREDENTIAL_LIMITS
STATUS_URI = "https://id.example.jp/status/1"


@functools.cache
def spec() -> dict[str, Any]:
    """RFC 9901's examples (conformance/vc_data/sd_jwt.json): fixed issuer and holder keys."""
    return load("sd_jwt.json")


def _private(jwk: dict[str, Any], d: str) -> ec.EllipticCurvePrivateKey:
    public = ec.EllipticCurvePublicNumbers(int.from_bytes(b64url_decode(jwk["x"], "x"), "big"),
                                           int.from_bytes(b64url_decode(jwk["y"], "y"), "big"), ec.SECP256R1())
    return ec.EllipticCurvePrivateNumbers(int.from_bytes(b64url_decode(d, "d"), "big"), public).private_key()


@functools.cache
def spec_issuer() -> SoftwareSigner:
    return SoftwareSigner(_private(spec()["issuer_key"], spec()["issuer_key_d"]), "ES256", "spec-issuer")


def _examples() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}
    for n, example in enumerate(spec()["examples"]):
        if "issued" in example:
            seeds[f"issued-{n}"] = example["issued"].encode()
        for m, presentation in enumerate(example.get("presentations", [])):
            seeds[f"presented-{n}-{m}"] = presentation["compact"].encode()
    return seeds


def _disclosure_seeds() -> dict[str, bytes]:
    found = {f"d{n}": d.encode() for n, d in enumerate(spec()["examples"][0]["disclosures"])}
    found["element"] = b64url_encode(b'["salt", {"...": "x"}]').encode()
    return found


@target("sd_jwt_disclosure", seeds=_disclosure_seeds,
        shaped=lambda: json_values(10).map(lambda v: b64url_encode(json.dumps(v).encode()).encode()))
def sd_jwt_disclosure(data: bytes) -> None:
    """:meth:`credentials.sdjwt.disclosure.Disclosure.parse` (RFC 9901 §4.2, §7.1 step 3)."""
    with suppress(CredentialError):
        Disclosure.parse(text(data), hash_alg="sha-256", limits=LIMITS)


@st.composite
def sd_jwts(draw: st.DrawFn) -> bytes:
    """An issuer JWT with a JSON-shaped payload (``_sd``, ``_sd_alg``, ``...`` members likely) and Disclosures of
    JSON-shaped arrays, joined by ``~``; the JWT is signed by the spec issuer so verification reaches the
    processing rules."""
    payload = draw(json_values(25))
    jwt = compact_jws(spec_issuer(), json.dumps(payload).encode(), typ="example+sd-jwt", with_kid=False)
    disclosures = draw(st.lists(json_values(6).map(lambda v: b64url_encode(json.dumps(v).encode())), max_size=4))
    return "~".join([jwt, *disclosures, ""]).encode()


@target("sd_jwt_held", seeds=_examples, shaped=sd_jwts)
def sd_jwt_held(data: bytes) -> None:
    """The holder's :meth:`HeldSdJwt.parse` (unverified payload, every Disclosure placed) and a presentation."""
    with suppress(CredentialError):
        held = HeldSdJwt.parse(text(data))
        held.present(list(held.placed.values())[:2])


@target("sd_jwt_verify", seeds=_examples, shaped=sd_jwts)
def sd_jwt_verify(data: bytes) -> None:
    """:func:`verify_sd_jwt` against the spec issuer key, without and with key binding."""
    check = IssuerCheck(typ=("example+sd-jwt",), keys=(VerificationKey.from_jwk(spec()["issuer_key"]),))
    with suppress(CredentialError):
        verify_sd_jwt(text(data), issuer=check, key_binding=None, at=AT)
    with suppress(CredentialError):
        verify_sd_jwt(text(data), issuer=check, key_binding=KeyBindingPolicy(audience="https://verifier.example.org",
                      nonce="1234567890", max_age=dt.timedelta(days=36500)), at=AT)


def _dcql_seeds() -> dict[str, bytes]:
    query = {"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://x.example/pid"]},
                              "claims": [{"id": "a", "path": ["address", "street_address"]},
                                         {"id": "b", "path": ["nationalities", None]},
                                         {"id": "c", "path": ["age", 0], "values": [20, True, "x"]}],
                              "claim_sets": [["a", "c"], ["b"]]},
                             {"id": "other", "format": "dc+sd-jwt", "meta": {"vct_values": []}, "multiple": True,
                              "trusted_authorities": [{"type": "aki", "values": ["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]}]}],
             "credential_sets": [{"options": [["pid"], ["other"]], "required": False}]}
    return {"query.json": json.dumps(query).encode()}


@functools.cache
def _held() -> tuple[HeldSdJwt, ...]:
    return tuple(HeldSdJwt.parse(e["issued"]) for e in spec()["examples"] if "issued" in e)


@target("dcql", seeds=_dcql_seeds, shaped=lambda: json_values(40).map(lambda v: json.dumps(
    {"credentials": v} if not isinstance(v, dict) else v).encode()))
def dcql(data: bytes) -> None:
    """:meth:`DcqlQuery.parse` (OpenID4VP 1.0 §6) and :func:`match_dcql` against the spec credentials."""
    with suppress(VerificationError):
        document = loads_object(data, what="dcql_query")
        with suppress(CredentialError):
            match_dcql(DcqlQuery.parse(document), _held())


def _status_seeds() -> dict[str, bytes]:
    data = load("status_list.json")
    found = {f"list-{e['bits']}": json.dumps({"bits": int(e["bits"]), "lst": e["lst"]}).encode()
             for e in data["encodings"]}
    found["reference"] = json.dumps({"status_list": {"idx": 3, "uri": STATUS_URI}}).encode()
    return found


@target("status_list", seeds=_status_seeds)
def status_list(data: bytes) -> None:
    """:meth:`StatusList.from_json` (draft-ietf-oauth-status-list §4.2) with lookups, and
    :meth:`StatusReference.from_claim` (§6.2) of the same object."""
    with suppress(VerificationError):
        document = loads_object(data, what="status list")
        with suppress(CredentialError):
            statuses = StatusList.from_json(document)
            for index in (0, len(statuses) - 1):
                statuses[index]
        with suppress(CredentialError):
            StatusReference.from_claim(document)


def _token_claims_seeds() -> dict[str, bytes]:
    data = load("status_list.json")
    claims = dict(data["status_list_token"]["claims"], sub=STATUS_URI, ttl=300)
    return {"claims.json": json_bytes(claims), "float_iat.json": json_bytes(dict(claims, iat=1e20, exp=None))}


@target("status_token", seeds=_token_claims_seeds, shaped=lambda: json_values(20).map(lambda v: json.dumps(
    v if not isinstance(v, dict) else {"sub": STATUS_URI, "iat": 1686920170, **v}).encode()))
def status_token(data: bytes) -> None:
    """:func:`verify_status_list_token` of ``data`` as the claims of a Status List Token signed by a trusted key
    (so the claim rules, ``ttl``, ``iat``/``exp`` and the list itself meet arbitrary JSON)."""
    token = compact_jws(spec_issuer(), data, typ="statuslist+jwt", with_kid=False)
    with suppress(CredentialError):
        verify_status_list_token(token, uri=STATUS_URI, at=AT,
                                 keys=(VerificationKey.from_jwk(spec()["issuer_key"], alg="ES256"),))
