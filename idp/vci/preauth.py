"""Pre-authorized codes (OpenID4VCI 1.0 §3.5, §4.1.1): "log in at the PC, take the credential on the phone".

:func:`create_offer` turns an issuance the person just authorized (on the PC, through the card login and the
consent page) into a Credential Offer for another device: a pre-authorized code (256 random bits; stored as its
SHA-256 only), single use, valid ``credentials.pre_authorized_code_ttl``, bound to a Transaction Code of
``credentials.tx_code_length`` digits from the OS CSPRNG (stored as a keyed hash, since six digits are easily
guessed offline) which is shown on the PC and **never put in the offer**; ``credentials.tx_code_attempts`` wrong
codes kill the pre-authorized code. The offer is served by reference (``credential_offer_uri``, for the QR
code) from the objects table until the code expires.

The ``issuer`` client: the provider's own public client (``ISSUER_CLIENT_ID``), registered at start-up. The
portal's logins run under it, and pre-authorized tokens requested without client authentication (anonymous
access, §6.1) are issued to it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from credentials.oid4vci.offer import CredentialOffer, TxCode
from idp.clients import AuthMethod, Client
from idp.runtime import Services
from idp.storage import ClientExists
from idp.vci.service import issuer_of

ISSUER_CLIENT_ID: Final = "mynacard-credential-issuer"
CALLBACK_PATH: Final = "/credentials/callback"
OFFER_KIND: Final = "CredentialOffer"
OFFER_PATH: Final = "/credential-offer"
_TX_CONTEXT: Final = b"mynacard-id tx_code v1\x00"


def issuer_client(issuer: str) -> Client:
    """The provider's own client (see the module docstring)."""
    return Client(ISSUER_CLIENT_ID, AuthMethod.NONE, (issuer + CALLBACK_PATH,), dpop_bound_access_tokens=False)


async def ensure_issuer_client(services: Services) -> None:
    """Register (or refresh) the issuer client; safe in every worker at once."""
    client = issuer_client(services.settings.issuer)
    try:
        await services.clients.add(client)
    except ClientExists:
        await services.clients.replace(client)


def code_digest(code: str) -> str:
    """What is stored of a pre-authorized code."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def tx_code_digest(key: bytes, tx_code: str) -> str:
    """What is stored of a Transaction Code: keyed, so that a database copy cannot be brute-forced."""
    return hmac.new(key, _TX_CONTEXT + tx_code.encode("utf-8"), hashlib.sha256).hexdigest()


def new_tx_code(length: int) -> str:
    """``length`` random decimal digits."""
    return "".join(str(secrets.randbelow(10)) for _ in range(length))


@dataclass(frozen=True, slots=True)
class PreAuthorizedOffer:
    """An offer for another device: its URI (for the link and QR code), the offer, and the Transaction Code to
    show on this device only."""

    uri: str
    offer: CredentialOffer
    tx_code: str
    expires_at: dt.datetime


async def create_offer(services: Services, issuance_id: str, configuration_ids: tuple[str, ...],
                       now: dt.datetime) -> PreAuthorizedOffer:
    """A pre-authorized code with its Transaction Code for the issuance, and its offer by reference."""
    vci = issuer_of(services)
    if vci is None:
        raise RuntimeError("the credential issuer is not running")
    options = services.settings.credentials
    code, tx_code = secrets.token_urlsafe(32), new_tx_code(options.tx_code_length)
    expires_at = now + dt.timedelta(seconds=options.pre_authorized_code_ttl)
    await vci.store.pre_authorized_codes.add(code_digest(code), issuance_id=issuance_id,
                                             tx_code_digest=tx_code_digest(vci.reference_key, tx_code),
                                             max_attempts=options.tx_code_attempts, expires_at=expires_at, now=now)
    description = ("PCの画面に表示された確認コードを入力してください。"
                   " Enter the confirmation code shown on the PC screen.")
    offer = CredentialOffer(services.settings.issuer, configuration_ids, pre_authorized_code=code,
                            tx_code=TxCode("numeric", options.tx_code_length, description))
    offer_id = secrets.token_urlsafe(24)
    await services.objects.upsert(OFFER_KIND, offer_id, offer.to_json(), expires_at)
    return PreAuthorizedOffer(f"{services.settings.issuer}{OFFER_PATH}/{offer_id}", offer, tx_code, expires_at)


__all__ = ["CALLBACK_PATH", "ISSUER_CLIENT_ID", "OFFER_KIND", "OFFER_PATH", "PreAuthorizedOffer", "code_digest",
           "create_offer", "ensure_issuer_client", "issuer_client", "new_tx_code", "tx_code_digest"]
