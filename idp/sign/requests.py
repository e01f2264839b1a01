"""Signing requests: what a business asks the card to sign, and what the card signed, in the ``objects`` table.

Both front doors map to one model, :class:`SigningRequest`: an RFC 9396 ``jpki_sign`` authorization request
(:mod:`idp.sign.details`, created when its interaction reaches the signing consent page) and the Digital
Agency-shaped ``POST /api/sign-transactions`` (created for the client first, then bound by an authorization
request naming its id). Life of a request::

    requests = SigningRequests(services.objects)
    created = await requests.create("client-1", documents, expires_at=now + ttl)        # pending
    bound = await requests.bind(created.id, client_id="client-1", interaction=uid, now=now)  # single use
    await requests.approve(bound, now=now)                   # the person approved the consent page
    await requests.record_results(bound, results, now=now)   # verified card signatures (nothing unverified)
    await requests.grant(bound.id, expires_at=grant_expiry, now=now)  # the code is issued (grant names bound.id)
    results = await requests.take_results(bound.id, now=now)  # once; then gone

=====================  ======================  ================================================================
kind                   id                      payload
=====================  ======================  ================================================================
``SigningRequest``     the request id (uuid)   ``client_id``, ``documents``, ``state`` (pending, bound,
                                               approved, signed), ``interaction``, ``results``
``SigningBinding``     the request id          (none): its existence makes :meth:`SigningRequests.bind` single use
``SigningInteraction`` the interaction uid     ``request``: the request bound to the interaction
``SigningResults``     the request id          the granted request and its results, until the business
                                               fetches them (consumed once, then deleted)
=====================  ======================  ================================================================

What is kept: digests and labels (the business's own data), the card's signatures and the signing certificate
*until the business fetched them* (it needs the certificate to check the signature), then nothing; the
verification record the business may keep is handed out, not kept here. Never a PIN, never the 個人番号.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from idp.storage import ObjectStore
from keys.jose.b64 import b64url_decode, b64url_encode

REQUEST: Final = "SigningRequest"
BINDING: Final = "SigningBinding"
INTERACTION: Final = "SigningInteraction"
RESULTS: Final = "SigningResults"

State = Literal["pending", "bound", "approved", "signed"]
#: Signature formats a document may ask for (the signed attributes the card's CMS signature covers).
PROFILES: Final = ("cades-bes", "pades")


@dataclass(frozen=True, slots=True)
class Document:
    """One thing to sign: the business's ``label``, its digest, and the DER DigestInfo the card signs as given."""

    label: str
    #: ``sha256``, ``sha384`` or ``sha512`` (:data:`keys.cms.digest_info` allow-list).
    hash_algorithm: str
    digest: bytes = field(repr=False)
    #: DER ``DigestInfo(hash_algorithm, digest)`` (what the business sent, or its encoding of the bare digest).
    digest_info: bytes = field(repr=False)
    profile: str = "cades-bes"

    def to_json(self) -> dict[str, str]:
        """Stored form."""
        return {"label": self.label, "hash_algorithm": self.hash_algorithm, "digest": b64url_encode(self.digest),
                "digest_info": b64url_encode(self.digest_info), "profile": self.profile}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Document:
        """What :meth:`to_json` stored."""
        return cls(str(value["label"]), str(value["hash_algorithm"]), b64url_decode(value["digest"], "digest"),
                   b64url_decode(value["digest_info"], "digest_info"), str(value.get("profile") or "cades-bes"))


@dataclass(frozen=True, slots=True)
class DocumentSignature:
    """The card's two signatures over one document (both verified before they are recorded).

    ``raw``: RSASSA-PKCS1-v1_5 over the document's DigestInfo (what the Digital Agency returns);
    ``signed_attributes``: RSASSA-PKCS1-v1_5 over DigestInfo(H(signedAttrs)) (the CMS SignerInfo's signature);
    ``signing_time``: the agent's clock when it built the signed attributes (CAdES-BES signing-time).
    """

    raw: bytes = field(repr=False)
    signed_attributes: bytes = field(repr=False)
    signing_time: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """Stored form."""
        return {"raw": b64url_encode(self.raw), "signed_attributes": b64url_encode(self.signed_attributes),
                "signing_time": int(self.signing_time.timestamp())}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> DocumentSignature:
        """What :meth:`to_json` stored."""
        return cls(b64url_decode(value["raw"], "raw"), b64url_decode(value["signed_attributes"], "signed_attributes"),
                   dt.datetime.fromtimestamp(int(value["signing_time"]), dt.UTC))


@dataclass(frozen=True, slots=True)
class SigningResults:
    """What the card signed, verified: one :class:`DocumentSignature` per document (request order), the signing
    certificate (held only until fetched), and the verification record (a JWS the business may keep)."""

    signatures: tuple[DocumentSignature, ...]
    certificate: bytes = field(repr=False)
    record: str = field(repr=False)
    verified_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """Stored form."""
        return {"signatures": [s.to_json() for s in self.signatures], "certificate": b64url_encode(self.certificate),
                "record": self.record, "verified_at": int(self.verified_at.timestamp())}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> SigningResults:
        """What :meth:`to_json` stored."""
        return cls(tuple(DocumentSignature.from_json(s) for s in value["signatures"]),
                   b64url_decode(value["certificate"], "certificate"), str(value["record"]),
                   dt.datetime.fromtimestamp(int(value["verified_at"]), dt.UTC))


@dataclass(frozen=True, slots=True)
class SigningRequest:
    """A business's request for card signatures over ``documents``."""

    id: str
    client_id: str
    documents: tuple[Document, ...]
    expires_at: dt.datetime
    state: State = "pending"
    interaction: str | None = None
    results: SigningResults | None = None

    def to_payload(self) -> dict[str, Any]:
        """Stored form."""
        return {"client_id": self.client_id, "documents": [d.to_json() for d in self.documents], "state": self.state,
                "interaction": self.interaction, "results": None if self.results is None else self.results.to_json()}

    @classmethod
    def from_payload(cls, id_: str, payload: Mapping[str, Any], expires_at: dt.datetime) -> SigningRequest:
        """What :meth:`to_payload` stored."""
        results = payload.get("results")
        return cls(id_, str(payload["client_id"]), tuple(Document.from_json(d) for d in payload["documents"]),
                   expires_at, payload["state"], payload.get("interaction"),
                   None if results is None else SigningResults.from_json(results))


@dataclass(frozen=True, slots=True)
class GrantedResults:
    """The results bound to a grant, as fetched (once): the request (documents, client) and what was signed."""

    request: SigningRequest
    results: SigningResults


class SigningRequests:
    """The signing requests of one provider (see the module docstring for their life)."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    async def _store(self, request: SigningRequest) -> SigningRequest:
        await self._objects.upsert(REQUEST, request.id, request.to_payload(), request.expires_at)
        return request

    async def create(self, client_id: str, documents: Sequence[Document], *, expires_at: dt.datetime,
                     request_id: str | None = None) -> SigningRequest:
        """A new pending request of ``client_id`` (id: a random UUID unless given)."""
        if not documents:
            raise ValueError("a signing request has at least one document")
        return await self._store(SigningRequest(request_id or str(uuid.uuid4()), client_id, tuple(documents),
                                                expires_at))

    async def get(self, request_id: str, now: dt.datetime) -> SigningRequest | None:
        """The unexpired request ``request_id``."""
        try:
            found = await self._objects.find(REQUEST, request_id, now=now)
        except ValueError:  # not a usable key
            return None
        return None if found is None else SigningRequest.from_payload(request_id, found.payload, found.expires_at)

    async def bind(self, request_id: str, *, client_id: str, interaction: str,
                   now: dt.datetime) -> SigningRequest | None:
        """Bind a pending request of ``client_id`` to ``interaction``, once: ``None`` when it is unknown, expired,
        another client's, or was bound before (a replay). Atomic across workers."""
        request = await self.get(request_id, now)
        if request is None or request.client_id != client_id or request.state != "pending":
            return None
        if not await self._objects.remember_once(BINDING, request_id, expires_at=request.expires_at, now=now):
            return None
        bound = await self._store(replace(request, state="bound", interaction=interaction))
        await self._objects.upsert(INTERACTION, interaction, {"request": request_id}, request.expires_at)
        return bound

    async def for_interaction(self, interaction: str, now: dt.datetime) -> SigningRequest | None:
        """The request bound to ``interaction``, if any."""
        link = await self._objects.find(INTERACTION, interaction, now=now)
        if link is None:
            return None
        request = await self.get(str(link.payload["request"]), now)
        return request if request is not None and request.interaction == interaction else None

    async def approve(self, request: SigningRequest, *, now: dt.datetime) -> SigningRequest:
        """The person approved the documents on the consent page (only a bound request can be approved)."""
        if request.state != "bound":
            raise ValueError(f"a {request.state} request cannot be approved")
        return await self._store(replace(request, state="approved"))

    async def record_results(self, request: SigningRequest, results: SigningResults, *,
                             now: dt.datetime) -> SigningRequest:
        """Record the verified signatures of an approved request (one per document, in order)."""
        if request.state != "approved":
            raise ValueError(f"a {request.state} request cannot take results")
        if len(results.signatures) != len(request.documents):
            raise ValueError("one signature per document")
        return await self._store(replace(request, state="signed", results=results))

    async def grant(self, request_id: str, *, expires_at: dt.datetime, now: dt.datetime) -> SigningRequest | None:
        """The code is issued: keep the results of the signed request ``request_id`` for the grant (until
        ``expires_at`` or until fetched) and delete the request. ``None`` when it is not signed (or gone)."""
        request = await self.get(request_id, now)
        if request is None or request.state != "signed" or request.results is None:
            return None
        await self._objects.upsert(RESULTS, request.id, request.to_payload(), expires_at)
        await self.forget(request)
        return request

    async def take_results(self, request_id: str, *, now: dt.datetime) -> GrantedResults | None:
        """The results of the granted request ``request_id``, once (atomic across workers), then deleted; ``None``
        when there are none or they were fetched already. The caller checks that the access token's grant names
        ``request_id`` (:func:`idp.sign.details.signing_request_of`)."""
        try:
            taken = await self._objects.consume(RESULTS, request_id, now=now)
        except ValueError:  # not a usable key
            return None
        if taken is None:
            return None
        await self._objects.destroy(RESULTS, request_id)  # the certificate and signatures are gone once fetched
        request = SigningRequest.from_payload(request_id, taken.payload, taken.expires_at)
        assert request.results is not None
        return GrantedResults(request, request.results)

    async def forget(self, request: SigningRequest) -> None:
        """Delete the request and its interaction link (a refusal, a failure, or once granted)."""
        if request.interaction is not None:
            await self._objects.destroy(INTERACTION, request.interaction)
        await self._objects.destroy(REQUEST, request.id)


__all__ = ["PROFILES", "Document", "DocumentSignature", "GrantedResults", "SigningRequest", "SigningRequests",
           "SigningResults"]
