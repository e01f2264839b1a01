"""Documents the provider asks the card to sign, as the agent checks, shows and signs them (issue 12).

The challenge of a signing login lists ``documents`` (:mod:`idp.sign.card`): ``{"label", "hash_algorithm",
"digest", "profile", "raw_digest_info"}``. The agent accepts them only if each is well-formed: an allow-listed
hash algorithm (:mod:`keys.cms.digest_info`), a digest of its length, a ``raw_digest_info`` in strict DER that
carries exactly that algorithm and digest (so what the card signs is what the person is shown), a profile it knows,
a label that may be shown (:func:`keys.cms.display.displayable_label`); at most :data:`MAX_DOCUMENTS` documents,
and only for the signing key. It shows every label with its digest in grouped hex
(:func:`keys.cms.display.grouped_hex`) and, after one signing-password entry, the card signs
(:func:`digest_infos`), in one session:

1. the login message (:mod:`keys.cardlogin`);
2. per document, its raw DigestInfo, then ``DigestInfo(H(signedAttrs))`` over signed attributes the agent builds
   itself from the digest, the certificate just read and its own clock (:mod:`keys.cms.signed_attributes`).

Nothing else: the agent signs no digest that is not one of the shown documents. The signatures go back as
``document_signatures`` (:func:`document_signatures`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from keys.cms.digest_info import HashAlgorithm, check_digest, hash_algorithm_by_name, parse_digest_info
from keys.cms.display import displayable_label, grouped_hex
from keys.cms.signed_attributes import Profile, build_signed_attributes, to_be_signed_digest_info
from keys.jose.b64 import b64url_decode_loose, b64url_encode

MAX_DOCUMENTS: Final = 10


@dataclass(frozen=True, slots=True)
class SignDocument:
    """One document to sign, checked."""

    label: str
    algorithm: HashAlgorithm
    digest: bytes = field(repr=False)
    profile: Profile
    raw_digest_info: bytes = field(repr=False)

    def shown(self) -> dict[str, str]:
        """What the PIN pad shows of it."""
        return {"label": self.label, "algorithm": self.algorithm.value.upper().replace("SHA", "SHA-"),
                "digest": grouped_hex(self.digest)}


def _bytes(value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError("expected base64url")
    return b64url_decode_loose(value)


def _document(item: object) -> SignDocument:
    if not isinstance(item, Mapping) or set(item) != {"label", "hash_algorithm", "digest", "profile",
                                                       "raw_digest_info"}:
        raise ValueError("a document is {label, hash_algorithm, digest, profile, raw_digest_info}")
    label = item["label"]
    if not isinstance(label, str) or not displayable_label(label):
        raise ValueError("a document label is 1-100 printable characters")
    algorithm = hash_algorithm_by_name(str(item["hash_algorithm"]))
    digest = _bytes(item["digest"])
    check_digest(algorithm, digest)
    raw = _bytes(item["raw_digest_info"])
    if parse_digest_info(raw) != (algorithm, digest):
        raise ValueError("the DigestInfo does not carry the shown digest")
    return SignDocument(label, algorithm, digest, Profile(item["profile"]), raw)


def parse_documents(value: object) -> tuple[SignDocument, ...]:
    """The ``documents`` of a challenge, checked (raises ValueError, TypeError or a keys VerificationError)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not 0 < len(value) <= MAX_DOCUMENTS:
        raise ValueError(f"documents is a list of 1-{MAX_DOCUMENTS}")
    return tuple(_document(item) for item in value)


def signing_time(now: dt.datetime) -> dt.datetime:
    """The signing time the agent puts into CAdES signed attributes: its clock, whole seconds, UTC."""
    return now.astimezone(dt.UTC).replace(microsecond=0)


def signed_attributes(document: SignDocument, certificate: bytes, at: dt.datetime) -> bytes:
    """The signed attributes of ``document`` (PAdES: no signing-time attribute)."""
    cades = document.profile is Profile.CADES_BES
    return build_signed_attributes(document.algorithm, document.digest, certificate, profile=document.profile,
                                   signing_time=at if cades else None)


def digest_infos(login_digest_info: bytes, documents: Sequence[SignDocument], certificate: bytes,
                 at: dt.datetime) -> list[bytes]:
    """Everything the card signs, in order: the login, then per document its raw DigestInfo and the DigestInfo of
    its signed attributes."""
    out = [login_digest_info]
    for document in documents:
        out += [document.raw_digest_info,
                to_be_signed_digest_info(document.algorithm, signed_attributes(document, certificate, at))]
    return out


def document_signatures(signatures: Sequence[bytes], at: dt.datetime) -> list[dict[str, Any]]:
    """The response's ``document_signatures`` from the card's signatures after the login's (pairs, in order)."""
    pairs = zip(signatures[0::2], signatures[1::2], strict=True)
    return [{"raw": b64url_encode(raw), "cms": b64url_encode(cms), "signing_time": int(at.timestamp())}
            for raw, cms in pairs]


__all__ = ["MAX_DOCUMENTS", "SignDocument", "digest_infos", "document_signatures", "parse_documents",
           "signed_attributes", "signing_time"]
