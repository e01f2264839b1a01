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
from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class ReleasedFacts:
    """The basic facts a person released for one credential (``None``: not released), values as read.

    ``sex`` is ISO/IEC 5218. A name or address travels with its substitution flags. This is what the issuer keeps
    between the login and the issuance, and nothing more (:meth:`to_json` / :meth:`from_json`).
    """

    name: str | None = None
    name_substitution: str | None = None
    birth_date: str | None = None
    address: str | None = None
    address_substitution: str | None = None
    sex: int | None = None

    @classmethod
    def from_facts(cls, facts: BasicFacts, *, include_sex: bool) -> ReleasedFacts:
        """All four facts of a certificate (sex only when ``include_sex``)."""
        return cls(facts.name, facts.name_substitution, facts.birth_date, facts.address, facts.address_substitution,
                   ISO_5218[facts.sex] if include_sex else None)

    def only(self, *, name: bool, birth_date: bool, address: bool, sex: bool) -> ReleasedFacts:
        """The subset the person approved."""
        return ReleasedFacts(self.name if name else None, self.name_substitution if name else None,
                             self.birth_date if birth_date else None, self.address if address else None,
                             self.address_substitution if address else None, self.sex if sex else None)

    def to_json(self) -> dict[str, Any]:
        """The released facts as a JSON object (absent ones left out)."""
        return {k: v for k, v in ((f, getattr(self, f)) for f in self.__slots__) if v is not None}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ReleasedFacts:
        """What :meth:`to_json` wrote."""
        known = {f: value[f] for f in cls.__slots__ if f in value}
        return cls(**known)

    @property
    def empty(self) -> bool:
        """True when nothing that could go into a basic facts credential was released."""
        return self.name is None and self.birth_date is None and self.address is None and self.sex is None


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
    return released_facts_credential(ReleasedFacts.from_facts(facts, include_sex=include_sex), vct=vct, at=at,
                                     not_after=not_after, lifetime=lifetime)


def released_facts_credential(
    released: ReleasedFacts,
    *,
    vct: str,
    at: dt.datetime,
    not_after: dt.datetime,
    lifetime: dt.timedelta = BASIC_LIFETIME,
) -> CredentialDraft:
    """The basic facts credential holding exactly the facts a person released (at least one)."""
    if released.empty:
        raise ValueError("no fact was released: there is no credential to issue")
    iat, exp = capped_validity(at, lifetime, not_after)
    claims: dict[str, Any] = {}
    if released.name is not None:
        claims["name"] = SD(released.name)
    if released.birth_date is not None:
        claims["birthdate"] = SD(released.birth_date)
    if released.address is not None:
        claims["address"] = SD({"formatted": released.address})
    if released.name_substitution is not None:
        claims["jp_name_substitution"] = SD(released.name_substitution)
    if released.address_substitution is not None:
        claims["jp_address_substitution"] = SD(released.address_substitution)
    if released.sex is not None:
        claims["sex"] = SD(released.sex)
    return CredentialDraft(vct=vct, claims=claims, iat=iat, exp=exp)
