"""Receiving credentials (OpenID4VCI 1.0, wallet side): offer → metadata → token → nonce → proofs → credential.

:func:`receive` accepts an offer link (by value or by reference) or an offer URI and takes either grant:

* ``urn:ietf:params:oauth:grant-type:pre-authorized_code`` with the Transaction Code the person read on the PC
  (``tx_code``; anonymous unless a ``client_id`` is given);
* ``authorization_code``: PKCE S256, a pushed authorization request (RFC 9126) with ``authorization_details`` of
  type ``openid_credential`` (or scope values) and the offer's ``issuer_state``, the code bound to the DPoP key
  (``dpop_jkt``), the login and consent driven by a :class:`~credentials.wallet.login.UserAgent`.

Then for each granted credential (``credential_identifiers`` of the token response, or the configuration): a
``c_nonce``, ``batch`` fresh holder keys and one ``openid4vci-proof+jwt`` each (with a key attestation when an
attester is configured), the Credential Request with the DPoP-bound token, and — on 202 — the Deferred
Credential Endpoint, polled up to ``wait`` seconds (longer waits are kept in the wallet file for
``wallet deferred``). Each credential is checked on receipt (its ``cnf`` is the key it was asked for; with a
trust store, the issuer's ``x5c`` chain and signature) before it is stored, then ``credential_accepted`` is sent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from credentials.oid4vci.offer import PRE_AUTHORIZED_CODE_GRANT, CredentialOffer, parse_offer_link
from credentials.sdjwt.holder import HeldSdJwt
from credentials.sdjwtvc import IssuerKeys, verify_sd_jwt_vc
from credentials.wallet.attestation import KeyAttester
from credentials.wallet.http import DpopSession, WalletError
from credentials.wallet.keys import HolderKey, proof_jwt
from credentials.wallet.login import LoginDriver, UserAgent, default_approval
from credentials.wallet.store import WalletFile
from keys.jose.b64 import b64url_encode
from keys.jose.jwk import jwk_thumbprint
from keys.trust import TrustStore

Grant = Literal["auto", "pre-authorized_code", "authorization_code"]


@dataclass
class ReceiveOptions:
    """How to receive: grant, client, Transaction Code, batch size, login, checks."""

    grant: Grant = "auto"
    client_id: str | None = None
    redirect_uri: str | None = None
    tx_code: str | None = None
    batch: int = 1
    use_scope: bool = False
    login: LoginDriver | None = None
    with_sex: bool = False
    approve: Sequence[str] | None = None
    trust: TrustStore | None = None
    attester: KeyAttester | None = None
    allow_http: bool = False
    wait: float = 0.0
    notify: bool = True


@dataclass
class Received:
    """What one :func:`receive` got: stored credential ids, deferred transactions, and the raw answers."""

    credential_ids: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)


def _get_json(session: DpopSession, url: str) -> Any:
    response = session.http.get(url, headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise WalletError(f"GET {url}: {response.status_code}", status=response.status_code)
    return response.json()


def resolve_offer(session: DpopSession, offer: str, *, allow_http: bool) -> CredentialOffer:
    """The offer of a link, of an offer URI (fetched), or of its JSON."""
    if offer.lstrip().startswith("{"):
        return CredentialOffer.parse(json.loads(offer), allow_http=allow_http)
    parsed = parse_offer_link(offer, allow_http=allow_http) if "credential_offer" in offer else offer
    if isinstance(parsed, CredentialOffer):
        return parsed
    return CredentialOffer.parse(_get_json(session, parsed), allow_http=allow_http)


@dataclass
class Issuer:
    """An issuer's metadata, as the wallet needs it."""

    metadata: Mapping[str, Any]
    authorization_server: Mapping[str, Any]

    @classmethod
    def discover(cls, session: DpopSession, issuer: str) -> Issuer:
        """Fetch and check both metadata documents (§12.2.2: ``credential_issuer`` must equal the issuer)."""
        metadata = _get_json(session, f"{issuer}/.well-known/openid-credential-issuer")
        if metadata.get("credential_issuer") != issuer:
            raise WalletError("the issuer metadata names another credential_issuer")
        server = metadata.get("authorization_servers", [issuer])[0]
        return cls(metadata, _get_json(session, f"{server}/.well-known/oauth-authorization-server"))

    def configuration(self, configuration_id: str) -> Mapping[str, Any]:
        """One configuration of ``credential_configurations_supported``."""
        config = self.metadata["credential_configurations_supported"].get(configuration_id)
        if config is None:
            raise WalletError(f"the issuer offers no configuration {configuration_id}")
        return dict(config)


def _token_pre_authorized(session: DpopSession, issuer: Issuer, offer: CredentialOffer,
                          options: ReceiveOptions) -> dict[str, Any]:
    form = {"grant_type": PRE_AUTHORIZED_CODE_GRANT, "pre-authorized_code": str(offer.pre_authorized_code)}
    if offer.tx_code is not None:
        if options.tx_code is None:
            raise WalletError("this offer needs the Transaction Code shown on the other device (--tx-code)")
        form["tx_code"] = options.tx_code
    if options.client_id is not None:
        form["client_id"] = options.client_id
    result: dict[str, Any] = session.json("POST", issuer.authorization_server["token_endpoint"], data=form)
    return result


def _token_authorization_code(session: DpopSession, issuer: Issuer, offer: CredentialOffer,
                              options: ReceiveOptions) -> dict[str, Any]:
    if options.client_id is None or options.redirect_uri is None or options.login is None:
        raise WalletError("the authorization code flow needs a client_id, a redirect_uri and a login")
    server = issuer.authorization_server
    verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    challenge = b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())
    params = {"response_type": "code", "client_id": options.client_id, "redirect_uri": options.redirect_uri,
              "code_challenge": challenge, "code_challenge_method": "S256", "state": state,
              "dpop_jkt": session.key.thumbprint}
    if options.use_scope:
        params["scope"] = " ".join(issuer.configuration(c)["scope"] for c in offer.credential_configuration_ids)
    else:
        params["authorization_details"] = json.dumps([
            {"type": "openid_credential", "credential_configuration_id": c}
            for c in offer.credential_configuration_ids])
    if offer.issuer_state is not None:
        params["issuer_state"] = offer.issuer_state
    pushed = session.json("POST", server["pushed_authorization_request_endpoint"], data=params, expect=(201,))
    url = server["authorization_endpoint"] + "?" + urlencode({"client_id": options.client_id,
                                                              "request_uri": pushed["request_uri"]})
    approve = (lambda offered: [c for c in offered if c in (options.approve or ())]) if options.approve is not None \
        else default_approval(options.with_sex)
    agent = UserAgent(server["issuer"], options.redirect_uri, options.login, approve)
    answer = agent.authorize(url)
    if answer.get("state") != state or answer.get("iss") != server["issuer"]:
        raise WalletError("the authorization response does not belong to this request (state or iss)")
    result: dict[str, Any] = session.json("POST", server["token_endpoint"], data={
        "grant_type": "authorization_code", "code": answer["code"], "redirect_uri": options.redirect_uri,
        "client_id": options.client_id, "code_verifier": verifier})
    return result


def _requests(token: Mapping[str, Any], offer: CredentialOffer) -> list[tuple[str, dict[str, str]]]:
    """``(configuration id, request member)`` per credential to ask for (§8.2: identifiers when given)."""
    details = [d for d in token.get("authorization_details") or () if d.get("type") == "openid_credential"]
    if details:
        return [(d["credential_configuration_id"], {"credential_identifier": i})
                for d in details for i in d["credential_identifiers"]]
    return [(c, {"credential_configuration_id": c}) for c in offer.credential_configuration_ids]


def _nonce(session: DpopSession, issuer: Issuer) -> str:
    return str(session.json("POST", issuer.metadata["nonce_endpoint"])["c_nonce"])


def check_credential(credential: str, key: HolderKey, *, trust: TrustStore | None, at: dt.datetime) -> HeldSdJwt:
    """The received credential, if it is bound to ``key`` (and, with ``trust``, signed by a trusted issuer)."""
    held = HeldSdJwt.parse(credential)
    cnf = held.claims.get("cnf")
    if not isinstance(cnf, Mapping) or not isinstance(cnf.get("jwk"), Mapping) or \
            jwk_thumbprint(cnf["jwk"]) != key.thumbprint:
        raise WalletError("the credential is not bound to the key it was requested for")
    if trust is not None:
        verify_sd_jwt_vc(credential, issuer_keys=IssuerKeys(trust=trust), key_binding=None, at=at)
    return held


class _Receiver:
    def __init__(self, session: DpopSession, issuer: Issuer, wallet: WalletFile, options: ReceiveOptions,
                 access_token: str, client_id: str | None, issuer_id: str) -> None:
        self.session, self.issuer, self.wallet, self.options = session, issuer, wallet, options
        self.access_token, self.client_id, self.issuer_id = access_token, client_id, issuer_id

    def request(self, configuration_id: str, member: Mapping[str, str], result: Received) -> None:
        now = dt.datetime.now(dt.UTC)
        keys = [HolderKey.generate() for _ in range(self.options.batch)]
        nonce = _nonce(self.session, self.issuer)
        attestation = None if self.options.attester is None else self.options.attester.attest(keys, nonce=nonce,
                                                                                              at=now)
        proofs = [proof_jwt(k, audience=self.issuer_id, nonce=nonce, at=now, client_id=self.client_id,
                            key_attestation=attestation) for k in keys]
        response = self.session.request("POST", self.issuer.metadata["credential_endpoint"],
                                        access_token=self.access_token, json={**member, "proofs": {"jwt": proofs}})
        first = self._answer(response, "credential")
        result.responses.append(first)
        body = self._wait(first, configuration_id, keys, result) if response.status_code == 202 else first
        if body is not None:
            self.store(configuration_id, body, keys, result)

    def _answer(self, response: Any, what: str) -> dict[str, Any]:
        if response.status_code not in (200, 202):
            error = None
            with contextlib.suppress(ValueError):
                error = response.json().get("error")
            raise WalletError(f"{what}: {response.status_code} {response.text[:300]}", error, response.status_code)
        body: dict[str, Any] = response.json()
        return body

    def _wait(self, body: Mapping[str, Any], configuration_id: str, keys: list[HolderKey],
              result: Received) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.options.wait
        transaction_id = str(body["transaction_id"])
        while time.monotonic() < deadline:
            time.sleep(min(float(body.get("interval", 5)), max(0.0, deadline - time.monotonic()), 1.0))
            response = self.session.request("POST", self.issuer.metadata["deferred_credential_endpoint"],
                                            access_token=self.access_token, json={"transaction_id": transaction_id})
            answer = self._answer(response, "deferred credential")
            result.responses.append(answer)
            if response.status_code == 200:
                return answer
        self.wallet.deferred.append({
            "issuer": self.issuer_id, "configuration_id": configuration_id, "transaction_id": transaction_id,
            "deferred_endpoint": self.issuer.metadata["deferred_credential_endpoint"],
            "notification_endpoint": self.issuer.metadata.get("notification_endpoint"),
            "access_token": self.access_token, "dpop_key": self.session.key.to_jwk(),
            "keys": [k.to_jwk() for k in keys]})
        result.deferred.append(transaction_id)
        return None

    def store(self, configuration_id: str, body: Mapping[str, Any], keys: Sequence[HolderKey],
              result: Received) -> None:
        now = dt.datetime.now(dt.UTC)
        by_key = {k.thumbprint: k for k in keys}
        for item in body["credentials"]:
            credential = str(item["credential"])
            held = HeldSdJwt.parse(credential)
            jwk = held.claims.get("cnf", {}).get("jwk", {})
            key = by_key.get(jwk_thumbprint(jwk)) if isinstance(jwk, Mapping) else None
            if key is None:
                raise WalletError("a credential is bound to none of the keys proved")
            check_credential(credential, key, trust=self.options.trust, at=now)
            result.credential_ids.append(self.wallet.add({
                "issuer": self.issuer_id, "configuration_id": configuration_id, "vct": held.claims.get("vct"),
                "credential": credential, "key": key.to_jwk(), "received_at": int(now.timestamp())}))
        notification = body.get("notification_id")
        endpoint = self.issuer.metadata.get("notification_endpoint")
        if self.options.notify and notification and endpoint:
            self.session.json("POST", endpoint, access_token=self.access_token, expect=(204,),
                              json={"notification_id": notification, "event": "credential_accepted"})


def obtain_token(session: DpopSession, issuer: Issuer, offer: CredentialOffer,
                 options: ReceiveOptions) -> dict[str, Any]:
    """The token response for ``offer`` by the grant ``options`` choose (``auto``: pre-authorized when offered)."""
    grant = options.grant
    if grant == "auto":
        grant = "pre-authorized_code" if offer.pre_authorized_code is not None else "authorization_code"
    if grant == "pre-authorized_code":
        if offer.pre_authorized_code is None:
            raise WalletError("the offer has no pre-authorized code")
        return _token_pre_authorized(session, issuer, offer, options)
    return _token_authorization_code(session, issuer, offer, options)


def credential_requests(token: Mapping[str, Any], offer: CredentialOffer) -> list[tuple[str, dict[str, str]]]:
    """``(configuration id, request member)`` per credential to ask for (§8.2: identifiers when given)."""
    return _requests(token, offer)


def receive(offer: str, wallet: WalletFile, options: ReceiveOptions) -> Received:
    """Receive every credential an offer holds (see the module docstring); the wallet file is saved."""
    session = DpopSession()
    resolved = resolve_offer(session, offer, allow_http=options.allow_http)
    issuer = Issuer.discover(session, resolved.credential_issuer)
    token = obtain_token(session, issuer, resolved, options)
    receiver = _Receiver(session, issuer, wallet, options, str(token["access_token"]), options.client_id,
                         resolved.credential_issuer)
    result = Received()
    try:
        for configuration_id, member in _requests(token, resolved):
            receiver.request(configuration_id, member, result)
    finally:
        wallet.save()
    return result


def collect_deferred(wallet: WalletFile, options: ReceiveOptions) -> Received:
    """Try every deferred issuance of the wallet file once more."""
    result, still = Received(), []
    for entry in wallet.deferred:
        session = DpopSession(HolderKey.from_jwk(entry["dpop_key"]))
        issuer = Issuer({"deferred_credential_endpoint": entry["deferred_endpoint"],
                         "notification_endpoint": entry.get("notification_endpoint")}, {})
        receiver = _Receiver(session, issuer, wallet, options, entry["access_token"], None, entry["issuer"])
        response = session.request("POST", entry["deferred_endpoint"], access_token=entry["access_token"],
                                   json={"transaction_id": entry["transaction_id"]})
        body = receiver._answer(response, "deferred credential")
        result.responses.append(body)
        if response.status_code == 200:
            receiver.store(entry["configuration_id"], body, [HolderKey.from_jwk(k) for k in entry["keys"]], result)
        else:
            still.append(entry)
    wallet.deferred = still
    wallet.save()
    return result


__all__ = ["Issuer", "ReceiveOptions", "Received", "check_credential", "collect_deferred", "credential_requests",
           "obtain_token", "receive", "resolve_offer"]
