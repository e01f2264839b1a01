"""Client authentication (idp.oauth.client_auth): client_secret_basic (RFC 6749 §2.3.1), private_key_jwt (RFC 7523
§2.2/§3, OIDC Core §9), none; one method per request and only the registered one. Assertions are signed with pyjwt."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from idp.clients import AuthMethod
from idp.errors import InvalidClient, InvalidRequest
from idp.oauth.client_auth import JWT_BEARER, authenticate_client
from idp.oauth.pkce import s256_challenge
from idp.runtime import Services
from idp.settings import SettingsError
from tests.idp.conftest import settings_for
from tests.idp.protocol.clientfixtures import (
    FORGERIES,
    ISSUER,
    NOW,
    TOKEN_URL,
    Key,
    add_client,
    assertion_claims,
    epoch,
    forged,
    jwks,
    unsigned,
)
from tests.idp.protocol.tokenkit import REDIRECT_URI, Provider, provider

pytestmark = pytest.mark.anyio
AUDIENCES = (ISSUER,)


def basic(client_id: str, secret: str, *, encode_all: bool = False) -> str:
    if encode_all:  # RFC 6749 §2.3.1: both are form-urlencoded before Basic; decoding must undo any escaping
        client_id = "".join(f"%{b:02X}" for b in client_id.encode())
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}" if not encode_all else f"{client_id}:{secret}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


async def auth(services: Services, form: dict[str, str] | None = None, authorization: str | None = None,
               *, now: dt.datetime = NOW) -> str:
    client = await authenticate_client(form=form or {}, authorization=authorization, services=services,
                                       audiences=AUDIENCES, now=now)
    return client.client_id


def with_assertion(assertion: str, **form: str) -> dict[str, str]:
    return {"client_assertion_type": JWT_BEARER, "client_assertion": assertion, **form}


# client_secret_basic


async def test_basic_authenticates_with_form_urlencoded_credentials(services: Services) -> None:
    _, secret = await add_client(services, "rp.basic~1", AuthMethod.CLIENT_SECRET_BASIC)
    assert secret is not None
    assert await auth(services, authorization=basic("rp.basic~1", secret)) == "rp.basic~1"
    assert await auth(services, authorization=basic("rp.basic~1", secret, encode_all=True)) == "rp.basic~1"
    assert await auth(services, {"client_id": "rp.basic~1"}, basic("rp.basic~1", secret)) == "rp.basic~1"


@pytest.mark.parametrize("case", ["wrong secret", "unknown client", "not base64", "no colon", "empty id"])
async def test_basic_failures_are_401_with_a_basic_challenge(services: Services, case: str) -> None:
    _, secret = await add_client(services, "rp-basic", AuthMethod.CLIENT_SECRET_BASIC)
    assert secret is not None
    header = {"wrong secret": basic("rp-basic", secret[:-1] + ("A" if secret[-1] != "A" else "B")),
              "unknown client": basic("rp-other", secret),
              "not base64": "Basic ???",
              "no colon": "Basic " + base64.b64encode(b"rp-basic").decode(),
              "empty id": "Basic " + base64.b64encode(f":{secret}".encode()).decode()}[case]
    with pytest.raises(InvalidClient) as caught:
        await auth(services, authorization=header)
    assert caught.value.status_code == 401
    assert (caught.value.www_authenticate or "").startswith("Basic ")
    assert secret not in f"{caught.value} {caught.value.description} {caught.value.detail}"


async def test_a_client_without_a_secret_cannot_use_basic(services: Services) -> None:
    key = Key.generate()
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    await add_client(services, "rp-public")
    for client_id in ("rp-jwt", "rp-public"):
        with pytest.raises(InvalidClient):
            await auth(services, authorization=basic(client_id, ""))
        with pytest.raises(InvalidClient):
            await auth(services, authorization=basic(client_id, "guess"))


async def test_client_id_in_the_body_must_match_basic(services: Services) -> None:
    _, secret = await add_client(services, "rp-basic", AuthMethod.CLIENT_SECRET_BASIC)
    await add_client(services, "rp-public")
    assert secret is not None
    with pytest.raises(InvalidRequest):
        await auth(services, {"client_id": "rp-public"}, basic("rp-basic", secret))


async def test_client_secret_post_is_not_accepted(services: Services) -> None:
    _, secret = await add_client(services, "rp-basic", AuthMethod.CLIENT_SECRET_BASIC)
    assert secret is not None
    with pytest.raises(InvalidClient) as caught:
        await auth(services, {"client_id": "rp-basic", "client_secret": secret})
    assert secret not in f"{caught.value} {caught.value.detail}"


# one method per request (RFC 6749 §2.3)


async def test_two_methods_in_one_request_are_invalid_request(services: Services) -> None:
    key = Key.generate()
    _, secret = await add_client(services, "rp-basic", AuthMethod.CLIENT_SECRET_BASIC)
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    assert secret is not None
    assertion = key.sign(assertion_claims("rp-jwt"))
    with pytest.raises(InvalidRequest):
        await auth(services, with_assertion(assertion), basic("rp-basic", secret))
    with pytest.raises(InvalidRequest):
        await auth(services, {"client_secret": secret}, basic("rp-basic", secret))


# private_key_jwt


@pytest.mark.parametrize("alg", ["ES256", "PS256", "EdDSA"])
async def test_private_key_jwt_with_each_allowed_algorithm(services: Services, alg: str) -> None:
    key = Key.generate(alg)
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(Key.generate("ES256"), key))
    assert await auth(services, with_assertion(key.sign(assertion_claims("rp-jwt")))) == "rp-jwt"
    assert await auth(services, with_assertion(key.sign(assertion_claims("rp-jwt")), client_id="rp-jwt")) == "rp-jwt"


@pytest.mark.parametrize("aud", [ISSUER, [ISSUER]])
async def test_the_audience_is_the_issuer(services: Services, aud: str | list[str]) -> None:
    key = Key.generate()
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    assert await auth(services, with_assertion(key.sign(assertion_claims("rp-jwt", aud=aud)))) == "rp-jwt"


@pytest.mark.parametrize("aud", [["https://elsewhere.example", ISSUER], [ISSUER, ISSUER + "/token"], [ISSUER, ""],
                                 [ISSUER, ISSUER], []])
async def test_an_audience_array_with_anything_beside_the_issuer_is_refused(services: Services,
                                                                            aud: list[str]) -> None:
    """draft-ietf-oauth-rfc7523bis §4 / FAPI 2.0 Security Profile §5.3.2.1: the issuer is the only audience."""
    key = Key.generate()
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    with pytest.raises(InvalidClient) as caught:
        await auth(services, with_assertion(key.sign(assertion_claims("rp-jwt", aud=aud))))
    assert caught.value.status_code == 401


async def test_an_assertion_is_single_use(services: Services) -> None:
    key = Key.generate()
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    form = with_assertion(key.sign(assertion_claims("rp-jwt")))
    assert await auth(services, form) == "rp-jwt"
    with pytest.raises(InvalidClient, match="already used"):
        await auth(services, form, now=NOW + dt.timedelta(seconds=30))


async def test_a_jti_is_single_use_across_workers_and_concurrent_requests(workers: tuple[Services, Services]) -> None:
    first, second = workers
    key = Key.generate()
    await add_client(first, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    form = with_assertion(key.sign(assertion_claims("rp-jwt")))
    outcomes = await asyncio.gather(*(auth(w, form) for w in (first, second, first, second)), return_exceptions=True)
    assert sum(o == "rp-jwt" for o in outcomes) == 1
    assert all(isinstance(o, InvalidClient) for o in outcomes if o != "rp-jwt")


async def test_another_client_may_use_the_same_jti(services: Services) -> None:
    one, two = Key.generate(), Key.generate()
    await add_client(services, "rp-one", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(one))
    await add_client(services, "rp-two", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(two))
    assert await auth(services, with_assertion(one.sign(assertion_claims("rp-one", jti="shared")))) == "rp-one"
    assert await auth(services, with_assertion(two.sign(assertion_claims("rp-two", jti="shared")))) == "rp-two"


async def test_long_client_ids_and_jtis_are_recorded(services: Services) -> None:
    client_id, key = "rp-" + "x" * 250, Key.generate()
    await add_client(services, client_id, AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    form = with_assertion(key.sign(assertion_claims(client_id, jti="j" * 255)))
    assert await auth(services, form) == client_id
    with pytest.raises(InvalidClient, match="already used"):
        await auth(services, form)


def _bad_claims(case: str) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "iss other": {"iss": "rp-other"}, "sub other": {"sub": "rp-other"}, "no sub": {"sub": None},
        "aud other": {"aud": "https://other.example"}, "aud endpoint of another server": {"aud": "https://x/token"},
        "no aud": {"aud": None}, "no exp": {"exp": None},
        "expired": {"iat": epoch(minutes=-3), "exp": epoch(minutes=-1)},
        "exp too far": {"exp": epoch(minutes=11)}, "iat in the future": {"iat": epoch(minutes=2)},
        "nbf in the future": {"nbf": epoch(minutes=2)}, "no jti": {"jti": None}, "empty jti": {"jti": ""},
        "jti not a string": {"jti": 7}, "exp a string": {"exp": str(epoch(seconds=60))},
        "jti too long": {"jti": "j" * 256},
    }[case]
    return assertion_claims("rp-jwt", **changes)


@pytest.mark.parametrize("case", ["iss other", "sub other", "no sub", "aud other", "aud endpoint of another server",
                                  "no aud", "no exp", "expired", "exp too far", "iat in the future",
                                  "nbf in the future", "no jti", "empty jti", "jti not a string", "exp a string",
                                  "jti too long"])
async def test_bad_assertion_claims_are_refused(services: Services, case: str) -> None:
    key = Key.generate()
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    await add_client(services, "rp-other", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(Key.generate()))
    with pytest.raises(InvalidClient) as caught:
        await auth(services, with_assertion(key.sign(_bad_claims(case))))
    assert caught.value.status_code == 401
    assert caught.value.www_authenticate is None


async def test_the_leeway_admits_small_clock_differences(services: Services) -> None:
    key = Key.generate()
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    claims = assertion_claims("rp-jwt", iat=epoch(seconds=10), nbf=epoch(seconds=10), exp=epoch(seconds=70))
    assert await auth(services, with_assertion(key.sign(claims))) == "rp-jwt"


def _forged(case: str, key: Key, claims: dict[str, Any]) -> str:
    """Assertions signed the wrong way (RFC 8725 §2.1 algorithm confusion, §3.1 alg none) or not JWTs."""
    if case in FORGERIES:
        return forged(case, key, claims, "JWT")
    if case == "alg None":
        return unsigned({"alg": "None", "kid": key.kid}, claims)
    if case == "jku":
        return key.sign(claims, jku="https://attacker.example/jwks")
    if case == "bad signature":
        token = key.sign(claims)
        head, body, sig = token.split(".")
        return f"{head}.{body}.{sig[:-4]}{'AAAA' if sig[-4:] != 'AAAA' else 'BBBB'}"
    if case == "not a jwt":
        return "not-a-jwt"
    if case == "JWE":
        return "a.b.c.d.e"
    raise ValueError(case)


@pytest.mark.parametrize("case", [*FORGERIES, "alg None", "jku", "bad signature", "not a jwt", "JWE"])
async def test_forged_assertions_are_refused(services: Services, case: str) -> None:
    key = Key.generate()
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    with pytest.raises(InvalidClient):
        await auth(services, with_assertion(_forged(case, key, assertion_claims("rp-jwt"))))


async def test_an_rs256_key_cannot_sign_assertions(services: Services) -> None:
    key = Key.generate("RS256")
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks={"keys": [{**key.jwk, "alg": "RS256"}]})
    with pytest.raises(InvalidClient):
        await auth(services, with_assertion(key.sign(assertion_claims("rp-jwt"))))


async def test_the_assertion_type_must_be_jwt_bearer(services: Services) -> None:
    key = Key.generate()
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    assertion = key.sign(assertion_claims("rp-jwt"))
    for form in ({"client_assertion": assertion},
                 {"client_assertion": assertion, "client_assertion_type": "urn:ietf:params:oauth:grant-type:saml2"}):
        with pytest.raises(InvalidRequest):
            await auth(services, form)


async def test_client_id_in_the_body_must_match_the_assertion(services: Services) -> None:
    key = Key.generate()
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    await add_client(services, "rp-public")
    with pytest.raises(InvalidRequest):
        await auth(services, with_assertion(key.sign(assertion_claims("rp-jwt")), client_id="rp-public"))


async def test_only_the_registered_method_is_accepted(services: Services) -> None:
    key = Key.generate()
    await add_client(services, "rp-basic", AuthMethod.CLIENT_SECRET_BASIC)
    await add_client(services, "rp-public", jwks=jwks(key))
    for client_id in ("rp-basic", "rp-public"):  # a key-signed assertion from a client registered otherwise
        with pytest.raises(InvalidClient):
            await auth(services, with_assertion(key.sign(assertion_claims(client_id))))
    with pytest.raises(InvalidClient):
        await auth(services, {"client_id": "rp-basic"})


async def test_jwks_uri_clients_are_refused_until_keys_are_fetched(services: Services) -> None:
    key = Key.generate()
    await add_client(services, "rp-uri", AuthMethod.PRIVATE_KEY_JWT, jwks_uri="https://rp.example.jp/jwks")
    with pytest.raises(InvalidClient):
        await auth(services, with_assertion(key.sign(assertion_claims("rp-uri"))))


# none


async def test_public_clients_send_their_client_id_only(services: Services) -> None:
    key = Key.generate()
    await add_client(services, "rp-public")
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    assert await auth(services, {"client_id": "rp-public"}) == "rp-public"
    for form in ({}, {"client_id": "rp-jwt"}, {"client_id": "rp-unknown"}, {"client_id": "x" * 300}):
        with pytest.raises((InvalidClient, InvalidRequest)):
            await auth(services, form)


async def test_a_bearer_authorization_header_is_not_client_authentication(services: Services) -> None:
    await add_client(services, "rp-public")
    assert await auth(services, {"client_id": "rp-public"}, "Bearer abc") == "rp-public"


async def test_no_secret_or_assertion_reaches_the_log(services: Services, caplog: pytest.LogCaptureFixture) -> None:
    key = Key.generate()
    _, secret = await add_client(services, "rp-basic", AuthMethod.CLIENT_SECRET_BASIC)
    await add_client(services, "rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
    assert secret is not None
    assertion = Key.generate().sign(assertion_claims("rp-jwt"))
    caplog.set_level(logging.DEBUG)
    errors: list[Exception] = []
    for form, header in (({}, basic("rp-basic", secret + "x")), (with_assertion(assertion), None)):
        with pytest.raises(InvalidClient) as caught:
            await auth(services, form, header)
        errors.append(caught.value)
    logged = caplog.text + " ".join(f"{r.__dict__}" for r in caplog.records)
    said = " ".join(f"{e} {e.description} {e.detail}" for e in errors if isinstance(e, InvalidClient))
    for text in (logged, said):
        assert not [leak for leak in (secret, assertion, assertion.split(".")[2]) if leak in text]
    assert "client_auth_failed" in caplog.text


# the audience at every endpoint that authenticates clients (draft-ietf-oauth-rfc7523bis, FAPI 2.0 §5.3.2.1)

#: A request each endpoint answers with success once the client is authenticated.
_ENDPOINT_FORMS: dict[str, tuple[dict[str, str], int]] = {
    "/token": ({"grant_type": "client_credentials"}, 200),
    "/par": ({"response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "openid", "state": "s-1",
              "code_challenge": s256_challenge("v" * 43), "code_challenge_method": "S256"}, 201),
    "/introspect": ({"token": "not-a-token"}, 200),
    "/revoke": ({"token": "not-a-token"}, 200),
}


def _post_assertion(op: Provider, path: str, key: Key, aud: str | list[str]) -> tuple[int, str | None]:
    form, _ = _ENDPOINT_FORMS[path]
    claims = assertion_claims("rp-jwt", aud=aud, at=dt.datetime.now(dt.UTC))
    response = op.http.post(path, data={**form, **with_assertion(key.sign(claims))})
    body = response.json() if response.content else {}
    return response.status_code, body.get("error") if isinstance(body, dict) else None


@contextmanager
def _provider_with_jwt_client(tmp_path: Path, **env: str) -> Iterator[tuple[Provider, Key]]:
    key = Key.generate()
    with provider(tmp_path, **env) as op:
        op.register("rp-jwt", AuthMethod.PRIVATE_KEY_JWT, jwks=jwks(key))
        yield op, key


@pytest.mark.parametrize("path", list(_ENDPOINT_FORMS))
def test_every_endpoint_refuses_endpoint_url_audiences(tmp_path: Path, path: str) -> None:
    with _provider_with_jwt_client(tmp_path) as (op, key):
        for aud in (ISSUER + path, TOKEN_URL, [ISSUER + path], [ISSUER, ISSUER + path],
                    [ISSUER, "https://elsewhere.example"]):
            assert _post_assertion(op, path, key, aud) == (401, "invalid_client"), aud
        for aud in (ISSUER, [ISSUER]):
            assert _post_assertion(op, path, key, aud) == (_ENDPOINT_FORMS[path][1], None), aud


@pytest.mark.parametrize("path", list(_ENDPOINT_FORMS))
def test_the_legacy_setting_accepts_endpoint_url_audiences(tmp_path: Path, path: str) -> None:
    with _provider_with_jwt_client(tmp_path, MYNACARD_TOKENS_CLIENT_ASSERTION_LEGACY_AUDIENCES="true") as (op, key):
        for aud in (ISSUER + path, TOKEN_URL, ISSUER, [ISSUER, ISSUER + path]):
            assert _post_assertion(op, path, key, aud) == (_ENDPOINT_FORMS[path][1], None), aud
        for aud in ("https://elsewhere.example/token", [ISSUER, "https://elsewhere.example"]):
            assert _post_assertion(op, path, key, aud) == (401, "invalid_client"), aud


def test_the_fapi2_profile_refuses_legacy_audiences_at_start(tmp_path: Path) -> None:
    assert settings_for(tmp_path, MYNACARD_AUTHORIZATION_PROFILE="fapi2").authorization.profile == "fapi2"
    with pytest.raises(SettingsError) as caught:
        settings_for(tmp_path, MYNACARD_AUTHORIZATION_PROFILE="fapi2",
                     MYNACARD_TOKENS_CLIENT_ASSERTION_LEGACY_AUDIENCES="true")
    assert "authorization.profile" in str(caught.value)
    assert "tokens.client_assertion_legacy_audiences" in str(caught.value)
    with pytest.raises(SettingsError, match=r"authorization\.profile"):
        settings_for(tmp_path, MYNACARD_AUTHORIZATION_PROFILE="fapi1")
