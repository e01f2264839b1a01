"""DigestInfo (RFC 8017 §9.2 step 2): what the card's COMPUTE DIGITAL SIGNATURE signs, and the allow-listed
hash algorithms of every signature the card makes for a document.

Encoding decision: the ``digestAlgorithm`` parameters are always NULL, the DER of RFC 8017 §9.2 note 1. RFC 8017
App. B.1 lets verifiers accept absent parameters too, but OpenSSL and pyca/cryptography rebuild the NULL form and
compare (§8.2.2 step 4), so a card signature over the absent form would verify nowhere: :func:`parse_digest_info`
refuses it, and any other non-DER form, with ``MALFORMED``.

Usage::

    >>> from keys.cms.digest_info import HashAlgorithm, encode_digest_info, parse_digest_info
    >>> alg = HashAlgorithm.SHA256
    >>> der = encode_digest_info(alg, alg.hash(b"contract"))
    >>> parse_digest_info(der) == (alg, alg.hash(b"contract"))
    True
"""

from __future__ import annotations

from enum import StrEnum

from asn1crypto import algos, core
from cryptography.hazmat.primitives import hashes

from keys.errors import InvalidSignature, MalformedInput, Reason

_OIDS = {"sha256": "2.16.840.1.101.3.4.2.1", "sha384": "2.16.840.1.101.3.4.2.2", "sha512": "2.16.840.1.101.3.4.2.3"}
_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
_PYCA: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512
}
#: Longest DigestInfo: SHA-512's 19-byte prefix + 64-byte digest.
_MAX_DIGEST_INFO = 19 + 64


class HashAlgorithm(StrEnum):
    """The allow-list of document hash algorithms (FIPS 180-4 SHA-2; OIDs of RFC 5754 §2)."""

    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"

    @property
    def oid(self) -> str:
        """The dotted OID (id-sha256 2.16.840.1.101.3.4.2.1, ...)."""
        return _OIDS[self.value]

    @property
    def digest_size(self) -> int:
        """Length of a digest in bytes."""
        return _SIZES[self.value]

    def pyca(self) -> hashes.HashAlgorithm:
        """The pyca/cryptography hash object."""
        return _PYCA[self.value]()

    def hash(self, data: bytes) -> bytes:
        """The digest of ``data``."""
        h = hashes.Hash(self.pyca())
        h.update(data)
        return h.finalize()


_BY_OID = {a.oid: a for a in HashAlgorithm}


def hash_algorithm_by_oid(oid: str) -> HashAlgorithm:
    """The allow-listed algorithm of dotted ``oid``; anything else is ``ALGORITHM_NOT_ALLOWED``."""
    try:
        return _BY_OID[oid]
    except KeyError:
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"hash algorithm {oid[:64]} is not allowed") from None


def hash_algorithm_by_name(name: str) -> HashAlgorithm:
    """The allow-listed algorithm named ``name`` (``"sha256"``, ...); anything else is ``ALGORITHM_NOT_ALLOWED``."""
    try:
        return HashAlgorithm(name)
    except ValueError:
        raise InvalidSignature(Reason.ALGORITHM_NOT_ALLOWED, f"hash algorithm {name[:64]!r} is not allowed") from None


def check_digest(alg: HashAlgorithm, digest: bytes) -> None:
    """Raise ``MALFORMED`` unless ``digest`` has the length of ``alg``'s digests."""
    if len(digest) != alg.digest_size:
        raise MalformedInput(Reason.MALFORMED, f"a {alg.value} digest is {alg.digest_size} bytes, not {len(digest)}")


def encode_digest_info(alg: HashAlgorithm, digest: bytes) -> bytes:
    """DER ``DigestInfo{digestAlgorithm {alg, NULL}, digest}`` (RFC 8017 §9.2 note 1)."""
    check_digest(alg, digest)
    der: bytes = algos.DigestInfo(
        {"digest_algorithm": {"algorithm": alg.oid, "parameters": core.Null()}, "digest": digest}
    ).dump()
    return der


def parse_digest_info(der: bytes) -> tuple[HashAlgorithm, bytes]:
    """``(algorithm, digest)`` of a DER DigestInfo: allow-listed algorithm, NULL parameters, digest of the
    algorithm's length, exact DER, nothing trailing. Raises ``MALFORMED`` or ``ALGORITHM_NOT_ALLOWED``."""
    if len(der) > _MAX_DIGEST_INFO:
        raise MalformedInput(Reason.MALFORMED, f"DigestInfo of {len(der)} bytes is longer than any allowed")
    try:
        parsed = algos.DigestInfo.load(der, strict=True)
        oid = parsed["digest_algorithm"]["algorithm"].dotted
        digest = parsed["digest"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedInput(Reason.MALFORMED, f"not a DigestInfo: {str(exc)[:200]}") from None
    alg = hash_algorithm_by_oid(oid)
    if not isinstance(digest, bytes):
        raise MalformedInput(Reason.MALFORMED, "DigestInfo digest is not an OCTET STRING")
    check_digest(alg, digest)
    if encode_digest_info(alg, digest) != der:  # rebuilt and compared whole: only the one DER form passes
        raise MalformedInput(Reason.MALFORMED, "DigestInfo is not DER with NULL parameters")
    return alg, digest
