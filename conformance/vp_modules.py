"""The modules of the OpenID conformance suite's OID4VP 1.0 verifier plan (``oid4vp-1final-verifier-test-plan``,
``vp1finalverifier/*.java``), as presentations a test holder crafts, each with the reason our verifier must give.

The suite cannot run here (Docker, Java, MongoDB); its modules are reproduced instead. The suite plays the Wallet:
it presents a credential it issued itself, changing one thing per negative module. :class:`Holder` does the same
with the VC test hierarchy (:mod:`keys.testpki.vc`) and our catalog's age and basic-facts credentials:

* positive: happy flow, minimal ``cnf.jwk`` (``kty``/``crv``/``x``/``y`` only: what our issuer writes anyway),
  credential without status;
* negative (plan): invalid credential signature, KB-JWT signature, ``sd_hash``, ``nonce``, ``aud``, ``iat`` in the
  past and in the future, revoked credential (Token Status List);
* negative (beyond the plan, from issue 6): missing KB-JWT, expired credential, unknown issuer, tampered
  Disclosure, suspended credential, unavailable status list.

:data:`MODULES` is used by ``python -m conformance vc`` (library level) and by the service's end-to-end tests
(over HTTP), so both run the very same presentations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from credentials.catalog import age_credential, age_vct
from credentials.sdjwt import HeldSdJwt, key_binding_jwt
from credentials.sdjwtvc import issue_sd_jwt_vc
from credentials.status import StatusList, StatusReference, StatusType, status_list_token
from keys.jose.b64 import b64url_decode, b64url_encode
from keys.jose.jwk import public_jwk
from keys.service.signer import SoftwareSigner
from keys.testpki.vc import EndEntity, VcTestPki

ISSUER = "https://id.example.jp"
#: Indices of the test Status List.
VALID_IDX, REVOKED_IDX, SUSPENDED_IDX = 7, 42, 99


def age_query(query_id: str = "age") -> dict[str, object]:
    """The DCQL query of the modules: the age credential's ``age_equal_or_over.20``."""
    return {"credentials": [{"id": query_id, "format": "dc+sd-jwt", "meta": {"vct_values": [age_vct(ISSUER)]},
                             "claims": [{"path": ["age_equal_or_over", "20"]}]}]}


@dataclass(frozen=True)
class Request:
    """What the holder takes from the Verifier's request: the audience (full Client Identifier) and nonce."""

    client_id: str
    nonce: str


@dataclass
class Holder:
    """A test issuer (its own PKI and Status List) and holder, making presentations for :data:`MODULES`."""

    status_uri: str
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))
    pki: VcTestPki = field(default_factory=VcTestPki.generate)
    rogue_pki: VcTestPki = field(default_factory=VcTestPki.generate)

    def __post_init__(self) -> None:
        self.issuer: EndEntity = self.pki.issuer(ISSUER)
        self.rogue: EndEntity = self.rogue_pki.issuer(ISSUER)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.statuses = StatusList(1024, bits=2)
        self.statuses[REVOKED_IDX] = StatusType.INVALID
        self.statuses[SUSPENDED_IDX] = StatusType.SUSPENDED

    def status_list_token(self) -> str:
        """The Status List Token served at :attr:`status_uri` (x5c-signed, HAIP)."""
        return status_list_token(self.statuses, uri=self.status_uri, iat=self.at - dt.timedelta(minutes=1),
                                 exp=self.at + dt.timedelta(days=1), ttl=dt.timedelta(minutes=10),
                                 signer=self.issuer.signer(), header={"x5c": self.issuer.x5c()})

    def credential(self, *, idx: int | None = VALID_IDX, issuer: EndEntity | None = None,
                   issued: dt.datetime | None = None) -> str:
        """An issued age credential (with the status reference ``idx``), signed by ``issuer``."""
        signing = issuer or self.issuer
        at = issued or self.at
        draft = age_credential("2000-04-01", vct=age_vct(ISSUER), at=at, not_after=at + dt.timedelta(days=30))
        status = StatusReference(idx, self.status_uri) if idx is not None else None
        return issue_sd_jwt_vc(draft, signer=signing.signer(), holder_jwk=public_jwk(self.key.public_key()),
                               issuer=ISSUER, status=status, x5c=signing.chain).compact

    def present(self, issued: str, request: Request, *, aud: str | None = None, nonce: str | None = None,
                iat: dt.datetime | None = None, key: ec.EllipticCurvePrivateKey | None = None,
                sd_hash_over: str | None = None) -> str:
        """``issued`` with ``age_equal_or_over.20`` disclosed and a KB-JWT (each argument overrides one part)."""
        sd_jwt = HeldSdJwt.parse(issued).present([("age_equal_or_over", "20")])
        signer = SoftwareSigner(key or self.key, "ES256", "holder")
        kb = key_binding_jwt(sd_hash_over or sd_jwt, signer=signer, audience=aud or request.client_id,
                             nonce=nonce or request.nonce, iat=iat or self.at)
        return sd_jwt + kb


def _happy(h: Holder, r: Request) -> str:
    return h.present(h.credential(), r)


def _without_status(h: Holder, r: Request) -> str:
    return h.present(h.credential(idx=None), r)


def _bad_credential_signature(h: Holder, r: Request) -> str:
    jwt, rest = h.credential().split("~", 1)
    head, payload, signature = jwt.split(".")
    raw = bytearray(b64url_decode(signature, "signature"))
    raw[5] ^= 0x01
    return h.present(f"{head}.{payload}.{b64url_encode(bytes(raw))}~{rest}", r)


def _bad_kb_signature(h: Holder, r: Request) -> str:
    return h.present(h.credential(), r, key=ec.generate_private_key(ec.SECP256R1()))


def _bad_sd_hash(h: Holder, r: Request) -> str:
    issued = h.credential()
    return h.present(issued, r, sd_hash_over=HeldSdJwt.parse(issued).present([]))


def _missing_kb(h: Holder, r: Request) -> str:
    return HeldSdJwt.parse(h.credential()).present([("age_equal_or_over", "20")])


def _tampered_disclosure(h: Holder, r: Request) -> str:
    sd_jwt = HeldSdJwt.parse(h.credential()).present([("age_equal_or_over", "20")])
    jwt, disclosures = sd_jwt.split("~", 1)
    first = disclosures.split("~")[0]
    forged = b64url_decode(first, "Disclosure").replace(b"true", b"false")  # the issuer said true
    tampered = f"{jwt}~{disclosures.replace(first, b64url_encode(forged), 1)}"
    signer = SoftwareSigner(h.key, "ES256", "holder")
    return tampered + key_binding_jwt(tampered, signer=signer, audience=r.client_id, nonce=r.nonce, iat=h.at)


@dataclass(frozen=True)
class Module:
    """One conformance module: its plan name, the presentation, and the expected reason (``None``: accepted)."""

    name: str
    build: Callable[[Holder, Request], str]
    reason: str | None
    in_plan: bool = True


MODULES: tuple[Module, ...] = (
    Module("oid4vp-1final-verifier-happy-flow", _happy, None),
    Module("oid4vp-1final-verifier-minimal-cnf-jwk", _happy, None),
    Module("oid4vp-1final-verifier-present-credential-without-status", _without_status, None),
    Module("oid4vp-1final-verifier-invalid-credential-signature", _bad_credential_signature, "bad_signature"),
    Module("oid4vp-1final-verifier-invalid-kb-jwt-signature", _bad_kb_signature, "bad_signature"),
    Module("oid4vp-1final-verifier-invalid-sd-hash", _bad_sd_hash, "sd_hash_mismatch"),
    Module("oid4vp-1final-verifier-invalid-kb-jwt-nonce",
           lambda h, r: h.present(h.credential(), r, nonce="not-the-request-nonce"), "nonce_mismatch"),
    Module("oid4vp-1final-verifier-invalid-kb-jwt-aud",
           lambda h, r: h.present(h.credential(), r, aud="x509_san_dns:other.example"), "wrong_audience"),
    Module("oid4vp-1final-verifier-kb-jwt-iat-in-past",
           lambda h, r: h.present(h.credential(), r, iat=h.at - dt.timedelta(hours=1)), "token_expired"),
    Module("oid4vp-1final-verifier-kb-jwt-iat-in-future",
           lambda h, r: h.present(h.credential(), r, iat=h.at + dt.timedelta(minutes=10)), "token_issued_in_future"),
    Module("oid4vp-1final-verifier-present-revoked-credential",
           lambda h, r: h.present(h.credential(idx=REVOKED_IDX), r), "status_invalid"),
    Module("missing-kb-jwt", _missing_kb, "key_binding_required", in_plan=False),
    Module("expired-credential",
           lambda h, r: h.present(h.credential(issued=h.at - dt.timedelta(days=60)), r), "token_expired",
           in_plan=False),
    Module("unknown-issuer", lambda h, r: h.present(h.credential(issuer=h.rogue), r), "no_valid_path", in_plan=False),
    Module("tampered-disclosure", _tampered_disclosure, "disclosure_not_referenced", in_plan=False),
    Module("suspended-credential", lambda h, r: h.present(h.credential(idx=SUSPENDED_IDX), r), "status_suspended",
           in_plan=False),
    Module("status-list-beyond-its-end", lambda h, r: h.present(h.credential(idx=5000), r),
           "status_index_out_of_range", in_plan=False),
)


def module(name: str) -> Module:
    """The module called ``name``."""
    return next(m for m in MODULES if m.name == name)

