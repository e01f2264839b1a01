"""The credentials this provider issues from a JPKI signing certificate (builders, pure).

Each builder returns a :class:`~credentials.sdjwtvc.CredentialDraft`; :func:`~credentials.sdjwtvc.issue_sd_jwt_vc`
signs it for one Holder key (a fresh key per credential of a batch is the wallet's job)::

    facts, not_after = signing_certificate_facts(validated_path.leaf)
    draft = age_credential(facts.birth_date, vct=age_vct(issuer), at=now, not_after=not_after)
    issued = issue_sd_jwt_vc(draft, signer=signer, holder_jwk=jwk, issuer=issuer, status=reference)
"""

from credentials.catalog.age import AGE_LIFETIME, AGE_THRESHOLDS, age_credential
from credentials.catalog.basic import (
    BASIC_LIFETIME,
    ISO_5218,
    ReleasedFacts,
    basic_facts_credential,
    released_facts_credential,
    signing_certificate_facts,
)


def age_vct(issuer: str) -> str:
    """The ``vct`` of the age credential of ``issuer`` (an https URL, so that type metadata can live there)."""
    return f"{issuer.rstrip('/')}/vct/jp-age"


def basic_facts_vct(issuer: str) -> str:
    """The ``vct`` of the basic facts credential of ``issuer``."""
    return f"{issuer.rstrip('/')}/vct/jp-basic4"


__all__ = [
    "AGE_LIFETIME",
    "AGE_THRESHOLDS",
    "BASIC_LIFETIME",
    "ISO_5218",
    "ReleasedFacts",
    "age_credential",
    "age_vct",
    "basic_facts_credential",
    "basic_facts_vct",
    "released_facts_credential",
    "signing_certificate_facts",
]
