"""PDF signing with the card, through pyHanko's interrupted signing (ETSI EN 319 142-1 PAdES baseline: B-B, and
B-T with a timestamp authority, §5.3 / §6.3).

The card never sees the PDF: :func:`prepare` adds an incremental update with a signature field and a ``/Contents``
placeholder (``/SubFilter /ETSI.CAdES.detached``) and returns the digest of its ``/ByteRange``; whoever holds the
card turns that digest into a detached CMS with PAdES signed attributes (:mod:`keys.cms`, profile ``PADES``: no
signing-time, ETSI EN 319 142-1 §5.2.1), and :func:`finish` embeds the CMS (first adding a signature timestamp
token, RFC 3161 over the signature value, when given a TSA URL). :func:`sign_pdf` runs both around a
``sign_digest`` callable: the provider flow (a ``jpki_sign`` request with ``signatureFormat: "pades"``) or, in
tests, a software stand-in.

Usage::

    async def sign_digest(alg: HashAlgorithm, digest: bytes) -> bytes:
        return await provider.sign(alg, digest, profile="pades")          # the detached CMS

    signed = await sign_pdf(pdf, sign_digest, timestamp_url="https://tsa.example/")

or in two steps (e.g. ``python -m docsign pdf-prepare`` / ``pdf-finish``)::

    prepared = await prepare(pdf, field_name="Signature1")
    cms_der = ...                                   # the CMS for (prepared.hash_algorithm, prepared.digest)
    signed = await finish(prepared, cms_der)
"""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from asn1crypto import cms
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument

from keys.cms.digest_info import HashAlgorithm, hash_algorithm_by_name
from keys.errors import InvalidSignature, LimitExceeded, MalformedInput, Reason

#: Hex digits reserved for the CMS in ``/Contents``: 16 KiB of DER (card certificate ~1.5 KB, signature,
#: attributes, a timestamp token with its TSA chain).
DEFAULT_RESERVE = 32 * 1024

SignDigest = Callable[[HashAlgorithm, bytes], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A PDF with an empty signature placeholder, and the digest the card's signature must cover."""

    pdf: bytes
    hash_algorithm: HashAlgorithm
    #: The digest of the ``/ByteRange`` (everything but the placeholder).
    digest: bytes
    reserved_start: int
    reserved_end: int

    def state_json(self) -> str:
        """Everything but the PDF, to finish in another process (``pdf-prepare`` writes it beside the PDF)."""
        return json.dumps({"hash_algorithm": self.hash_algorithm.value, "digest": self.digest.hex(),
                           "reserved_start": self.reserved_start, "reserved_end": self.reserved_end})

    @classmethod
    def from_state(cls, pdf: bytes, state: str) -> Prepared:
        """The inverse of :meth:`state_json`."""
        try:
            data = json.loads(state)
            return cls(pdf, hash_algorithm_by_name(data["hash_algorithm"]), bytes.fromhex(data["digest"]),
                       int(data["reserved_start"]), int(data["reserved_end"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedInput(Reason.MALFORMED, f"bad signing state: {exc}") from None


async def prepare(
    pdf: bytes,
    *,
    field_name: str = "Signature1",
    hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
    reserve: int = DEFAULT_RESERVE,
) -> Prepared:
    """Add an invisible signature field ``field_name`` (new, or an existing empty one) with a placeholder of
    ``reserve`` hex digits as an incremental update of ``pdf``; return the result and its ByteRange digest."""
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    except Exception as exc:  # pyHanko raises several types for unreadable PDFs
        raise MalformedInput(Reason.MALFORMED, f"not a readable PDF: {str(exc)[:200]}") from None
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, md_algorithm=hash_algorithm.value, subfilter=fields.SigSeedSubFilter.PADES,
    )
    placeholder_signer = signers.ExternalSigner(signing_cert=None, cert_registry=None, signature_value=bytes(256))
    pdf_signer = signers.PdfSigner(meta, placeholder_signer)
    digest, _, output = await pdf_signer.async_digest_doc_for_signing(writer, bytes_reserved=reserve)
    output.seek(0)
    return Prepared(output.read(), hash_algorithm, digest.document_digest, digest.reserved_region_start,
                    digest.reserved_region_end)


async def finish(prepared: Prepared, cms_der: bytes, *, timestamp_url: str | None = None) -> bytes:
    """Embed ``cms_der`` (a detached CMS over ``prepared.digest``) into the placeholder; with ``timestamp_url``
    first add a signature timestamp from that RFC 3161 TSA (PAdES B-T)."""
    signed_data = _signed_data_for(prepared, cms_der)
    if timestamp_url is not None:
        await _add_signature_timestamp(signed_data, timestamps.HTTPTimeStamper(timestamp_url))
    der = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    if 2 * len(der) > prepared.reserved_end - prepared.reserved_start - 2:
        raise LimitExceeded(Reason.TOO_LARGE, f"the CMS of {len(der)} bytes does not fit the placeholder")
    output = io.BytesIO(prepared.pdf)
    range_digest = PreparedByteRangeDigest(prepared.digest, prepared.reserved_start, prepared.reserved_end)
    await PdfTBSDocument.async_finish_signing(output, range_digest, der)
    return output.getvalue()


async def sign_pdf(
    pdf: bytes,
    sign_digest: SignDigest,
    *,
    field_name: str = "Signature1",
    hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
    timestamp_url: str | None = None,
) -> bytes:
    """:func:`prepare`, ``sign_digest(alg, digest) -> CMS``, :func:`finish`."""
    prepared = await prepare(pdf, field_name=field_name, hash_algorithm=hash_algorithm)
    cms_der = await sign_digest(prepared.hash_algorithm, prepared.digest)
    return await finish(prepared, cms_der, timestamp_url=timestamp_url)


def _signed_data_for(prepared: Prepared, cms_der: bytes) -> cms.SignedData:
    """The CMS's SignedData, after checking that its one SignerInfo signs ``prepared.digest``: a CMS for another
    document is refused before it is written into this one."""
    try:
        info = cms.ContentInfo.load(cms_der, strict=True)
        signed_data: cms.SignedData = info["content"]
        (signer_info,) = signed_data["signer_infos"]
        digests = [a["values"][0].native for a in signer_info["signed_attrs"] if a["type"].native == "message_digest"]
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedInput(Reason.MALFORMED, f"not a CMS with one signer: {str(exc)[:200]}") from None
    if digests != [prepared.digest]:
        raise InvalidSignature(Reason.DIGEST_MISMATCH, "the CMS signs another digest than this PDF's ByteRange")
    return signed_data


async def _add_signature_timestamp(signed_data: cms.SignedData, timestamper: timestamps.TimeStamper) -> None:
    """ETSI EN 319 122-1 §5.3: a signature-time-stamp (id-aa-signatureTimeStampToken, RFC 3161 Appendix A) over
    the SignerInfo's signature value, as an unsigned attribute."""
    signer_info = signed_data["signer_infos"][0]
    alg = hash_algorithm_by_name(signer_info["digest_algorithm"]["algorithm"].native)
    token = await timestamper.async_timestamp(alg.hash(signer_info["signature"].native), alg.value)
    signer_info["unsigned_attrs"] = cms.CMSAttributes(
        [cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]})]
    )
