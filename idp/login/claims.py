"""OpenID Connect claims from the 4 basic facts of a signing certificate (OIDC Core 1.0 §5.1), computed at login.

============  ==================================================================================================
claim         value
============  ==================================================================================================
``name``      the name as certified (surname, U+3000, given name; 代替文字 as the certificate has them)
``birthdate`` ``YYYY-MM-DD``; ``YYYY`` when the certificate gives only the year or year and month (§5.1 allows
              ``YYYY``, not ``YYYY-MM``)
``gender``    ``male`` / ``female``; absent when the certificate says 3 (unknown)
``address``   ``{"formatted": address}`` (§5.1.1), from the prefecture, as certified
``age_over_18``, ``age_over_20``  true or false at the login time in Japan Standard Time; absent when a partial
              birth date leaves the answer open. A person reaches an age at the start of the birthday (年齢計算ニ
              関スル法律 with 民法 §143: the year ends at the end of the day before; a 29 February birthday falls on
              1 March in common years).
============  ==================================================================================================

These are personal data: they live in the interaction until the person has consented, and are released to a
relying party per claim only with consent. Nothing here is logged.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any, Final

from keys.x509.facts import BasicFacts, Sex

JST: Final = dt.timezone(dt.timedelta(hours=9), "JST")
#: The ages answered (``age_over_NN``).
AGES: Final = (18, 20)
_GENDER: Final = {Sex.MALE: "male", Sex.FEMALE: "female"}


def _anniversary(year: int, month: int, day: int) -> dt.date:
    """The date a person born on ``month``/``day`` turns a year older in ``year`` (29 Feb → 1 Mar)."""
    if day > calendar.monthrange(year, month)[1]:
        return dt.date(year, month + 1, 1)
    return dt.date(year, month, day)


def _birth_range(birth_date: str) -> tuple[dt.date, dt.date]:
    """The earliest and latest birth dates an ISO date, ``YYYY-MM`` or ``YYYY`` allows."""
    parts = [int(p) for p in birth_date.split("-")]
    if len(parts) == 3:
        day = dt.date(*parts)
        return day, day
    if len(parts) == 2:
        year, month = parts
        return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    return dt.date(parts[0], 1, 1), dt.date(parts[0], 12, 31)


def age_at_least(birth_date: str, years: int, today: dt.date) -> bool | None:
    """Whether someone born on ``birth_date`` is at least ``years`` old on ``today`` (``None``: cannot tell)."""
    earliest, latest = _birth_range(birth_date)
    if today >= _anniversary(latest.year + years, latest.month, latest.day):
        return True
    if today < _anniversary(earliest.year + years, earliest.month, earliest.day):
        return False
    return None


def claims_from_facts(facts: BasicFacts, at: dt.datetime) -> dict[str, Any]:
    """The releasable claims of ``facts`` at the login time ``at``."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    claims: dict[str, Any] = {
        "name": facts.name,
        "birthdate": facts.birth_date if len(facts.birth_date) == 10 else facts.birth_date[:4],
        "address": {"formatted": facts.address},
    }
    if facts.sex in _GENDER:
        claims["gender"] = _GENDER[facts.sex]
    today = at.astimezone(JST).date()
    for years in AGES:
        answer = age_at_least(facts.birth_date, years, today)
        if answer is not None:
            claims[f"age_over_{years}"] = answer
    return claims


__all__ = ["AGES", "JST", "age_at_least", "claims_from_facts"]
