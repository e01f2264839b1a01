"""The wallet side of the faults suite's credential race (OpenID4VCI 1.0 §8): an access token for one credential
dataset, obtained without a card, and Credential Requests prepared to be sent at once.

The token comes from the authorization code flow with the provider's test login (test mode only), which carries
made-up facts for a made-up person; the wallet is the public client ``wallet`` with DPoP (:mod:`credentials.wallet`).
Every prepared request carries its own DPoP proof (RFC 9449 §4: a proof is used once) for the same access token;
the OpenID4VCI key proofs are either shared (the same request sent again, §8.2) or each request's own, with its own
``c_nonce`` (§7)::

    wallet = WalletToken.obtain(issuer_url, http)
    requests = wallet.requests(same=10, fresh=10)   # (headers, body) pairs, sent concurrently by the caller
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from conformance.oidc_clients import ClientSpec
from credentials.oid4vci.offer import CredentialOffer
from credentials.wallet.http import DpopSession
from credentials.wallet.issuance import Issuer, ReceiveOptions, obtain_token
from credentials.wallet.keys import HolderKey, dpop_proof, proof_jwt
from credentials.wallet.login import TestLogin

#: The public client the wallet uses (registered by the suite; redirect URI never dereferenced).
WALLET: Final = ClientSpec("wallet", "wallet", "none", redirect_uri="https://wallet.test/cb")
#: The configuration raced: one credential per request.
CONFIGURATION: Final = "jp_age"
_FACTS: Final = {"name": "試験\u3000太郎", "name_substitution": "00000", "birth_date": "1990-01-02",
                 "address": "東京都千代田区霞が関１－１－１検査用", "address_substitution": "0" * 19, "sex": 1}
_CLAIMS: Final = {"name": _FACTS["name"], "birthdate": _FACTS["birth_date"], "age_over_18": True,
                  "age_over_20": True}


@dataclass(frozen=True)
class Prepared:
    """One Credential Request ready to send: the headers (DPoP proof, access token) and the JSON body."""

    headers: dict[str, str]
    body: dict[str, Any]
    shared: bool


@dataclass
class WalletToken:
    """A DPoP-bound access token for one dataset of :data:`CONFIGURATION`, and what a request needs."""

    session: DpopSession
    issuer: Issuer
    access_token: str
    credential_identifier: str

    @classmethod
    def obtain(cls, issuer_url: str, http: httpx.Client, account: str) -> WalletToken:
        """The authorization code flow with the test login as ``account`` (``http`` carries the caller's hooks)."""
        session = DpopSession(http=http)
        issuer = Issuer.discover(session, issuer_url)
        options = ReceiveOptions(client_id=WALLET.client_id, redirect_uri=WALLET.redirect_uri, allow_http=True,
                                 login=TestLogin(account, _CLAIMS, {**_FACTS, "not_after": _not_after()}))
        token = obtain_token(session, issuer, CredentialOffer(issuer_url, (CONFIGURATION,), authorization_code=True),
                             options)
        identifiers = [d["credential_identifiers"][0] for d in token.get("authorization_details", ())
                       if d.get("credential_configuration_id") == CONFIGURATION]
        if not identifiers:
            raise ValueError(f"the token response lists no credential_identifier for {CONFIGURATION}")
        return cls(session, issuer, str(token["access_token"]), identifiers[0])

    @property
    def endpoint(self) -> str:
        return str(self.issuer.metadata["credential_endpoint"])

    def c_nonce(self) -> str:
        """A fresh ``c_nonce`` from the Nonce Endpoint (§7); also refreshes the server's DPoP nonce."""
        return str(self.session.json("POST", self.issuer.metadata["nonce_endpoint"])["c_nonce"])

    def _proof(self, nonce: str) -> str:
        return proof_jwt(HolderKey.generate(), audience=str(self.issuer.metadata["credential_issuer"]), nonce=nonce,
                         at=dt.datetime.now(dt.UTC), client_id=WALLET.client_id)

    def requests(self, *, same: int, fresh: int) -> list[Prepared]:
        """``same`` copies of one request (one key proof, one ``c_nonce``) and ``fresh`` requests with a key proof
        and ``c_nonce`` of their own, all for the same dataset; each with its own DPoP proof."""
        shared = self._proof(self.c_nonce())
        proofs = [(shared, True)] * same + [(self._proof(self.c_nonce()), False) for _ in range(fresh)]
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.endpoint))
        dpop_nonce = self.session.nonces.get(origin)
        return [Prepared({"Authorization": f"DPoP {self.access_token}",
                          "DPoP": dpop_proof(self.session.key, method="POST", url=self.endpoint,
                                             at=dt.datetime.now(dt.UTC), nonce=dpop_nonce,
                                             access_token=self.access_token)},
                         {"credential_identifier": self.credential_identifier, "proofs": {"jwt": [proof]}}, is_shared)
                for proof, is_shared in proofs]


def _not_after() -> int:
    """The signing certificate's end the test login claims: four years ahead."""
    return int((dt.datetime.now(dt.UTC) + dt.timedelta(days=4 * 365)).timestamp())


__all__ = ["CONFIGURATION", "WALLET", "Prepared", "WalletToken"]
