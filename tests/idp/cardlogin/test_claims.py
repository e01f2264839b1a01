"""Claims from the signing certificate's facts, computed at login time (Japan Standard Time), and which card key
an authorization request needs."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from credentials.catalog import age_credential
from credentials.sdjwt import SD
from idp.login.authenticator import ACR_SIGN, required_key
from idp.login.claims import age_at_least, claims_from_facts
from idp.oauth.authorization_request import AuthorizationRequest, parse_claims
from idp.oauth.consent import RELEASABLE_CLAIMS
from keys.x509.facts import BasicFacts, Era, Sex
from keys.x509.profile import Purpose

FACTS = BasicFacts(name="試験\u3000花子", name_substitution="00000", sex=Sex.FEMALE, birth_era=Era.HEISEI,
                   birth_date="2008-02-29", address="東京都千代田区霞が関２丁目１番２号",
                   address_substitution="0" * 17, birth_date_raw="420080229")


def jst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone(dt.timedelta(hours=9)))


def test_claims_from_facts() -> None:
    claims = claims_from_facts(FACTS, jst(2026, 11, 23, 10))
    # exactly the claims the consent page knows, but verified_claims (the signature's evidence: idp.login.assurance)
    assert set(claims) == set(RELEASABLE_CLAIMS) - {"verified_claims"}
    assert claims == {"name": "試験\u3000花子", "birthdate": "2008-02-29", "gender": "female",
                      "address": {"formatted": "東京都千代田区霞が関２丁目１番２号"},
                      "age_over_18": True, "age_over_20": False}


@pytest.mark.parametrize(
    ("at", "over_18"),
    [
        (jst(2026, 2, 28, 23, 59), False),  # 2026 has no 29 February: the birthday falls on 1 March
        (jst(2026, 3, 1, 0, 0), True),
        (dt.datetime(2026, 2, 28, 14, 59, tzinfo=dt.UTC), False),  # 23:59 JST
        (dt.datetime(2026, 2, 28, 15, 0, tzinfo=dt.UTC), True),  # 00:00 JST on 1 March
    ],
)
def test_age_turns_at_the_start_of_the_birthday_in_japan(at: dt.datetime, over_18: bool) -> None:
    assert claims_from_facts(FACTS, at)["age_over_18"] is over_18


@pytest.mark.parametrize("birth", ["2004-02-29", "2008-02-29", "2008-03-01", "2008-01-01", "2007-12-31", "2008-02"])
@pytest.mark.parametrize(
    "at",
    [
        dt.datetime(2026, 2, 28, 14, 59, 59, tzinfo=dt.UTC),  # 28 February 23:59:59 JST, common year
        dt.datetime(2026, 2, 28, 15, 0, tzinfo=dt.UTC),  # 1 March 00:00 JST
        dt.datetime(2024, 2, 28, 15, 0, tzinfo=dt.UTC),  # 29 February 00:00 JST, leap year
        dt.datetime(2028, 2, 29, 15, 0, tzinfo=dt.UTC),
        dt.datetime(2025, 12, 31, 14, 59, tzinfo=dt.UTC),  # New Year's Eve 23:59 JST
        dt.datetime(2025, 12, 31, 15, 0, tzinfo=dt.UTC),  # New Year's Day 00:00 JST
        dt.datetime(2027, 12, 30, 15, 0, tzinfo=dt.UTC),
    ],
)
def test_id_token_and_credential_agree_on_ages(birth: str, at: dt.datetime) -> None:
    """The ``age_over_NN`` claims and the age credential's ``age_equal_or_over`` entries come from one rule."""
    claims = claims_from_facts(dataclasses.replace(FACTS, birth_date=birth), at)
    from_login = {years: claims[f"age_over_{years}"] for years in (18, 20) if f"age_over_{years}" in claims}
    try:
        draft = age_credential(birth, vct="v", at=at, not_after=at + dt.timedelta(days=365))
    except ValueError:  # no threshold decidable: the login leaves them out too
        assert from_login == {}
        return
    age = draft.claims["age_equal_or_over"]
    assert isinstance(age, dict)
    from_credential = {int(k): v.value for k, v in age.items() if isinstance(v, SD)}
    assert from_login == from_credential


@pytest.mark.parametrize(
    ("birth", "today", "expected"),
    [
        ("2006-04-01", dt.date(2024, 4, 1), True),
        ("2006-04-01", dt.date(2024, 3, 31), False),
        ("2006-04", dt.date(2024, 4, 29), None),  # born some day in April 2006
        ("2006-04", dt.date(2024, 4, 30), True),
        ("2006-04", dt.date(2024, 3, 31), False),
        ("2006", dt.date(2024, 6, 1), None),
        ("2006", dt.date(2025, 1, 1), True),
    ],
)
def test_partial_birth_dates_answer_only_when_certain(birth: str, today: dt.date, expected: bool | None) -> None:
    assert age_at_least(birth, 18, today) is expected


def test_partial_dates_and_unknown_sex() -> None:
    facts = dataclasses.replace(FACTS, birth_date="1950-07", sex=Sex.UNKNOWN)
    claims = claims_from_facts(facts, jst(2026, 1, 1))
    assert claims["birthdate"] == "1950"  # OIDC Core §5.1 allows YYYY, not YYYY-MM
    assert "gender" not in claims
    assert claims["age_over_20"] is True


@pytest.mark.parametrize(
    ("scope", "options", "key"),
    [
        ("openid", {}, Purpose.AUTH),
        ("openid email", {}, Purpose.AUTH),
        ("openid address", {}, Purpose.SIGN),
        ("openid profile", {}, Purpose.SIGN),
        ("openid", {"acr_values": ("urn:x", ACR_SIGN)}, Purpose.SIGN),
        ("openid", {"claims": {"userinfo": {"age_over_20": None}}}, Purpose.SIGN),
        ("openid", {"claims": {"id_token": {"auth_time": {"essential": True}}}}, Purpose.AUTH),
    ],
)
def test_which_key_a_request_needs(scope: str, options: dict[str, Any], key: Purpose) -> None:
    if "claims" in options:
        options = {**options, "claims": parse_claims(options["claims"])}
    request = AuthorizationRequest("rp", "https://rp.example/cb", tuple(scope.split()), "c" * 43, **options)
    assert required_key(request) is key
