"""Size and depth limits for credentials, applied before any parser sees the input.

An SD-JWT multiplies the JWT attack surface: many small JSON documents (the Disclosures) and digests that can
nest Disclosures inside Disclosures. A Status List is a compressed array: its decompressed size is bounded
before decompression finishes (a zlib bomb is a clear ``too_large``, never memory exhaustion).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keys.limits import DEFAULT_LIMITS, Limits


@dataclass(frozen=True, slots=True)
class CredentialLimits:
    """Upper bounds on credential inputs. The defaults fit real credentials with a wide margin."""

    #: One compact SD-JWT or SD-JWT+KB, all parts and separators included.
    sd_jwt_chars: int = 256 * 1024
    #: Disclosures in one SD-JWT.
    disclosures: int = 256
    #: Characters of one encoded Disclosure.
    disclosure_chars: int = 16 * 1024
    #: Nesting depth of the processed payload, Disclosures inside Disclosures included.
    depth: int = 32
    #: Limits for the JOSE layer (Issuer-signed JWT, KB-JWT).
    jose: Limits = field(default_factory=lambda: DEFAULT_LIMITS)
    #: Decompressed bytes of one Status List (2^26 one-bit entries = 8 MiB).
    status_list_bytes: int = 8 * 1024 * 1024
    #: Limits for Status List Tokens, whose compressed lists may be larger than an ordinary JWT.
    status_jose: Limits = field(default_factory=lambda: Limits(jws_bytes=4 * 1024 * 1024))


DEFAULT_CREDENTIAL_LIMITS = CredentialLimits()
