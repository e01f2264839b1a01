"""The Credential Configurations this issuer offers (OpenID4VCI 1.0 §12.2.4 ``credential_configurations_supported``)
and how each one turns a card login into a Credential Dataset and a Credential.

================  ==============  ==========================================================================
configuration     ``vct``         claims (each selectively disclosable)
================  ==============  ==========================================================================
``jp_age``        ``…/vct/jp-age``  ``age_equal_or_over.18``, ``age_equal_or_over.20`` — nothing else
``jp_basic4``     ``…/vct/jp-basic4``  ``name``, ``birthdate``, ``address``, the substitution flags; ``sex``
                                    only when the person opted in
================  ==============  ==========================================================================

The scope value of a configuration is its identifier (HAIP 1.0: a scope for every configuration). The person
approves, on the provider's consent page, the provider claims a configuration is made of
(:attr:`CredentialConfiguration.consent_claims`): ``age_over_18``/``age_over_20`` for the age credential;
``name``, ``birthdate``, ``address`` and ``gender`` (the opt-in for ``sex``) for the basic facts credential.
:meth:`CredentialConfiguration.dataset` keeps only what the approved claims need (the age credential keeps the
birth date to compute the thresholds at issuance, and never discloses it); a configuration with nothing approved
is not granted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from credentials.catalog import age_credential, released_facts_credential
from credentials.catalog.basic import ReleasedFacts
from credentials.sdjwtvc import TYP, CredentialDraft

#: The Credential Format Identifier of SD-JWT VC (OpenID4VCI 1.0 Appendix A.3.1).
FORMAT: Final = TYP
#: Issuer signing algorithms and holder-key proof algorithms (HAIP 1.0: ES256).
SIGNING_ALGORITHMS: Final = ("ES256",)
LOCALES: Final = ("ja", "en")


@dataclass(frozen=True, slots=True)
class ClaimDescription:
    """One claim of a credential type: path, labels (ja, en), whether always present, selective disclosure."""

    path: tuple[str, ...]
    label: tuple[str, str]
    mandatory: bool = False
    sd: Literal["always", "allowed", "never"] = "always"


@dataclass(frozen=True, slots=True)
class CredentialSource:
    """What a signing-certificate login gives the issuer: the four facts as read and the certificate's
    ``notAfter`` (a credential never outlives it). Personal data: kept only until the issuance."""

    facts: ReleasedFacts
    not_after: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """JSON form (``not_after`` in seconds since the epoch)."""
        return {"facts": self.facts.to_json(), "not_after": int(self.not_after.timestamp())}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> CredentialSource:
        """What :meth:`to_json` wrote."""
        return cls(ReleasedFacts.from_json(value["facts"]), dt.datetime.fromtimestamp(int(value["not_after"]), dt.UTC))


@dataclass(frozen=True, slots=True)
class Dataset:
    """A Credential Dataset (OpenID4VCI 1.0 §3.3.4): what one configuration will hold for one person."""

    configuration_id: str
    facts: ReleasedFacts
    not_after: dt.datetime
    thresholds: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON form (personal data: stored encrypted, deleted once issued)."""
        return {"configuration_id": self.configuration_id, "facts": self.facts.to_json(),
                "not_after": int(self.not_after.timestamp()), "thresholds": list(self.thresholds)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Dataset:
        """What :meth:`to_json` wrote."""
        return cls(str(value["configuration_id"]), ReleasedFacts.from_json(value["facts"]),
                   dt.datetime.fromtimestamp(int(value["not_after"]), dt.UTC),
                   tuple(int(t) for t in value.get("thresholds") or ()))


@dataclass(frozen=True, slots=True)
class CredentialConfiguration:
    """One entry of ``credential_configurations_supported``."""

    id: str
    kind: Literal["age", "basic"]
    vct_name: str
    name: tuple[str, str]
    description: tuple[str, str]
    claims: tuple[ClaimDescription, ...]
    consent_claims: tuple[str, ...]
    #: Which consent claim releases the claim at a path (for ``claims`` in authorization details, §5.1.1).
    claim_consent: Mapping[tuple[str, ...], str]
    background_color: str
    text_color: str = "#FFFFFF"

    @property
    def scope(self) -> str:
        """The scope value requesting this configuration (OpenID4VCI 1.0 §5.1.2)."""
        return self.id

    def vct(self, issuer: str) -> str:
        """The ``vct`` of this configuration at ``issuer``: an https URL where its type metadata lives."""
        return f"{issuer.rstrip('/')}/vct/{self.vct_name}"

    def consent_for(self, paths: Collection[tuple[str, ...]] | None) -> tuple[str, ...]:
        """The consent claims to ask for when the wallet asked for the claims at ``paths`` (all when ``None``;
        paths this type does not have are ignored)."""
        if paths is None:
            return self.consent_claims
        wanted = {name for path in paths for name in self.claim_consent.get(path, "").split()}
        return tuple(c for c in self.consent_claims if c in wanted)

    def dataset(self, source: CredentialSource, approved: Collection[str]) -> Dataset | None:
        """The dataset for the claims the person approved, or ``None`` when nothing was approved."""
        chosen = set(approved) & set(self.consent_claims)
        if self.kind == "age":
            thresholds = tuple(sorted(int(c.removeprefix("age_over_")) for c in chosen))
            if not thresholds or source.facts.birth_date is None:
                return None
            return Dataset(self.id, ReleasedFacts(birth_date=source.facts.birth_date), source.not_after, thresholds)
        facts = source.facts.only(name="name" in chosen, birth_date="birthdate" in chosen,
                                  address="address" in chosen, sex="gender" in chosen)
        return None if facts.empty else Dataset(self.id, facts, source.not_after)

    def draft(self, dataset: Dataset, *, issuer: str, at: dt.datetime, lifetime: dt.timedelta) -> CredentialDraft:
        """The unsigned credential for ``dataset``, issued at ``at``."""
        if dataset.configuration_id != self.id:
            raise ValueError("the dataset belongs to another configuration")
        if self.kind == "age":
            if dataset.facts.birth_date is None:
                raise ValueError("an age dataset holds the birth date")
            return age_credential(dataset.facts.birth_date, vct=self.vct(issuer), at=at, not_after=dataset.not_after,
                                  lifetime=lifetime, thresholds=dataset.thresholds)
        return released_facts_credential(dataset.facts, vct=self.vct(issuer), at=at, not_after=dataset.not_after,
                                         lifetime=lifetime)


AGE: Final = CredentialConfiguration(
    id="jp_age",
    kind="age",
    vct_name="jp-age",
    name=("年齢確認", "Age verification"),
    description=("マイナンバーカードの署名用電子証明書の生年月日から、18歳以上・20歳以上かどうかだけを示します。",
                 "Shows only whether you are 18 or older and 20 or older, from the birth date in your My Number "
                 "card's signing certificate."),
    claims=(
        ClaimDescription(("age_equal_or_over",), ("年齢", "Age"), sd="never"),
        ClaimDescription(("age_equal_or_over", "18"), ("18歳以上", "18 or older")),
        ClaimDescription(("age_equal_or_over", "20"), ("20歳以上", "20 or older")),
    ),
    consent_claims=("age_over_18", "age_over_20"),
    claim_consent={("age_equal_or_over",): "age_over_18 age_over_20", ("age_equal_or_over", "18"): "age_over_18",
                   ("age_equal_or_over", "20"): "age_over_20"},
    background_color="#1F4E79",
)

BASIC4: Final = CredentialConfiguration(
    id="jp_basic4",
    kind="basic",
    vct_name="jp-basic4",
    name=("基本4情報", "Basic facts"),
    description=("マイナンバーカードの署名用電子証明書に記録された氏名・生年月日・住所（性別は希望した場合のみ）。",
                 "Name, date of birth and address as recorded in your My Number card's signing certificate "
                 "(sex only if you choose to include it)."),
    claims=(
        ClaimDescription(("name",), ("氏名", "Name")),
        ClaimDescription(("birthdate",), ("生年月日", "Date of birth")),
        ClaimDescription(("address",), ("住所", "Address")),
        ClaimDescription(("address", "formatted"), ("住所", "Address"), sd="never"),
        ClaimDescription(("sex",), ("性別", "Sex")),
        ClaimDescription(("jp_name_substitution",), ("氏名の代替文字の位置", "Substitute characters in the name")),
        ClaimDescription(("jp_address_substitution",),
                         ("住所の代替文字の位置", "Substitute characters in the address")),
    ),
    consent_claims=("name", "birthdate", "address", "gender"),
    claim_consent={("name",): "name", ("jp_name_substitution",): "name", ("birthdate",): "birthdate",
                   ("address",): "address", ("address", "formatted"): "address",
                   ("jp_address_substitution",): "address", ("sex",): "gender"},
    background_color="#2E5E3E",
)

#: Every configuration, by identifier.
CONFIGURATIONS: Final[Mapping[str, CredentialConfiguration]] = {c.id: c for c in (AGE, BASIC4)}
#: The scope values that request a credential.
CREDENTIAL_SCOPES: Final = tuple(c.scope for c in CONFIGURATIONS.values())


def by_scope(scope: Collection[str]) -> tuple[CredentialConfiguration, ...]:
    """The configurations the scope values name (unknown values are ignored, §5.1.2)."""
    return tuple(c for c in CONFIGURATIONS.values() if c.scope in scope)


__all__ = ["AGE", "BASIC4", "CONFIGURATIONS", "CREDENTIAL_SCOPES", "FORMAT", "LOCALES", "SIGNING_ALGORITHMS",
           "ClaimDescription", "CredentialConfiguration", "CredentialSource", "Dataset", "by_scope"]
