"""The basic facts credential (基本4情報) from a JPKI signing certificate.

Claims, each selectively disclosable, values exactly as read from the certificate (no normalisation: a 外字
substitute stays what the card says, and the flags tell where):

* ``name`` — 氏名, U+3000 between surname and given name as on the card;
* ``birthdate`` — ISO 8601 (``YYYY-MM-DD``, or ``YYYY-MM`` / ``YYYY`` when the card has zeros);
* ``address`` — ``{"formatted": 住所}``;
* ``sex`` — ISO/IEC 5218 (1 male, 2 female, 0 not known), only when the holder opted in;
* ``jp_name_substitution`` / ``jp_address_substitution`` — one ``0``/``1`` digit per character (1 = 代替文字).

Never the My Number (the JPKI AP has none), the certificate, its serial or hash. The short default lifetime
reflects that addresses change; ``exp`` never passes the certificate's ``notAfter``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509

from credentials.catalog.validity import capped_validity
from credentials.sdjwt.issue import SD
from credentials.sdjwtvc import CredentialDraft
from keys.x509.facts import BasicFacts, Sex, decode_basic_facts

#: Default lifetime of a basic facts credential (before the certificate cap).
BASIC_LIFETIME = dt.timedelta(days=30)
#: JPKI 性別 code to ISO/IEC 5218.
ISO_5218 = {Sex.MALE: 1, Sex.FEMALE: 2, Sex.UNKNOWN: 0}


def signing_certificate_facts(certificate: x509.Certificate) -> tuple[BasicFacts, dt.datetime]:
    """The two things a credential may take from a (validated) signing certificate: the decoded facts and
    ``notAfter``. Nothing else of the certificate reaches a credential."""
    return decode_basic_facts(certificate), certificate.not_valid_after_utc


def basic_facts_credential(
    facts: BasicFacts,
    *,
    vct: str,
    at: dt.datetime,
    not_after: dt.datetime,
    include_sex: bool = False,
    lifetime: dt.timedelta = BASIC_LIFETIME,
) -> CredentialDraft:
    """The basic facts credential for ``facts``, issued at ``at`` from a certificate valid until ``not_after``."""
    iat, exp = capped_validity(at, lifetime, not_after)
    claims: dict[str, Any] = {
        "name": SD(facts.name),
        "birthdate": SD(facts.birth_date),
        "address": SD({"formatted": facts.address}),
        "jp_name_substitution": SD(facts.name_substitution),
        "jp_address_substitution": SD(facts.address_substitution),
    }
    if include_sex:
        claims["sex"] = SD(ISO_5218[facts.sex])
    return CredentialDraft(vct=vct, claims=claims, iat=iat, exp=exp)
