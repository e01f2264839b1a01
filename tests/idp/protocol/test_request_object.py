"""Request objects (idp.oauth.request_object, RFC 9101 §6; FAPI 2.0 Message Signing §5.3): signed by the client's
registered key with an allow-listed alg, ``iss`` the client, ``aud`` the issuer, bounded ``exp``/``nbf``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from idp.clients import AuthMethod, Client
from idp.errors import InvalidRequest
from idp.oauth.request_object import InvalidRequestObject, decode_request_object
from idp.runtime import Services
from tests.idp.protocol.clientfixtures import (
    FORGERIES,
    ISSUER,
    NOW,
    Key,
    add_client,
    epoch,
    forged,
    jwks,
)

pytestmark = pytest.mark.anyio
PARAMS = {"response_type": "code", "redirect_uri": "https://rp.example.jp/cb", "scope": "openid",
          "state": "s1", "nonce": "n1", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
          "code_challenge_method": "S256", "claims": {"id_token": {"acr": {"essential": True}}}}


def request_claims(client_id: str = "rp-jwt", **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {"iss": client_id, "aud": ISSUER, "client_id": client_id, "iat": epoch(),
                              "nbf": epoch(), "exp": epoch(minutes=5), "jti": "j1", **PARAMS, **overrides}
    return {name: value for name, value in claims.items() if value is not None}


async def decode(services: Services, client: Client, token: str, now: dt.datetime = NOW) -> dict[str, Any]:
    return await decode_request_object(token, client=client, services=services, now=now)


async def jwt_client(services: Services, *keys: Key) -> Client:
    client, _ = await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(*keys))
    return client


@pytest.mark.parametrize("alg", ["ES256", "PS256", "EdDSA"])
@pytest.mark.parametrize("typ", ["oauth-authz-req+jwt", "application/oauth-authz-req+jwt", "JWT", None])
async def test_a_signed_request_object_gives_its_parameters(services: Services, alg: str, typ: str | None) -> None:
    key = Key.generate(alg)
    client = await jwt_client(services, key)
    params = await decode(services, client, key.sign(request_claims(), typ=typ))
    assert params == {**PARAMS, "client_id": "rp-jwt"}


async def test_a_public_client_with_registered_keys_may_sign(services: Services) -> None:
    key = Key.generate()
    client, _ = await add_client(services, "rp-public", jwks=jwks(key))
    assert (await decode(services, client, key.sign(request_claims("rp-public"))))["client_id"] == "rp-public"


async def test_nested_request_and_request_uri_are_dropped(services: Services) -> None:
    key = Key.generate()
    client = await jwt_client(services, key)
    params = await decode(services, client, key.sign(request_claims(request="x.y.z", request_uri="urn:x")))
    assert {"request", "request_uri"}.isdisjoint(params)


def _bad(case: str) -> dict[str, Any]:
    return request_claims(**{
        "iss other": {"iss": "rp-other"}, "no iss": {"iss": None}, "aud other": {"aud": "https://other.example"},
        "aud token endpoint": {"aud": ISSUER + "/token"}, "no aud": {"aud": None}, "no exp": {"exp": None},
        "no nbf": {"nbf": None}, "expired": {"nbf": epoch(minutes=-10), "exp": epoch(minutes=-1)},
        "nbf in the future": {"nbf": epoch(minutes=5), "exp": epoch(minutes=10)},
        "lives over an hour": {"nbf": epoch(), "exp": epoch(minutes=61)},
        "nbf over an hour old": {"nbf": epoch(minutes=-61), "exp": epoch(minutes=-1, seconds=59)},
        "client_id other": {"client_id": "rp-other"},
    }[case])


@pytest.mark.parametrize("case", ["iss other", "no iss", "aud other", "aud token endpoint", "no aud", "no exp",
                                  "no nbf", "expired", "nbf in the future", "lives over an hour",
                                  "nbf over an hour old", "client_id other"])
async def test_bad_claims_are_invalid_request_object(services: Services, case: str) -> None:
    key = Key.generate()
    client = await jwt_client(services, key)
    with pytest.raises(InvalidRequestObject) as caught:
        await decode(services, client, key.sign(_bad(case)))
    assert (caught.value.error, caught.value.status_code) == ("invalid_request_object", 400)
    assert isinstance(caught.value, InvalidRequest)


def _forged(case: str, key: Key) -> str:
    claims = request_claims()
    if case in FORGERIES:
        return forged(case, key, claims, "oauth-authz-req+jwt")
    if case == "other typ":
        return key.sign(claims, typ="dpop+jwt")
    if case == "JWE":
        return "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"
    if case == "unsigned JSON":
        return '{"response_type": "code"}'
    raise ValueError(case)


@pytest.mark.parametrize("case", [*FORGERIES, "other typ", "JWE", "unsigned JSON"])
async def test_forged_request_objects_are_refused(services: Services, case: str) -> None:
    key = Key.generate()
    client = await jwt_client(services, key)
    with pytest.raises(InvalidRequestObject):
        await decode(services, client, _forged(case, key))


async def test_the_reason_of_a_typed_object_is_not_hidden_by_the_untyped_attempt(services: Services) -> None:
    key = Key.generate()
    client = await jwt_client(services, key)
    with pytest.raises(InvalidRequestObject) as caught:
        await decode(services, client, key.sign(request_claims(aud="https://other.example"), typ="oauth-authz-req+jwt"))
    assert "wrong_audience" in caught.value.description


async def test_a_client_without_keys_cannot_use_request_objects(services: Services) -> None:
    key = Key.generate()
    client, _ = await add_client(services, "rp-public")
    basic, _ = await add_client(services, "rp-basic", AuthMethod.CLIENT_SECRET_BASIC)
    for c in (client, basic):
        with pytest.raises(InvalidRequestObject):
            await decode(services, c, key.sign(request_claims(c.client_id)))
