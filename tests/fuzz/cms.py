"""Fuzz targets of the document signatures: DigestInfo (what the agent lets the card sign) and detached CMS
(keys.cms.verify). Errors let through: :class:`keys.errors.VerificationError` and its subclasses."""

from __future__ import annotations

import datetime as dt
import functools
from contextlib import suppress

from cryptography.hazmat.primitives.serialization import Encoding

from cardreader.virtual.card import rsa_pkcs1_sign
from keys.cms.digest_info import HashAlgorithm, encode_digest_info, parse_digest_info
from keys.cms.signed_attributes import Profile, build_signed_attributes, to_be_signed_digest_info
from keys.cms.signed_data import assemble_detached
from keys.cms.verify import verify_detached
from keys.errors import VerificationError
from keys.testpki import issue_crl
from tests.fuzz.harness import target
from tests.fuzz.pki import AT, pki

DOCUMENT = b"fuzzed contract"


def _digest_info_seeds() -> dict[str, bytes]:
    return {f"{alg.value}.der": encode_digest_info(alg, alg.hash(DOCUMENT)) for alg in HashAlgorithm}


@target("cms_digest_info", seeds=_digest_info_seeds)
def cms_digest_info(data: bytes) -> None:
    """:func:`keys.cms.digest_info.parse_digest_info`."""
    with suppress(VerificationError):
        parse_digest_info(data)


def _cms_seeds() -> dict[str, bytes]:
    card = pki().card
    assert card.sign_certificate is not None
    assert card.sign_key is not None
    certificate = card.sign_certificate.public_bytes(Encoding.DER)
    seeds = {}
    for profile, at in ((Profile.CADES_BES, AT), (Profile.PADES, None)):
        alg = HashAlgorithm.SHA256
        attrs = build_signed_attributes(alg, alg.hash(DOCUMENT), certificate, profile=profile, signing_time=at)
        signature = rsa_pkcs1_sign(card.sign_key, to_be_signed_digest_info(alg, attrs))
        seeds[f"{profile.value}.p7s"] = assemble_detached(alg, attrs, signature, certificate)
    return seeds


@functools.cache
def _crl() -> bytes:
    return issue_crl(pki().card.sign_root, [], this_update=AT - dt.timedelta(hours=1),
                     next_update=AT + dt.timedelta(days=1), crl_number=1)


@target("cms_detached", seeds=_cms_seeds)
def cms_detached(data: bytes) -> None:
    """:func:`keys.cms.verify.verify_detached` over the document, with the signing root's CRL."""
    with suppress(VerificationError):
        verify_detached(data, content=DOCUMENT, trust=pki().trust, crls=[_crl()], at=AT)
