"""SD-JWT VC (draft-ietf-oauth-sd-jwt-vc): issuance and verification of ``dc+sd-jwt`` credentials.

Format rules (§3.2): the Issuer-signed JWT has ``typ: dc+sd-jwt``; ``vct`` is required; ``iss``, ``nbf``, ``exp``,
``cnf``, ``vct``, ``vct#integrity`` and ``status`` are never selectively disclosable; ``cnf.jwk`` carries the
Holder key; ``status`` references a Token Status List (in JWT format).

Verification (§3.4, §3.5) = :func:`credentials.sdjwt.verify_sd_jwt` with the Issuer key from an Issuer Signature
Mechanism permitted by the caller's :class:`IssuerKeys`:

* **X.509** — the header carries ``x5c``; the chain must validate to the caller's trust store (pinned roots,
  :mod:`keys.trust`), the end-entity key verifies the signature (HAIP's mechanism);
* **JWT VC Issuer Metadata** (§5) — the caller fetched ``/.well-known/jwt-vc-issuer`` for the ``iss`` (and the
  ``jwks_uri`` if used) and hands the parsed :class:`JwtVcIssuerMetadata` over; its ``issuer`` must equal ``iss``.

``typ: vc+sd-jwt`` is accepted for verification (not issued): §3.2.1 RECOMMENDS that Verifiers accept both values
for a transitional period, in the draft text current at the time of writing. ``accept_legacy_typ=False`` refuses it.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from credentials.errors import (
    CredentialReason,
    InvalidCredential,
    MalformedCredential,
    UntrustedIssuer,
    translated,
)
from credentials.jose import unverified_header, unverified_payload
from credentials.limits import DEFAULT_CREDENTIAL_LIMITS, CredentialLimits
from credentials.sdjwt.compact import CompactSdJwt
from credentials.sdjwt.disclosure import DEFAULT_HASH_ALG
from credentials.sdjwt.issue import SECURE_RANDOMNESS, IssuedSdJwt, Randomness, issue_sd_jwt
from credentials.sdjwt.keybinding import KeyBindingPolicy
from credentials.sdjwt.verify import IssuerCheck, VerifiedSdJwt, verify_sd_jwt
from credentials.status.check import StatusReference
from keys.errors import Reason
from keys.jose.jwk import VerificationKey, verification_keys
from keys.jose.jws import X5cTrust
from keys.service.signer import Signer
from keys.trust import TrustStore
from keys.x509.profile import GENERIC, Profile

#: The SD-JWT VC media type / ``typ`` (§3.1).
TYP = "dc+sd-jwt"
#: The ``typ`` used until November 2024, accepted by Verifiers for a transition period (§3.2.1).
LEGACY_TYP = "vc+sd-jwt"
#: Claims that MUST NOT be selectively disclosed (§3.2.2.2).
NEVER_DISCLOSABLE = frozenset({"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"})
#: The well-known path of JWT VC Issuer Metadata (§5).
WELL_KNOWN = "/.well-known/jwt-vc-issuer"


@dataclass(frozen=True, slots=True)
class CredentialDraft:
    """An unsigned SD-JWT VC: type, claims (with :class:`~credentials.sdjwt.SD` markers) and validity."""

    vct: str
    claims: Mapping[str, Any]
    iat: dt.datetime
    exp: dt.datetime
    nbf: dt.datetime | None = None


def issue_sd_jwt_vc(
    draft: CredentialDraft,
    *,
    signer: Signer,
    holder_jwk: Mapping[str, Any],
    issuer: str | None = None,
    status: StatusReference | None = None,
    x5c: Sequence[x509.Certificate] = (),
    vct_integrity: str | None = None,
    randomness: Randomness = SECURE_RANDOMNESS,
    hash_alg: str = DEFAULT_HASH_ALG,
) -> IssuedSdJwt:
    """Sign ``draft`` as an SD-JWT VC bound to ``holder_jwk`` (``cnf.jwk``), with ``iss`` when given (required
    for metadata-based key resolution), the ``x5c`` chain (leaf first, no trust anchor: HAIP) when given, and
    ``vct#integrity`` (§6.5: the W3C SRI digest of the type metadata the ``vct`` URL serves) when given."""
    if draft.exp <= draft.iat:
        raise ValueError("exp must be after iat")
    if reserved := (NEVER_DISCLOSABLE | {"iat"}).intersection(draft.claims):
        raise ValueError(f"the draft sets claims the issuer owns: {sorted(reserved)}")
    if any(k in holder_jwk for k in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise ValueError("holder_jwk must be a public key")
    claims: dict[str, Any] = {}
    if issuer is not None:
        claims["iss"] = issuer
    claims.update({"iat": int(draft.iat.timestamp()), "exp": int(draft.exp.timestamp())})
    if draft.nbf is not None:
        claims["nbf"] = int(draft.nbf.timestamp())
    claims["vct"] = draft.vct
    if vct_integrity is not None:
        claims["vct#integrity"] = vct_integrity
    claims.update(draft.claims)
    claims["cnf"] = {"jwk": dict(holder_jwk)}
    if status is not None:
        claims["status"] = status.to_claim()
    header = {"x5c": [base64.b64encode(c.public_bytes(Encoding.DER)).decode("ascii") for c in x5c]} if x5c else None
    return issue_sd_jwt(
        claims, signer=signer, typ=TYP, header=header, with_kid=not x5c, hash_alg=hash_alg, randomness=randomness
    )


@dataclass(frozen=True, slots=True)
class JwtVcIssuerMetadata:
    """Validated JWT VC Issuer Metadata (§5.2, §5.3): the issuer identifier and its signing keys."""

    issuer: str
    keys: tuple[VerificationKey, ...]

    @classmethod
    def parse(
        cls, document: Mapping[str, Any], *, jwks: Mapping[str, Any] | None = None
    ) -> JwtVcIssuerMetadata:
        """Read a metadata document: ``issuer`` and exactly one of ``jwks`` / ``jwks_uri``. For ``jwks_uri``
        the caller passes the JWK Set it fetched from that URI as ``jwks``."""
        issuer = document.get("issuer")
        if not isinstance(issuer, str) or not issuer:
            raise MalformedCredential(Reason.MALFORMED, "issuer metadata has no issuer")
        inline, uri = document.get("jwks"), document.get("jwks_uri")
        if (inline is None) == (uri is None):
            raise MalformedCredential(Reason.MALFORMED, "issuer metadata has exactly one of jwks and jwks_uri")
        key_set = inline if inline is not None else jwks
        if not isinstance(key_set, Mapping):
            raise MalformedCredential(Reason.MALFORMED, "no JWK Set for the issuer metadata")
        with translated(UntrustedIssuer):
            return cls(issuer, verification_keys(key_set))


def metadata_url(iss: str) -> str:
    """Where the JWT VC Issuer Metadata of ``iss`` lives: ``/.well-known/jwt-vc-issuer`` inserted between host
    and path, a terminating ``/`` removed (§5, §5.1). ``iss`` must be an https URL without query or fragment."""
    parts = urlsplit(iss)
    if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("iss is not an https URL without query and fragment")
    return f"https://{parts.netloc}{WELL_KNOWN}{parts.path.rstrip('/')}"


@dataclass(frozen=True, slots=True)
class IssuerKeys:
    """The Issuer Signature Mechanisms a Verifier permits: ``x5c`` chains to ``trust`` (for ``profile``), and
    JWT VC Issuer Metadata already fetched, by issuer identifier."""

    trust: TrustStore | None = None
    profile: Profile = GENERIC
    metadata: Mapping[str, JwtVcIssuerMetadata] = field(default_factory=dict)
    algorithms: frozenset[str] = field(default_factory=lambda: frozenset({"ES256"}))

    def check(self, jwt: str, *, at: dt.datetime, typ: tuple[str, ...], leeway: dt.timedelta,
              limits: CredentialLimits) -> IssuerCheck:
        """The :class:`IssuerCheck` for one Issuer-signed JWT: ``x5c`` when its header has one, else the metadata
        keys of its (as yet unverified) ``iss``, which verification then requires to match."""
        with translated(UntrustedIssuer):
            header = unverified_header(jwt, limits.jose)
        if "x5c" in header:
            if self.trust is None:
                raise UntrustedIssuer(CredentialReason.NO_ISSUER_KEY, "x5c is not a permitted mechanism here")
            return IssuerCheck(typ=typ, algorithms=self.algorithms, x5c=X5cTrust(self.trust, self.profile, at),
                               leeway=leeway)
        with translated(UntrustedIssuer):
            iss = unverified_payload(jwt, limits.jose).get("iss")
        metadata = self.metadata.get(iss) if isinstance(iss, str) else None
        if metadata is None:
            raise UntrustedIssuer(CredentialReason.NO_ISSUER_KEY, "no permitted Issuer Signature Mechanism for iss")
        if metadata.issuer != iss:
            raise UntrustedIssuer(CredentialReason.ISSUER_METADATA_MISMATCH, "metadata issuer is not iss (§5.3)")
        return IssuerCheck(typ=typ, algorithms=self.algorithms, keys=metadata.keys, issuer=metadata.issuer,
                           leeway=leeway)


@dataclass(frozen=True, slots=True)
class VerifiedSdJwtVc:
    """A verified SD-JWT VC: type, issuer, processed claims, status reference and the SD-JWT details."""

    vct: str
    issuer: str | None
    claims: Mapping[str, Any]
    status: StatusReference | None
    sd_jwt: VerifiedSdJwt


def verify_sd_jwt_vc(
    text: str,
    *,
    issuer_keys: IssuerKeys,
    key_binding: KeyBindingPolicy | None,
    at: dt.datetime,
    vcts: Collection[str] | None = None,
    accept_legacy_typ: bool = True,
    leeway: dt.timedelta = dt.timedelta(0),
    limits: CredentialLimits = DEFAULT_CREDENTIAL_LIMITS,
) -> VerifiedSdJwtVc:
    """Verify an SD-JWT VC (or its presentation): the SD-JWT rules, then ``vct`` (in ``vcts`` when given:
    ``wrong_vct``), the never-disclosable claims (``non_disclosable_claim``) and the ``status`` shape."""
    typ = (TYP, LEGACY_TYP) if accept_legacy_typ else (TYP,)
    jwt = CompactSdJwt.parse(text, limits).jwt  # sizes first, before the header is read to pick the key
    check = issuer_keys.check(jwt, at=at, typ=typ, leeway=leeway, limits=limits)
    verified = verify_sd_jwt(
        text, issuer=check, key_binding=key_binding, at=at, non_disclosable=NEVER_DISCLOSABLE, limits=limits
    )
    claims = verified.claims
    vct = claims.get("vct")
    if "vct" not in claims:
        raise InvalidCredential(Reason.MISSING_CLAIM, "missing claims: vct")
    if not isinstance(vct, str) or not vct:
        raise MalformedCredential(Reason.MALFORMED, "vct is not a string")
    if vcts is not None and vct not in vcts:
        raise InvalidCredential(CredentialReason.WRONG_VCT, "vct is not an accepted type")
    iss = claims.get("iss")
    if iss is not None and not isinstance(iss, str):
        raise MalformedCredential(Reason.MALFORMED, "iss is not a string")
    status = StatusReference.from_claim(claims["status"]) if "status" in claims else None
    return VerifiedSdJwtVc(vct, iss, claims, status, verified)

