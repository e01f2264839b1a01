"""The credentials we issue from a JPKI signing certificate: the age credential (only age predicates, capped by
the next birthday that would change one) and the basic facts credential (raw values, sex opt-in, never the
certificate or its serial); validity never outlasts the certificate."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from credentials.catalog import (
    age_credential,
    age_vct,
    basic_facts_credential,
    basic_facts_vct,
    signing_certificate_facts,
)
from credentials.catalog.validity import JST, age_at_least, age_on, anniversary, birth_date_bounds, capped_validity
from credentials.sdjwt import SD, HeldSdJwt
from credentials.sdjwtvc import issue_sd_jwt_vc
from keys.service.signer import SoftwareSigner
from keys.testpki import HolderFacts, issue_card_certificate, make_root
from keys.x509.facts import BasicFacts
from keys.x509.profile import Purpose

from .conftest import ISSUER, NOW, signer_jwk

NOT_AFTER = NOW + dt.timedelta(days=4 * 365)


def entries(draft_claims: dict[str, object]) -> dict[str, object]:
    age = draft_claims["age_equal_or_over"]
    assert isinstance(age, dict)
    assert all(isinstance(v, SD) for v in age.values())
    return {k: v.value for k, v in age.items()}


@pytest.mark.parametrize(
    ("birth", "expected"),
    [
        ("2000-01-01", {"18": True, "20": True}),
        ("2008-11-23", {"18": True, "20": False}),   # 18th birthday today (JST)
        ("2008-11-24", {"18": False, "20": False}),  # tomorrow
        ("2010-05-05", {"18": False, "20": False}),
        ("2008", {"20": False}),                     # 18 undecidable in 2026 without the month
        ("2008-10", {"18": True, "20": False}),
        ("1990", {"18": True, "20": True}),
    ],
)
def test_age_entries(birth: str, expected: dict[str, bool]) -> None:
    draft = age_credential(birth, vct=age_vct(ISSUER), at=NOW, not_after=NOT_AFTER)
    assert entries(dict(draft.claims)) == expected
    assert set(draft.claims) == {"age_equal_or_over"}  # nothing else about the person
    assert draft.vct == "https://id.example.jp/vct/jp-age"


def test_age_turns_at_midnight_jst() -> None:
    """NOW is 2026-11-23 03:00 UTC = 12:00 JST; a birthday on the 24th JST is not reached yet."""
    late = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # 00:00 JST on the 24th
    assert entries(dict(age_credential("2008-11-24", vct="v", at=late, not_after=NOT_AFTER).claims))["18"] is True
    early = late - dt.timedelta(seconds=1)
    assert entries(dict(age_credential("2008-11-24", vct="v", at=early, not_after=NOT_AFTER).claims))["18"] is False


def test_false_entries_cap_exp_at_the_birthday() -> None:
    three_years = dt.timedelta(days=3 * 365)
    draft = age_credential("2008-03-10", vct="v", at=NOW, not_after=NOT_AFTER, lifetime=three_years)
    assert entries(dict(draft.claims)) == {"18": True, "20": False}
    assert draft.exp == dt.datetime(2028, 3, 10, tzinfo=JST)
    assert age_credential("2008-03-10", vct="v", at=NOW, not_after=NOT_AFTER).exp == NOW + dt.timedelta(days=365)
    young = age_credential("2010-01-15", vct="v", at=NOW, not_after=NOT_AFTER, lifetime=three_years)
    assert young.exp == dt.datetime(2028, 1, 15, tzinfo=JST)  # the 18th birthday comes first


def test_exp_never_outlasts_the_certificate() -> None:
    soon = NOW + dt.timedelta(days=10)
    assert age_credential("1990-01-01", vct="v", at=NOW, not_after=soon).exp == soon
    assert basic_facts_credential(facts(), vct="v", at=NOW, not_after=soon).exp == soon
    with pytest.raises(ValueError, match="expired"):
        age_credential("1990-01-01", vct="v", at=NOW, not_after=NOW)


def test_leap_day_birthdays() -> None:
    born = dt.date(2004, 2, 29)
    assert anniversary(born, 18) == dt.date(2022, 3, 1)
    assert age_on(born, dt.date(2022, 2, 28)) == 17
    assert age_on(born, dt.date(2022, 3, 1)) == 18
    assert anniversary(born, 20) == dt.date(2024, 2, 29)


@pytest.mark.parametrize(
    ("birth", "at"),
    [
        ("2008-02-29", dt.datetime(2026, 2, 28, 14, 59, 59, tzinfo=dt.UTC)),  # 23:59:59 JST, 28 February
        ("2008-02-29", dt.datetime(2026, 2, 28, 15, 0, tzinfo=dt.UTC)),  # 00:00 JST, 1 March (common year)
        ("2004-02-29", dt.datetime(2024, 2, 28, 15, 0, tzinfo=dt.UTC)),  # 00:00 JST, 29 February (leap year)
        ("2004-02-29", dt.datetime(2024, 2, 28, 14, 59, tzinfo=dt.UTC)),
        ("2008-01-01", dt.datetime(2025, 12, 31, 14, 59, tzinfo=dt.UTC)),  # New Year's Eve, 23:59 JST
        ("2008-01-01", dt.datetime(2025, 12, 31, 15, 0, tzinfo=dt.UTC)),  # New Year's Day, 00:00 JST
        ("2007-12-31", dt.datetime(2025, 12, 30, 15, 0, tzinfo=dt.UTC)),
        ("2008-02", dt.datetime(2026, 2, 28, 15, 0, tzinfo=dt.UTC)),  # every day of February 2008 has passed
        ("2008", dt.datetime(2026, 12, 31, 15, 0, tzinfo=dt.UTC)),
    ],
)
def test_entries_follow_the_one_age_rule(birth: str, at: dt.datetime) -> None:
    """The credential's entries are exactly what :func:`age_at_least` (the provider's rule too) answers."""
    draft = age_credential(birth, vct="v", at=at, not_after=at + dt.timedelta(days=365))
    today = at.astimezone(JST).date()
    expected = {str(years): answer for years in (18, 20) if (answer := age_at_least(birth, years, today)) is not None}
    assert entries(dict(draft.claims)) == expected


def test_partial_birth_dates() -> None:
    assert birth_date_bounds("2000-02") == (dt.date(2000, 2, 1), dt.date(2000, 2, 29))
    assert birth_date_bounds("1999") == (dt.date(1999, 1, 1), dt.date(1999, 12, 31))
    with pytest.raises(ValueError, match="ISO 8601"):
        birth_date_bounds("1999-01-02-03")
    with pytest.raises(ValueError, match="imprecise"):
        age_credential("2008", vct="v", at=NOW, not_after=NOT_AFTER, thresholds=(18,))


def test_capped_validity_checks() -> None:
    with pytest.raises(ValueError, match="positive"):
        capped_validity(NOW, dt.timedelta(0), NOT_AFTER)
    with pytest.raises(ValueError, match="timezone"):
        capped_validity(NOW.replace(tzinfo=None), dt.timedelta(days=1), NOT_AFTER)


def facts() -> BasicFacts:
    from keys.x509.facts import Era, Sex

    return BasicFacts(name="山田\u3000太郎", name_substitution="01000", sex=Sex.FEMALE, birth_era=Era.HEISEI,
                      birth_date="1995-06", address="東京都港区芝公園四丁目", address_substitution="0000000000",
                      birth_date_raw="419950600")


def test_basic_facts_claims() -> None:
    draft = basic_facts_credential(facts(), vct=basic_facts_vct(ISSUER), at=NOW, not_after=NOT_AFTER)
    claims = dict(draft.claims)
    assert all(isinstance(v, SD) for v in claims.values())
    values = {k: v.value for k, v in claims.items() if isinstance(v, SD)}
    assert values == {
        "name": "山田\u3000太郎", "birthdate": "1995-06", "address": {"formatted": "東京都港区芝公園四丁目"},
        "jp_name_substitution": "01000", "jp_address_substitution": "0000000000",
    }
    assert draft.exp == NOW + dt.timedelta(days=30)
    assert draft.vct == "https://id.example.jp/vct/jp-basic4"


def test_sex_only_when_opted_in() -> None:
    with_sex = basic_facts_credential(facts(), vct="v", at=NOW, not_after=NOT_AFTER, include_sex=True)
    sex = with_sex.claims["sex"]
    assert isinstance(sex, SD)
    assert sex.value == 2


def test_from_a_real_profile_signing_certificate(issuer_signer: SoftwareSigner) -> None:
    """End to end from a JPKI-profile signing certificate: nothing of the certificate but the facts and
    notAfter reaches the credential."""
    root = make_root(Purpose.SIGN, 3)
    card_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = issue_card_certificate(root, card_key.public_key(), not_before=NOW - dt.timedelta(days=1),
                                  not_after=NOW + dt.timedelta(days=100), facts=HolderFacts())
    read, not_after = signing_certificate_facts(cert)
    assert not_after == cert.not_valid_after_utc
    holder = ec.generate_private_key(ec.SECP256R1())
    for draft in (
        basic_facts_credential(read, vct="v", at=NOW, not_after=not_after, include_sex=True,
                               lifetime=dt.timedelta(days=365)),
        age_credential(read.birth_date, vct="v", at=NOW, not_after=not_after),
    ):
        assert draft.exp <= cert.not_valid_after_utc
        issued = issue_sd_jwt_vc(draft, signer=issuer_signer, holder_jwk=signer_jwk(
            SoftwareSigner(holder, "ES256", "h")), issuer=ISSUER)
        everything = json.dumps(dict(HeldSdJwt.parse(issued.compact).claims), ensure_ascii=False) + issued.compact
        der = cert.public_bytes(Encoding.DER)
        assert str(cert.serial_number) not in everything
        assert format(cert.serial_number, "x") not in everything
        assert der.hex() not in everything
        assert "MII" not in issued.compact
    basic = HeldSdJwt.parse(issue_sd_jwt_vc(
        basic_facts_credential(read, vct="v", at=NOW, not_after=not_after), signer=issuer_signer,
        holder_jwk=signer_jwk(SoftwareSigner(holder, "ES256", "h")), issuer=ISSUER).compact)
    assert basic.claims["name"] == "試験\u3000太郎"
    assert basic.claims["birthdate"] == "1980-04-01"
