"""Size and depth limits applied before any parser sees the input.

ASN.1 and JSON parsers are the classic place for resource exhaustion (CVE-2018-0739 recursion,
CVE-2016-2109 huge lengths; verification-hardening.md row 19). Every entry point of the core calls
:func:`check_size` first, so an oversize input is a clear :class:`~keys.errors.LimitExceeded`, never a
hang or a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

from keys.errors import LimitExceeded, Reason


@dataclass(frozen=True, slots=True)
class Limits:
    """Upper bounds on inputs. The defaults are generous for JPKI data and tight for anything else."""

    #: One DER certificate. Real JPKI certificates are ~1.4 KB; 16 KiB leaves room for any sane profile.
    certificate_bytes: int = 16 * 1024
    #: Certificates in a chain passed in (intermediates plus leaf). JPKI paths have two.
    chain_length: int = 8
    #: Path depth for the path builder (pyca ``max_chain_depth``).
    chain_depth: int = 4
    #: One DER CRL. A CRL of 1,000,000 entries is ~40 MB, of 10,000,000 ~400 MB: 1 GiB caps ~25 million entries
    #: (the entries are indexed without per-entry objects, see :mod:`keys.revocation.crl`).
    crl_bytes: int = 1024 * 1024 * 1024
    #: One DER OCSP response.
    ocsp_bytes: int = 64 * 1024
    #: One compact JWS (header.payload.signature).
    jws_bytes: int = 256 * 1024
    #: Nesting depth of decoded JSON objects and arrays.
    json_depth: int = 32
    #: Certificates in an ``x5c`` header.
    x5c_certificates: int = 4
    #: Characters in a PEM bundle (trust directories, CLI input).
    pem_bytes: int = 1024 * 1024


DEFAULT_LIMITS = Limits()


def check_size(data: bytes | str, limit: int, what: str) -> None:
    """Raise :class:`LimitExceeded` when ``data`` is longer than ``limit``."""
    if len(data) > limit:
        raise LimitExceeded(Reason.TOO_LARGE, f"{what} is {len(data)} bytes, limit {limit}")
