"""OID4VCI 1.0 issuance against a running provider (test login): metadata, the authorization code flow with both
credentials, batch keys, status lists, the negative modules of the OpenID conformance issuer plan (invalid nonce,
bad proof signature, PoP key mismatch, missing proof, unknown configuration, ...), replay, idempotent retry,
notifications, admin status changes, and what is (not) kept."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from credentials.errors import CredentialReason, CredentialRevoked
from credentials.oid4vci.metadata import integrity
from credentials.sdjwt import HeldSdJwt, key_binding_jwt
from credentials.sdjwtvc import IssuerKeys
from credentials.status import StatusChecker, StatusReference
from credentials.verify import VerifierPolicy, verify_credential
from credentials.wallet.keys import HolderKey, proof_jwt
from keys.jose.b64 import b64url_decode, b64url_encode
from keys.service.jws import encode_jwt

from .conftest import CLIENT_ID, FACTS, NAME, REDIRECT_URI, Granted, Provider, grant

AUDIENCE = "x509_hash:verifier-test"
NONCE = "presentation-nonce-1"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def proofs(granted: Granted, count: int = 1, **changes: Any) -> tuple[list[HolderKey], list[str]]:
    keys = [HolderKey.generate() for _ in range(count)]
    nonce = changes.pop("nonce", None) or granted.nonce()
    made = [proof_jwt(k, audience=changes.get("audience", granted.issuer.metadata["credential_issuer"]), nonce=nonce,
                      at=changes.get("at", now()), client_id=CLIENT_ID) for k in keys]
    return keys, made


def request_body(granted: Granted, configuration: str, jwts: list[str]) -> dict[str, Any]:
    return {"credential_identifier": granted.identifiers[configuration], "proofs": {"jwt": jwts}}


def error_of(response: httpx.Response) -> str:
    assert response.status_code == 400, (response.status_code, response.text)
    return str(response.json()["error"])


def status_checker(provider: Provider) -> StatusChecker:
    # a relying party's clock leeway: the token's iat (whole seconds) may be a little ahead of our clock
    return StatusChecker(fetch=lambda uri: httpx.get(uri, timeout=10).text, trust=provider.trust(),
                         leeway=dt.timedelta(seconds=5))


def verified(provider: Provider, credential: str, key: HolderKey, disclose: list[tuple[str, ...]]) -> Any:
    held = HeldSdJwt.parse(credential)
    presentation = held.present(disclose)
    presentation += key_binding_jwt(presentation, signer=key.signer, audience=AUDIENCE, nonce=NONCE, iat=now())
    policy = VerifierPolicy(issuer_keys=IssuerKeys(trust=provider.trust()))
    return verify_credential(presentation, policy=policy, at=now(), audience=AUDIENCE, nonce=NONCE,
                             status=status_checker(provider))


# --- metadata ----------------------------------------------------------------------------------------------------


def test_metadata_documents(issuer: Provider) -> None:
    metadata = httpx.get(f"{issuer.url}/.well-known/openid-credential-issuer").json()
    assert metadata["credential_issuer"] == issuer.url
    assert {d["locale"] for d in metadata["display"]} == {"ja", "en"}
    assert metadata["batch_credential_issuance"]["batch_size"] == 10
    for name in ("credential_endpoint", "nonce_endpoint", "deferred_credential_endpoint", "notification_endpoint"):
        assert metadata[name].startswith(issuer.url + "/")
    configs = metadata["credential_configurations_supported"]
    assert set(configs) == {"jp_age", "jp_basic4"}
    for config in configs.values():
        assert config["format"] == "dc+sd-jwt"
        assert config["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"] == ["ES256"]
        assert {d["locale"] for d in config["credential_metadata"]["display"]} == {"ja", "en"}
        typed = httpx.get(config["vct"])
        assert typed.json()["vct"] == config["vct"]
        assert {d["locale"] for d in typed.json()["display"]} == {"ja", "en"}
    server = httpx.get(f"{issuer.url}/.well-known/oauth-authorization-server").json()
    assert "urn:ietf:params:oauth:grant-type:pre-authorized_code" in server["grant_types_supported"]
    assert server["authorization_details_types_supported"] == ["openid_credential", "jpki_sign"]
    assert server["pre-authorized_grant_anonymous_access_supported"] is True
    assert {"jp_age", "jp_basic4"} <= set(server["scopes_supported"])
    jwks = httpx.get(f"{issuer.url}/.well-known/jwt-vc-issuer").json()
    assert jwks["issuer"] == issuer.url
    assert [k["alg"] for k in jwks["jwks"]["keys"]] == ["ES256"]


# --- the whole flow with the wallet process --------------------------------------------------------------------


def test_wallet_receives_both_credentials_bound_to_fresh_keys(issuer: Provider, tmp_path: Path) -> None:
    wallet = tmp_path / "wallet.json"
    offer = json.dumps({"credential_issuer": issuer.url, "credential_configuration_ids": ["jp_age", "jp_basic4"],
                        "grants": {"authorization_code": {"issuer_state": "portal-1"}}})
    result = issuer.wallet(wallet, "accept", offer, "--client-id", CLIENT_ID, "--redirect-uri", REDIRECT_URI,
                           "--login", "test", "--claims", json.dumps({"name": NAME, "birthdate": "2001-04-05",
                                                                      "address": {"formatted": FACTS["address"]},
                                                                      "gender": "female", "age_over_18": True,
                                                                      "age_over_20": True}),
                           "--facts", json.dumps(FACTS), "--batch", "3", "--trust-root",
                           str(issuer.data / "credential-ca" / "root.pem"))
    assert len(result["credentials"]) == 6
    stored = json.loads(wallet.read_text())["credentials"]
    assert oct(wallet.stat().st_mode & 0o777) == "0o600"
    keys = {HolderKey.from_jwk(c["key"]).thumbprint for c in stored}
    assert len(keys) == 6  # a fresh holder key per credential
    statuses = set()
    for entry in stored:
        held = HeldSdJwt.parse(entry["credential"])
        claims = held.claims
        statuses.add((claims["status"]["status_list"]["uri"], claims["status"]["status_list"]["idx"]))
        header = json.loads(b64url_decode(entry["credential"].split(".", 1)[0], "h"))
        assert header["typ"] == "dc+sd-jwt"
        assert header["alg"] == "ES256"
        assert len(header["x5c"]) == 2  # leaf + issuing CA, never the root
        assert "kid" not in header
        assert claims["exp"] <= FACTS["not_after"]
        assert claims["vct#integrity"] == integrity(httpx.get(claims["vct"]).content)
        assert "sex" not in claims  # no opt-in
        key = HolderKey.from_jwk(entry["key"])
        if entry["configuration_id"] == "jp_age":
            assert set(claims) - {"iss", "iat", "exp", "vct", "vct#integrity", "cnf", "status"} == \
                {"age_equal_or_over"}
            result_claims = verified(issuer, entry["credential"], key, [("age_equal_or_over", "20")]).claims
            assert result_claims["age_equal_or_over"] == {"20": True}
        else:
            assert claims["name"] == NAME
            assert claims["address"] == {"formatted": FACTS["address"]}
            assert claims["jp_name_substitution"] == FACTS["name_substitution"]
            assert verified(issuer, entry["credential"], key, [("name",)]).claims["name"] == NAME
    assert len(statuses) == 6  # a random index of its own for each


def test_sex_only_with_opt_in(issuer: Provider) -> None:
    for with_sex in (False, True):
        granted = grant(issuer, ["jp_basic4"], with_sex=with_sex)
        _, jwts = proofs(granted)
        answer = granted.post("credential_endpoint", request_body(granted, "jp_basic4", jwts))
        assert answer.status_code == 200, answer.text
        claims = HeldSdJwt.parse(answer.json()["credentials"][0]["credential"]).claims
        assert ("sex" in claims) is with_sex
        if with_sex:
            assert claims["sex"] == 2


def test_scope_request_uses_the_configuration_id(issuer: Provider) -> None:
    granted = grant(issuer, ["jp_age"], use_scope=True)
    assert "authorization_details" not in granted.token
    _, jwts = proofs(granted)
    answer = granted.post("credential_endpoint", {"credential_configuration_id": "jp_age", "proofs": {"jwt": jwts}})
    assert answer.status_code == 200, answer.text
    other = grant(issuer, ["jp_age"], use_scope=True)
    _, jwts = proofs(other)
    refused = other.post("credential_endpoint", {"credential_configuration_id": "jp_basic4", "proofs": {"jwt": jwts}})
    assert refused.status_code == 403
    assert "insufficient_scope" in refused.headers["www-authenticate"]


# --- negative modules of the conformance issuer plan ---------------------------------------------------------------


def _tampered_signature(jwt: str) -> str:
    head, body, signature = jwt.split(".")
    raw = bytearray(b64url_decode(signature, "s"))
    raw[5] ^= 0x01
    return f"{head}.{body}.{b64url_encode(bytes(raw))}"


def _other_key_signs(granted: Granted) -> str:
    """A proof whose header names key A and whose signature is key B's (PoP key mismatch)."""
    a, b = HolderKey.generate(), HolderKey.generate()
    good = proof_jwt(b, audience=granted.issuer.metadata["credential_issuer"], nonce=granted.nonce(), at=now(),
                     client_id=CLIENT_ID)
    header = json.loads(b64url_decode(good.split(".", 1)[0], "h"))
    header["jwk"] = a.public_jwk
    new_head = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    return f"{new_head}.{good.split('.', 1)[1]}"


def _with_header(granted: Granted, **members: Any) -> str:
    key = HolderKey.generate()
    claims = {"aud": granted.issuer.metadata["credential_issuer"], "iat": int(now().timestamp()),
              "nonce": granted.nonce()}
    return key.sign(claims, typ=members.pop("typ", "openid4vci-proof+jwt"), header=members)


def _kid_header(granted: Granted) -> str:
    """A proof naming its key by ``kid`` (no ``jwk``): no key the issuer could bind the credential to."""
    key = HolderKey.generate()
    claims = {"aud": granted.issuer.metadata["credential_issuer"], "iat": int(now().timestamp()),
              "nonce": granted.nonce()}
    return encode_jwt(claims, key.signer, typ="openid4vci-proof+jwt")


CASES: dict[str, tuple[Callable[[Granted], dict[str, Any]], str]] = {
    "invalid_nonce": (lambda g: {"proofs": {"jwt": proofs(g, nonce="not-a-nonce-of-ours")[1]}}, "invalid_nonce"),
    "bad_proof_signature": (lambda g: {"proofs": {"jwt": [_tampered_signature(proofs(g)[1][0])]}}, "invalid_proof"),
    "pop_key_mismatch": (lambda g: {"proofs": {"jwt": [_other_key_signs(g)]}}, "invalid_proof"),
    "missing_proof": (lambda g: {}, "invalid_proof"),
    "empty_proofs": (lambda g: {"proofs": {"jwt": []}}, "invalid_proof"),
    "wrong_audience": (lambda g: {"proofs": {"jwt": proofs(g, audience="https://other.example")[1]}}, "invalid_proof"),
    "old_proof": (lambda g: {"proofs": {"jwt": proofs(g, at=now() - dt.timedelta(minutes=10))[1]}}, "invalid_proof"),
    "future_proof": (lambda g: {"proofs": {"jwt": proofs(g, at=now() + dt.timedelta(minutes=10))[1]}},
                     "invalid_proof"),
    "wrong_typ": (lambda g: {"proofs": {"jwt": [_with_header(g, typ="JWT")]}}, "invalid_proof"),
    "kid_instead_of_jwk": (lambda g: {"proofs": {"jwt": [_kid_header(g)]}}, "invalid_proof"),
    "duplicate_key": (lambda g: {"proofs": {"jwt": [proofs(g)[1][0]] * 2}}, "invalid_proof"),
    "too_many_proofs": (lambda g: {"proofs": {"jwt": proofs(g, 11)[1]}}, "invalid_credential_request"),
    "legacy_proof_member": (lambda g: {"proof": {"proof_type": "jwt", "jwt": proofs(g)[1][0]}}, "invalid_proof"),
    "unsupported_proof_type": (lambda g: {"proofs": {"ldp_vp": [{}]}}, "invalid_proof"),
    "response_encryption": (lambda g: {"proofs": {"jwt": proofs(g)[1]}, "credential_response_encryption": {}},
                            "invalid_encryption_parameters"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_negative_modules(issuer: Provider, case: str) -> None:
    granted = grant(issuer, ["jp_age"])
    make, expected = CASES[case]
    body = {"credential_identifier": granted.identifiers["jp_age"], **make(granted)}
    assert error_of(granted.post("credential_endpoint", body)) == expected
    _, jwts = proofs(granted)  # the dataset is still there: a failed request changes nothing
    assert granted.post("credential_endpoint", request_body(granted, "jp_age", jwts)).status_code == 200


def test_unknown_configuration_and_identifier(issuer: Provider) -> None:
    granted = grant(issuer, ["jp_age"], use_scope=True)
    _, jwts = proofs(granted)
    unknown = granted.post("credential_endpoint", {"credential_configuration_id": "jp_driving_licence",
                                                   "proofs": {"jwt": jwts}})
    assert error_of(unknown) == "unknown_credential_configuration"
    by_details = grant(issuer, ["jp_age"])
    _, jwts = proofs(by_details)
    wrong = by_details.post("credential_endpoint", {"credential_identifier": "no-such-dataset",
                                                    "proofs": {"jwt": jwts}})
    assert error_of(wrong) == "unknown_credential_identifier"
    both = by_details.post("credential_endpoint", {"credential_identifier": "x",
                                                   "credential_configuration_id": "jp_age", "proofs": {"jwt": jwts}})
    assert error_of(both) == "invalid_credential_request"


def test_non_ec_and_private_keys_are_refused(issuer: Provider) -> None:
    granted = grant(issuer, ["jp_age"])
    key = HolderKey.generate()
    claims = {"aud": issuer.url, "iat": int(now().timestamp()), "nonce": granted.nonce()}
    leaky = key.sign(claims, typ="openid4vci-proof+jwt", header={"jwk": key.to_jwk()})
    assert error_of(granted.post("credential_endpoint", request_body(granted, "jp_age", [leaky]))) == "invalid_proof"


def test_access_token_rules(issuer: Provider) -> None:
    granted = grant(issuer, ["jp_age"])
    _, jwts = proofs(granted)
    body = request_body(granted, "jp_age", jwts)
    url = granted.issuer.metadata["credential_endpoint"]
    bearer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {granted.token['access_token']}"})
    assert bearer.status_code == 401  # DPoP-bound: never as a bearer token
    no_proof = httpx.post(url, json=body, headers={"Authorization": f"DPoP {granted.token['access_token']}"})
    assert no_proof.status_code == 401
    assert httpx.post(url, json=body).status_code == 401


# --- replay and idempotency --------------------------------------------------------------------------------------


def test_replayed_proof_is_refused_and_a_repeated_request_gets_the_same_answer(issuer: Provider) -> None:
    granted = grant(issuer, ["jp_age", "jp_basic4"])
    _, jwts = proofs(granted, 2)
    first = granted.post("credential_endpoint", request_body(granted, "jp_age", jwts))
    assert first.status_code == 200, first.text
    again = granted.post("credential_endpoint", request_body(granted, "jp_age", jwts))
    assert again.json() == first.json()  # the same credentials, not new ones
    replay = granted.post("credential_endpoint", request_body(granted, "jp_basic4", jwts))
    assert error_of(replay) == "invalid_nonce"  # the c_nonce was used up with the first request
    _, fresh = proofs(granted)
    assert error_of(granted.post("credential_endpoint", request_body(granted, "jp_age", fresh))) == \
        "credential_request_denied"  # issued once per authorization


# --- notifications and statuses ----------------------------------------------------------------------------------


def _issue(provider: Provider, configuration: str = "jp_age") -> tuple[Granted, dict[str, Any], HolderKey]:
    granted = grant(provider, [configuration])
    keys, jwts = proofs(granted)
    answer = granted.post("credential_endpoint", request_body(granted, configuration, jwts))
    assert answer.status_code == 200, answer.text
    return granted, answer.json(), keys[0]


def _status(provider: Provider, credential: str) -> int:
    reference = HeldSdJwt.parse(credential).claims["status"]["status_list"]
    return status_checker(provider).status(StatusReference(reference["idx"], reference["uri"]), now())


def test_notifications(issuer: Provider) -> None:
    granted, body, _ = _issue(issuer)
    note = {"notification_id": body["notification_id"], "event": "credential_accepted"}
    for _ in range(2):  # idempotent
        assert granted.post("notification_endpoint", note).status_code == 204
    assert error_of(granted.post("notification_endpoint", {**note, "notification_id": "nope"})) == \
        "invalid_notification_id"
    assert error_of(granted.post("notification_endpoint", {**note, "event": "credential_lost"})) == \
        "invalid_notification_request"
    failed, body, _ = _issue(issuer)
    credential = body["credentials"][0]["credential"]
    assert _status(issuer, credential) == 0
    assert failed.post("notification_endpoint", {"notification_id": body["notification_id"],
                                                 "event": "credential_failure"}).status_code == 204
    assert _status(issuer, credential) == 1  # never stored by the wallet: no longer valid


def test_admin_command_and_api_change_statuses(issuer: Provider) -> None:
    _, body, key = _issue(issuer)
    credential = body["credentials"][0]["credential"]
    reference = HeldSdJwt.parse(credential).claims["status"]["status_list"]
    index = ["--list", reference["uri"], "--index", str(reference["idx"])]
    assert issuer.idp("credentials", "suspend", *index)["changed"] == 1
    assert _status(issuer, credential) == 2
    with pytest.raises(CredentialRevoked) as refused:
        verified(issuer, credential, key, [])
    assert refused.value.reason is CredentialReason.STATUS_SUSPENDED
    assert issuer.idp("credentials", "reinstate", *index)["changed"] == 1
    assert _status(issuer, credential) == 0
    assert issuer.idp("credentials", "revoke", *index)["changed"] == 1
    assert issuer.idp("credentials", "reinstate", *index)["changed"] == 0  # INVALID is final
    assert _status(issuer, credential) == 1
    listed = issuer.idp("credentials", "status-lists")
    assert listed[0]["size"] == 4096
    assert listed[0]["allocated"] >= 1


def test_status_list_token(issuer: Provider) -> None:
    _, body, _ = _issue(issuer)
    uri = HeldSdJwt.parse(body["credentials"][0]["credential"]).claims["status"]["status_list"]["uri"]
    answer = httpx.get(uri)
    assert answer.headers["content-type"].startswith("application/statuslist+jwt")
    header = json.loads(b64url_decode(answer.text.split(".", 1)[0], "h"))
    assert header["typ"] == "statuslist+jwt"
    assert len(header["x5c"]) == 2
    token = status_checker(issuer).token(uri, now())
    assert token.ttl == dt.timedelta(seconds=2)
    assert token.status_list.bits == 2
    assert len(token.status_list) == 4096
    assert httpx.get(f"{issuer.url}/statuslists/999").status_code == 404


# --- minimisation ------------------------------------------------------------------------------------------------


def test_facts_are_sealed_and_gone_once_issued(issuer: Provider) -> None:
    granted = grant(issuer, ["jp_basic4"])
    database = issuer.data / "idp.sqlite3"

    def dump() -> str:
        with sqlite3.connect(database) as conn:
            return "\n".join(str(row) for table in ("oidc_objects", "credential_datasets", "issued_credentials")
                             for row in conn.execute(f"SELECT * FROM {table}"))

    before = dump()
    for fact in (NAME, FACTS["address"], json.dumps(NAME)[1:-1]):
        assert fact not in before  # sealed, never in clear, not in the grant
    with sqlite3.connect(database) as conn:
        sealed = conn.execute("SELECT sealed FROM credential_datasets WHERE identifier = ?",
                              (granted.identifiers["jp_basic4"],)).fetchone()[0]
    assert sealed is not None
    _, jwts = proofs(granted)
    assert granted.post("credential_endpoint", request_body(granted, "jp_basic4", jwts)).status_code == 200
    with sqlite3.connect(database) as conn:
        row = conn.execute("SELECT sealed, kek_id FROM credential_datasets WHERE identifier = ?",
                           (granted.identifiers["jp_basic4"],)).fetchone()
    assert row == (None, None)  # the facts are deleted with the issuance
    for line in issuer.log.read_text().splitlines():
        assert NAME not in line
        assert FACTS["address"] not in line


def test_no_certificate_data_in_credentials(issuer: Provider) -> None:
    _, body, _ = _issue(issuer, "jp_basic4")
    compact = body["credentials"][0]["credential"]
    payload = json.loads(b64url_decode(compact.split(".")[1], "p"))
    assert not {"serial", "certificate", "sub", "my_number"} & set(payload)
    leaf = base64.b64decode(json.loads(b64url_decode(compact.split(".")[0], "h"))["x5c"][0])
    assert b"credential signing key" in leaf  # the issuer's certificate, not the person's
